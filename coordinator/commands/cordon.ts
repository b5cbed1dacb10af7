// ferry cordon HOST [--reason TEXT] / ferry uncordon HOST: the host's agent keeps the mark
// (agent/fleet/cordon.ts), so every coordinator sees it: placement leaves the host out, and it
// refuses migrations unless forced.
import type { Dialer } from '../../common/dial.ts';
import { describeCordon } from '../../common/cordon.ts';
import { resolveHost, type Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';

export async function runCordon(inventory: Inventory, dialer: Dialer, command: 'cordon' | 'uncordon', rest: string[], reason: string | undefined, io: Output): Promise<number> {
  if (rest.length !== 1) usage(`ferry ${command} HOST${command === 'cordon' ? ' [--reason TEXT]' : ''}`);
  if (command === 'uncordon' && reason !== undefined) usage('--reason is for ferry cordon');
  const host = resolveHost(inventory, rest[0] as string);
  const agent = await dialer.agent(host);
  try {
    const state = await agent.cordon(command === 'cordon', reason ?? '');
    if (io.json) io.out(JSON.stringify({ event: command, host: host.name, ...state }));
    else if (state.cordoned) io.out(`${describeCordon(host.name, state)}: placement leaves it out, and it takes no migration without --force`);
    else io.out(`${host.name} is not cordoned: it takes migrations again`);
    return 0;
  } finally {
    agent.close();
  }
}
