// ferry return HOST: every container an evacuation took from HOST goes back to it
// (coordinator/evacuate/return.ts). Parses and renders only; the table is evacuate's.
import type { Dialer } from '../../common/dial.ts';
import { returnHome } from '../evacuate/return.ts';
import { resolveHost, sameHost, type Inventory } from '../inventory.ts';
import { migrationSettings, type Values } from '../options.ts';
import { usage, type Output } from '../output.ts';
import { parseParallel, runBatch } from './evacuate.ts';

export async function runReturn(inventory: Inventory, dialer: Dialer, values: Values, rest: string[], io: Output): Promise<number> {
  if (rest.length !== 1) usage('ferry return HOST [--parallel N] [--dry-run]');
  if (values.from || values.to) usage('ferry return takes no --from or --to: it asks every host of the inventory, and moves back to HOST');
  const home = resolveHost(inventory, rest[0] as string);
  const others = [...inventory.hosts.values()].filter((h) => !sameHost(h, home));
  const settings = migrationSettings(values);
  const parallel = parseParallel(values.parallel);
  return runBatch(io, (render, signal) => returnHome({ home, others, parallel, settings, signal, dialer }, render));
}
