// npm run bench: migrates a Redis holding incompressible data between two lab hosts, there and
// back, and reports the phase times, bytes moved and the agents' peak RSS while they worked.
// Its own lab (FERRY_LAB=ferrybench on 172.31.79.0/24) is made and removed here.
// A second scenario moves a container with 1 GB of bind-mounted data, 10 MB of which it keeps
// rewriting, once with the live pre-sync and once without.
//   npm run bench -- [--scenario redis|data|all] [--mb 200] [--data-mb 1024] [--compress none|zstd]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { execa } from 'execa';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    mb: { type: 'string', default: '200' },
    'data-mb': { type: 'string', default: '1024' },
    compress: { type: 'string', default: 'none' },
    keep: { type: 'boolean', default: false },
  },
});
const ROOT = new URL('..', import.meta.url).pathname;
const env = { ...process.env, FERRY_LAB: 'ferrybench', FERRY_LAB_SUBNET: '172.31.79' };
const lab = async (...args: string[]) => String((await execa(`${ROOT}scripts/lab`, args, { env })).stdout).trim();
const NAME = 'bench-redis';
const PORT = 6390;
const VALUE_BYTES = 4096;

/** Resident memory of a process in KiB; 0 once it is gone (the run then fails, see migrate). */
function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
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

async function migrate(from: string, to: string, inventory: string, agents: Record<string, number>, name = NAME, extra: string[] = []) {
  const peaks: Record<string, number> = Object.fromEntries(Object.keys(agents).map((h) => [h, 0]));
  const base = Object.fromEntries(Object.entries(agents).map(([h, pid]) => [h, rssKiB(pid)]));
  const timer = setInterval(() => {
    for (const [h, pid] of Object.entries(agents)) peaks[h] = Math.max(peaks[h] ?? 0, rssKiB(pid));
  }, 20);
  const r = await execa(`${ROOT}bin/ferry`, ['migrate', '--from', from, '--to', to, name, '--json', '--compress', values.compress!, '--inventory', inventory, ...extra], { reject: false });
  clearInterval(timer);
  const events = String(r.stdout).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const done = events.find((e) => e.event === 'done');
  if (!done) throw new Error(`migration failed: ${r.stdout}\n${r.stderr}`);
  for (const [host, pid] of Object.entries(agents)) if (!rssKiB(pid)) throw new Error(`the agent of ${host} (pid ${pid}) died during the run`);
  return { summary: done.summary, peaks, base, events };
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);

async function dataScenario(inventory: string, agents: Record<string, number>) {
  const name = 'bench-data';
  const dir = '/srv/bench-data';
  const total = Number(values['data-mb']);
  const files = Math.max(1, Math.round(total / 64));
  await lab('exec', 'hostA', 'sh', '-c', `rm -rf ${dir}* && mkdir -p ${dir} && for i in $(seq ${files}); do head -c ${Math.round((total * 1048576) / files)} /dev/urandom > ${dir}/part$i; done`);
  // 10 MB that the container keeps rewriting while it runs.
  const writer = 'while true; do head -c 10485760 /dev/urandom > /data/hot.tmp && mv /data/hot.tmp /data/hot.bin; sleep 0.2; done & exec httpd -f -p 8080';
  await lab('podman', 'hostA', 'run', '-d', '--name', name, '-p', '8099:8080', '-v', `${dir}:/data`, 'localhost/ferry-lab/busybox:latest', 'sh', '-c', writer);
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`\n${total} MiB in ${files} files bind-mounted at ${dir}, 10 MiB rewritten every 0.2 s`);
  console.log('| run | data sent while running | data sent after the freeze | archive | downtime (freeze to verified) | total |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [from, to, extra, label] of [['hostA', 'hostB', [], 'with pre-sync'], ['hostB', 'hostA', ['--no-presync'], 'without pre-sync']] as const) {
    const { summary: s } = await migrate(from, to, inventory, agents, name, [...extra]);
    console.log(`| ${label} (${from}->${to}) | ${mib(s.dataBytesLive)} MiB | ${mib(s.dataBytesFrozen)} MiB | ${mib(s.archiveBytes)} MiB | ${s.downtimeMs} ms | ${s.totalMs} ms |`);
  }
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
    if (values.scenario === 'data' || values.scenario === 'all') await dataScenario(inventory, agents);
    if (values.scenario === 'data') return;
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
