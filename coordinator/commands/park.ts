// ferry park HOST / ferry unpark HOST: the reboot of a host with no spare host beside it. park
// checkpoints its running containers to its own disk (stopping them); after the reboot the agent
// restores them by itself when it starts, or unpark does, and each is verified before its
// checkpoint goes.
import type { Dialer } from '../../common/dial.ts';
import { resolveHost, type Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';

export async function runPark(inventory: Inventory, dialer: Dialer, method: 'park' | 'unpark', rest: string[], io: Output): Promise<number> {
  const [name, ...containers] = rest;
  if (!name) usage(`ferry ${method} HOST [CONTAINER...]`);
  const host = resolveHost(inventory, name);
  const agent = await dialer.agent(host);
  let failed = 0;
  let total = 0;
  try {
    for await (const result of agent.parking(method, containers)) {
      total += 1;
      if (!result.ok) failed += 1;
      if (io.json) io.out(JSON.stringify({ event: method, host: host.name, ...result }));
      else io.out(`${method.padEnd(10)} ${host.name}: ${result.container}: ${result.ok ? '' : 'FAILED '}${result.outcome} (${(Number(result.ms) / 1000).toFixed(1)} s)`);
    }
  } finally {
    agent.close();
  }
  const done = method === 'park' ? 'parked' : 'restored';
  if (io.json) io.out(JSON.stringify({ event: `${method}-done`, host: host.name, total, failed }));
  else if (!total) io.out(`${method.padEnd(10)} ${host.name}: nothing to ${method}`);
  else io.out(`${method.padEnd(10)} ${host.name}: ${total - failed} of ${total} ${done}${failed ? `, ${failed} failed (each still runs, or stays parked with its checkpoint)` : ''}`);
  return failed ? 1 : 0;
}
