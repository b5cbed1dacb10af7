// ferry ps HOST: the containers of one host, as its agent sees them.
import type { Dialer } from '../../common/dial.ts';
import { resolveHost, type Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';

export async function runPs(inventory: Inventory, dialer: Dialer, rest: string[], io: Output): Promise<number> {
  if (rest.length !== 1) usage('ferry ps HOST');
  const host = resolveHost(inventory, rest[0] as string);
  const agent = await dialer.agent(host);
  try {
    const containers = await agent.list(true);
    if (io.json) {
      io.out(JSON.stringify({ event: 'containers', host: host.name, containers }));
    } else {
      for (const c of containers) {
        const ports = c.ports.map((p) => `${p.hostPort}->${p.containerPort}/${p.protocol}`).join(',');
        io.out(`${c.id.slice(0, 12)}  ${c.name.padEnd(20)} ${c.state.padEnd(8)} ${c.image} ${ports}${c.problem ? `  !! ${c.problem}` : ''}`);
      }
    }
    return 0;
  } finally {
    agent.close();
  }
}
