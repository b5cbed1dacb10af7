// ferry hosts: every agent of the inventory, its versions, its disk, its certificate, and the
// containers it knows to be in trouble.
import { FerryError } from '../../common/errors.ts';
import { describeRoute } from '../../common/ssh/tunnels.ts';
import type { Dialer } from '../../common/dial.ts';
import type { Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';
import { formatBytes } from '../render.ts';

export async function runHosts(inventory: Inventory, dialer: Dialer, io: Output): Promise<number> {
  if (!inventory.hosts.size) usage('the inventory has no hosts (pass --inventory FILE)');
  const rows = await Promise.all(
    [...inventory.hosts.values()].map(async (host) => {
      const via = host.ssh ? `ssh ${describeRoute(host.ssh)}` : host.agent;
      let agent;
      try {
        agent = await dialer.agent(host);
        const info = await agent.info({ timeoutMs: 10_000 });
        return { host: host.name, agent: host.agent, via, ok: true, info };
      } catch (error) {
        return { host: host.name, agent: host.agent, via, ok: false, error: FerryError.from(error) };
      } finally {
        agent?.close();
      }
    }),
  );
  if (io.json) {
    io.out(JSON.stringify({ event: 'hosts', hosts: rows }));
  } else {
    for (const row of rows) {
      if (row.ok && 'info' in row && row.info) {
        const i = row.info;
        io.out(
          `${row.host.padEnd(8)} ${row.via.padEnd(22)} up  podman ${i.podmanVersion} ${i.ociRuntime} ${i.runcVersion} criu ${i.criuVersion}` +
            ` check ${i.criuCheckOk ? 'ok' : 'FAILS'} pre-copy ${i.dirtyTracking ? 'yes' : 'no'} free ${formatBytes(Number(i.freeDiskBytes))}` +
            ` cert ${i.certNotAfter ? `until ${i.certNotAfter.slice(0, 10)}` : 'NONE (plaintext)'}`,
        );
        for (const problem of i.problems) io.out(`${''.padEnd(8)} !! ${problem}`);
      } else {
        io.out(`${row.host.padEnd(8)} ${row.via.padEnd(22)} DOWN ${'error' in row && row.error ? row.error.message : ''}`);
      }
    }
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}
