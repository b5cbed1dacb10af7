// npm run bench -- --scenario wan: the move to another site, over a slow link (hostB's link shaped
// to 40 ms of round trip and 100 Mbit/s with scripts/lab link), Ferry against the manual pipeline
// in the same run, for Redis holding compressible and random values: the client's outage and the
// whole move's time. Run alone (--scenario wan) it is an SSH-only lab, as between datacenters:
// Ferry's agents reach each other through SSH tunnels, the manual pipeline copies the archive
// with scp.
import { measure, mean, NAME, PORT, type Run } from './compare.ts';
import { fillRedis, lab, ratio, redisRss, startRedis, type Lab } from './lab.ts';

const RATE_MBIT = 100;
const RTT_MS = 40;

export async function wan(labInfo: Lab, megabytes: number): Promise<void> {
  const via = labInfo.ssh ? 'agents over SSH tunnels; manual: checkpoint, scp, restore' : 'agents direct; manual: checkpoint, TLS pipe, restore';
  console.log(`\n== wan: hostB's link at ${RTT_MS} ms round trip and ${RATE_MBIT} Mbit/s, Redis holding ${megabytes} MB, ferry (--compress auto) vs the manual pipeline (podman's zstd); ${via}`);
  const rows: string[] = [];
  await lab('link', 'hostB', '--delay', String(RTT_MS), '--rate', String(RATE_MBIT));
  try {
    for (const compressible of [true, false]) {
      await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
      await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
      await startRedis('hostA', NAME, PORT);
      await fillRedis(labInfo.ip.hostA ?? '', PORT, megabytes, 4096, compressible);
      const rss = await redisRss(labInfo.ip.hostA ?? '', PORT);
      const runs: Array<Run & { totalMs: number }> = [];
      for (const order of [['ferry', 'manual'], ['manual', 'ferry']] as Array<Array<Run['how']>>) {
        for (const [how, from, to] of [[order[0], 'hostA', 'hostB'], [order[1], 'hostB', 'hostA']] as Array<[Run['how'], string, string]>) {
          const started = performance.now();
          const run = await measure(labInfo, how, from, to);
          runs.push({ ...run, totalMs: performance.now() - started });
        }
      }
      const of = (how: Run['how']) => runs.filter((r) => r.how === how);
      const outage = (how: Run['how']) => mean(of(how).map((r) => r.outageMs));
      const total = (how: Run['how']) => mean(of(how).map((r) => r.totalMs));
      rows.push(
        `| ${compressible ? 'compressible' : 'random hex'} (RSS ${rss}) | ${outage('ferry').toFixed(0)} ms | ${outage('manual').toFixed(0)} ms | **${ratio(outage('ferry'), outage('manual'))}** ` +
          `| ${total('ferry').toFixed(0)} ms | ${total('manual').toFixed(0)} ms | **${ratio(total('ferry'), total('manual'))}** | ${(of('ferry')[0]?.archiveBytes ?? 0) > 0 ? `${((of('ferry')[0]?.archiveBytes ?? 0) / 1048576).toFixed(0)} MiB` : '?'} |`,
      );
    }
  } finally {
    await lab('link', 'hostB', '--clear');
    await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
    await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
  }
  console.log('\n| Redis data | client outage, ferry | client outage, manual | ferry / manual | whole move, ferry | whole move, manual | ferry / manual | ferry\'s archive |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  console.log('\nmeans of four moves each (hostA -> hostB and back, both orders); whole move: from the command to its end.');
}
