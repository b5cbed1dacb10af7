// ferry evacuate: every running container of one host, moved one after the other.
import { FerryError } from '../../common/errors.ts';
import type { Dialer } from '../../common/dial.ts';
import type { HostEntry, Inventory } from '../inventory.ts';
import { migrate } from '../migrate.ts';
import { endpoints, migrationSettings, type Values } from '../options.ts';
import { interruptible, renderer, report, usage, type Output } from '../output.ts';

export async function runEvacuate(inventory: Inventory, dialer: Dialer, values: Values, rest: string[], io: Output): Promise<number> {
  if (rest.length) usage(`evacuate takes no container names (got ${rest.join(' ')}); it moves every running container`);
  const { from, to } = endpoints(inventory, values);
  const settings = migrationSettings(values);
  const source = await dialer.agent(from);
  let containers;
  try {
    containers = (await source.list(false)).filter((c) => c.state === 'running');
  } finally {
    source.close();
  }
  const interrupt = interruptible(io);
  let failed = 0;
  try {
    for (const [index, container] of containers.entries()) {
      if (interrupt.signal.aborted) break;
      const target = to[index % to.length] as HostEntry;
      try {
        await migrate({ from, to: target, container: container.name, ...settings, signal: interrupt.signal, dialer }, renderer(io));
      } catch (error) {
        failed += 1;
        const failure = FerryError.from(error);
        if (failure.code === 'ROLLBACK_FAILED') return report(failure, io);
      }
    }
  } finally {
    interrupt.dispose();
  }
  const moved = containers.length - failed;
  if (io.json) io.out(JSON.stringify({ event: 'evacuated', host: from.name, moved, failed, total: containers.length }));
  else io.out(`evacuate   ${from.name}: ${moved} of ${containers.length} running containers moved${failed ? `, ${failed} failed and stayed` : ''}`);
  return failed ? 1 : 0;
}
