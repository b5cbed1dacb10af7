// npm run bench -- --scenario evacuate (--mb 64 by default here): six Redis containers holding
// random values leave hostA for hostB and hostC, with `ferry evacuate --parallel 1` and then
// --parallel 3; the wall time of each (the command, start to end), their ratio, and where the
// containers went with their downtimes.
import { execa } from 'execa';
import { fillRedis, lab, ratio, ROOT, startRedis, type Lab } from './lab.ts';

const COUNT = 6;
const PORT = 6420;
const names = Array.from({ length: COUNT }, (_, i) => `bench-evac${i + 1}`);

interface Result {
  container: string;
  to: string;
  result: string;
  downtimeMs?: number;
}

async function removeAll(): Promise<void> {
  for (const host of ['hostA', 'hostB', 'hostC']) await lab('podman', host, 'rm', '-f', '-t', '0', '--ignore', ...names);
}

export async function evacuations(labInfo: Lab, megabytes: number): Promise<void> {
  const hostA = labInfo.ip.hostA ?? '';
  console.log(`\n== evacuate: ${COUNT} Redis containers of ${megabytes} MB of random values each, hostA -> hostB,hostC`);
  const rows: Array<{ parallel: number; wallMs: number; results: Result[]; floors: number[]; zstd: number }> = [];
  for (const parallel of [1, 3]) {
    await removeAll();
    for (const [i, name] of names.entries()) {
      await startRedis('hostA', name, PORT + i);
      await fillRedis(hostA, PORT + i, megabytes);
    }
    const started = performance.now();
    const r = await execa(`${ROOT}bin/ferry`, ['evacuate', '--from', 'hostA', '--to', 'hostB,hostC', '--parallel', String(parallel), '--json', '--inventory', labInfo.inventory], { reject: false });
    const wallMs = Math.round(performance.now() - started);
    const events = String(r.stdout).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; results?: Result[]; summary?: { floorMs: number }; compression?: string });
    const end = events.find((e) => e.event === 'evacuated');
    if (r.exitCode !== 0 || !end?.results) throw new Error(`evacuate --parallel ${parallel} failed (exit ${r.exitCode}):\n${String(r.stdout).slice(-4000)}\n${String(r.stderr)}`);
    // runc's own checkpoint + restore (the floor of each move), and how often --compress auto chose zstd.
    const floors = events.flatMap((e) => (e.event === 'done' && e.summary ? [e.summary.floorMs] : []));
    const zstd = events.filter((e) => e.event === 'compression' && e.compression === 'zstd').length;
    rows.push({ parallel, wallMs, results: end.results, floors, zstd });
  }
  await removeAll();
  console.log('| --parallel | wall time | moved | to hostB / hostC | downtime per container: mean | max | floor (runc checkpoint + restore): mean | --compress auto chose zstd |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const { parallel, wallMs, results, floors, zstd } of rows) {
    const downtimes = results.map((x) => x.downtimeMs ?? 0);
    const on = (host: string) => results.filter((x) => x.to === host).length;
    console.log(
      `| ${parallel} | ${(wallMs / 1000).toFixed(1)} s | ${results.filter((x) => x.result === 'moved').length} of ${results.length} | ${on('hostB')} / ${on('hostC')}` +
        ` | ${Math.round(downtimes.reduce((a, b) => a + b, 0) / downtimes.length)} ms | ${Math.max(...downtimes)} ms` +
        ` | ${Math.round(floors.reduce((a, b) => a + b, 0) / Math.max(1, floors.length))} ms | ${zstd} of ${results.length} |`,
    );
  }
  const [one, three] = rows as [(typeof rows)[0], (typeof rows)[0]];
  console.log(`\nwall time --parallel 3 / --parallel 1: ${ratio(three.wallMs, one.wallMs)} (${(one.wallMs / 1000).toFixed(1)} s -> ${(three.wallMs / 1000).toFixed(1)} s)`);
}
