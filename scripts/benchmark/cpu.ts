// npm run bench -- --scenario cpu [--mb 1024]: where the CPU goes in a real move. A Redis holding
// --mb of random values moves hostA -> hostB and back (--compress none) while every process of the
// machine is sampled from /proc every 100 ms: the agents thread by thread (main thread, libuv's
// pool, V8's and the rest), CRIU, podman and its helpers, Redis, the coordinator, the kernel's own
// threads. The table splits each move at its --json events (the checkpoint begun, CRIU's dump
// done, the last byte checked, the restore done) and gives each phase's CPU seconds beside what the machine's
// cores could have given in that time: a phase whose total nears that limit is bound by the CPU,
// and the rows say by whom. In the lab both hosts share the machine's cores.
import { availableParallelism } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { fillRedis, ferryMigrate, freshMemoryLine, lab, startRedis, type Lab } from './lab.ts';

const NAME = 'bench-cpu';
const PORT = 6393;
const EVERY_MS = 100;
const TICKS_PER_SECOND = 100; // USER_HZ, 100 on Linux

/** utime + stime of a /proc stat line, and its comm and parent. */
function parseStat(line: string): { comm: string; ppid: number; ticks: number } {
  const close = line.lastIndexOf(')');
  const fields = line.slice(close + 2).split(' ');
  return { comm: line.slice(line.indexOf('(') + 1, close), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The row a thread of an agent counts under. */
function agentThread(comm: string): string {
  if (comm === 'MainThread' || comm === 'node') return 'main thread';
  if (comm.startsWith('libuv-worker')) return 'libuv pool (files)';
  return 'V8 and other threads';
}

/** The row a process counts under. */
function processRow(comm: string, ppid: number): string {
  if (ppid === 2 || comm === 'kthreadd') return 'kernel threads';
  if (comm === 'criu') return 'criu';
  if (['podman', 'conmon', 'runc', 'netavark', 'aardvark-dns', 'iptables', 'ip6tables', 'nft'].includes(comm) || comm.startsWith('iptables')) return 'podman, runc, conmon, netavark';
  if (comm.startsWith('redis')) return 'redis';
  return 'others (the coordinator, the bench)';
}

/** Ticks so far by row: agents' threads per host, everything else by what it is. Keyed by pid/tid too, so that exits do not count as negative. */
function snapshot(agents: Record<string, number>): Map<string, { row: string; ticks: number }> {
  const seen = new Map<string, { row: string; ticks: number }>();
  const agentHost = new Map(Object.entries(agents).map(([host, pid]) => [pid, host]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const host = agentHost.get(pid);
    if (host) {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const line = read(`/proc/${pid}/task/${tid}/stat`);
        if (!line) continue;
        const { comm, ticks } = parseStat(line);
        seen.set(`t${tid}`, { row: `${host} agent: ${agentThread(comm)}`, ticks });
      }
      continue;
    }
    const line = read(`/proc/${pid}/stat`);
    if (!line) continue;
    const { comm, ppid, ticks } = parseStat(line);
    seen.set(`p${pid}`, { row: processRow(comm, ppid), ticks });
  }
  return seen;
}

interface Sample {
  at: number;
  byRow: Map<string, number>;
}

/**
 * Samples until stopped: each sample holds the ticks spent by row since the one before. A process
 * that starts and ends between two samples is not seen (a short podman or iptables call).
 */
function sampleCpu(agents: Record<string, number>): { stop(): Sample[] } {
  const samples: Sample[] = [];
  let last = snapshot(agents);
  const timer = setInterval(() => {
    const now = snapshot(agents);
    const byRow = new Map<string, number>();
    for (const [key, { row, ticks }] of now) {
      const before = last.get(key);
      // A process born since the last sample counts from its birth (its ticks so far).
      const spent = ticks - (before?.ticks ?? 0);
      if (spent > 0) byRow.set(row, (byRow.get(row) ?? 0) + spent);
    }
    last = now;
    samples.push({ at: Date.now(), byRow });
  }, EVERY_MS);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

/** A move's phases, split at its --json events: the checkpoint phase begins before podman freezes the container (its hooks, the pages' request). */
const PHASES = ['preflight', 'checkpoint, until CRIU\'s dump is done', 'until the last byte is checked', 'until restored', 'verify and commit'] as const;

export async function cpuMoves(labInfo: Lab, megabytes: number): Promise<void> {
  await startRedis('hostA', NAME, PORT);
  try {
    await fillRedis(labInfo.ip.hostA ?? '', PORT, megabytes);
    const cores = availableParallelism();
    console.log(`\n== cpu: where the CPU goes while ${megabytes} MB of Redis moves (--compress none); ${cores} cores, shared by both lab hosts; CPU seconds`);
    console.log(await freshMemoryLine());
    for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
      const sampler = sampleCpu(labInfo.agents);
      const events = await ferryMigrate(labInfo.inventory, from, to, NAME, ['--compress', 'none']).finally(() => sampler.stop());
      const samples = sampler.stop();
      const at = (event: string, phase?: string) => {
        const e = events.find((x) => x.event === event && (phase === undefined || x.phase === phase));
        return e ? Date.parse(String(e.time)) : Number.NaN;
      };
      const bounds = [at('phase', 'checkpoint'), at('dumped'), at('transferred'), at('restored')];
      const phaseOf = (t: number) => {
        let i = 0;
        while (i < bounds.length && t > (bounds[i] ?? Number.NaN)) i += 1;
        return i;
      };
      const rows = new Map<string, number[]>();
      const start = samples[0]?.at ?? Date.now();
      const ends = [...bounds, samples.at(-1)?.at ?? start];
      const durations = ends.map((end, i) => (end - (i === 0 ? start : (ends[i - 1] ?? start))) / 1000);
      for (const sample of samples) {
        const phase = phaseOf(sample.at);
        for (const [row, ticks] of sample.byRow) {
          const cells = rows.get(row) ?? PHASES.map(() => 0);
          cells[phase] = (cells[phase] ?? 0) + ticks / TICKS_PER_SECOND;
          rows.set(row, cells);
        }
      }
      const sorted = [...rows].sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0));
      const totals = PHASES.map((_, i) => sorted.reduce((sum, [, cells]) => sum + (cells[i] ?? 0), 0));
      console.log(`\n${from} -> ${to}:\n`);
      console.log(`| | ${PHASES.join(' | ')} |`);
      console.log(`| --- | ${PHASES.map(() => '---').join(' | ')} |`);
      console.log(`| the phase's length | ${durations.map((d) => `${d.toFixed(2)} s`).join(' | ')} |`);
      console.log(`| all the cores could give | ${durations.map((d) => `${(d * cores).toFixed(2)}`).join(' | ')} |`);
      console.log(`| **used** | ${totals.map((t, i) => `**${t.toFixed(2)}** (${Math.round((100 * t) / Math.max(0.01, (durations[i] ?? 0) * cores))}%)`).join(' | ')} |`);
      for (const [row, cells] of sorted) console.log(`| ${row} | ${cells.map((c) => c.toFixed(2)).join(' | ')} |`);
    }
  } finally {
    await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
    await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
  }
}
