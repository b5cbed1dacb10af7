// npm run bench: migrates a Redis holding incompressible data between two lab hosts, there and
// back, and reports the phase times, bytes moved and the agents' peak RSS while they worked.
// Its own lab (FERRY_LAB=ferrybench on 172.31.79.0/24) is made and removed here.
//   npm run bench -- [--mb 200] [--compress none|zstd]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { execa } from 'execa';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '200' }, compress: { type: 'string', default: 'none' }, keep: { type: 'boolean', default: false } },
});
const ROOT = new URL('..', import.meta.url).pathname;
const env = { ...process.env, FERRY_LAB: 'ferrybench', FERRY_LAB_SUBNET: '172.31.79' };
const lab = async (...args: string[]) => String((await execa(`${ROOT}scripts/lab`, args, { env })).stdout).trim();
const NAME = 'bench-redis';
const PORT = 6390;
const VALUE_BYTES = 4096;

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function fill(ip: string, megabytes: number): Promise<void> {
  const count = Math.ceil((megabytes * 1024 * 1024) / VALUE_BYTES);
  const child = execa('redis-cli', ['-h', ip, '-p', String(PORT), '--pipe'], { stdin: 'pipe' });
  const random = (await import('node:crypto')).randomBytes;
  for (let i = 0; i < count; i += 1) {
    // hex of random bytes: incompressible enough for zstd to gain nothing worth having.
    const value = random(VALUE_BYTES / 2).toString('hex');
    const line = `*3\r\n$3\r\nSET\r\n$${`k:${i}`.length}\r\nk:${i}\r\n$${value.length}\r\n${value}\r\n`;
    if (!child.stdin!.write(line)) await new Promise((r) => child.stdin!.once('drain', r));
  }
  child.stdin!.end();
  await child;
}

async function migrate(from: string, to: string, inventory: string, agents: Record<string, number>) {
  const peaks: Record<string, number> = Object.fromEntries(Object.keys(agents).map((h) => [h, 0]));
  const base = Object.fromEntries(Object.entries(agents).map(([h, pid]) => [h, rssKiB(pid)]));
  const timer = setInterval(() => {
    for (const [h, pid] of Object.entries(agents)) peaks[h] = Math.max(peaks[h] ?? 0, rssKiB(pid));
  }, 20);
  const r = await execa(`${ROOT}bin/ferry`, ['migrate', '--from', from, '--to', to, NAME, '--json', '--compress', values.compress!, '--inventory', inventory], { reject: false });
  clearInterval(timer);
  const events = String(r.stdout).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const done = events.find((e) => e.event === 'done');
  if (!done) throw new Error(`migration failed: ${r.stdout}\n${r.stderr}`);
  return { summary: done.summary, peaks, base };
}

async function main() {
  await execa(`${ROOT}scripts/lab`, ['down'], { env });
  await execa(`${ROOT}scripts/lab`, ['up', '--hosts', '2'], { env, stdout: 'inherit', stderr: 'inherit' });
  try {
    const inventory = await lab('inventory');
    const ipA = await lab('ip', 'hostA');
    const state = JSON.parse(readFileSync(inventory, 'utf8')) as { hosts: Record<string, { stateDir: string }> };
    const agents = Object.fromEntries(
      Object.entries(state.hosts).map(([h, v]) => [h, Number(readFileSync(`${v.stateDir}/agent.pid`, 'utf8').trim())]),
    );
    await lab('podman', 'hostA', 'run', '-d', '--name', NAME, '-p', `${PORT}:6379`, 'localhost/ferry-lab/redis:latest',
      'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no');
    await new Promise((r) => setTimeout(r, 500));
    await fill(ipA, Number(values.mb));
    const used = await execa('redis-cli', ['-h', ipA, '-p', String(PORT), 'info', 'memory']);
    const rss = /used_memory_rss_human:(\S+)/.exec(String(used.stdout))?.[1];
    console.log(`redis on hostA holds ${values.mb} MB of random values (RSS ${rss}); compress=${values.compress}`);
    console.log('| run | checkpoint | archive | transfer | rate | restore | verify | total | downtime | peak RSS src agent | peak RSS dst agent |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
      const { summary: s, peaks, base } = await migrate(from, to, inventory, agents);
      const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
      console.log(
        `| ${from}->${to} | ${s.checkpointMs} ms | ${mb(s.archiveBytes)} MiB | ${s.transferMs} ms | ${(s.archiveBytes / 1024 / 1024 / (s.transferMs / 1000)).toFixed(0)} MiB/s` +
          ` | ${s.restoreMs} ms | ${s.verifyMs} ms | ${s.totalMs} ms | ${s.downtimeMs} ms` +
          ` | ${(peaks[from]! / 1024).toFixed(0)} MiB (idle ${(base[from]! / 1024).toFixed(0)}) | ${(peaks[to]! / 1024).toFixed(0)} MiB (idle ${(base[to]! / 1024).toFixed(0)}) |`,
      );
    }
  } finally {
    if (!values.keep) await execa(`${ROOT}scripts/lab`, ['down'], { env });
  }
}

await main();
