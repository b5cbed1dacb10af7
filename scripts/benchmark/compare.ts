// npm run bench -- --scenario compare: what a client sees during `ferry migrate` and during the
// three podman commands it replaces, in the same run, side by side.
//
// For each size, a freshly filled Redis holding that many MB of random values moves between hostA
// and hostB three times, in both orders: Ferry with --compress auto, Ferry with --compress none,
// and by hand (podman's defaults: checkpoint --export with zstd, the archive piped from host to
// host over TCP, restore --import; --tcp-established on both, as Ferry does). A client PINGs both
// hosts every 10 ms; the outage is the gap between the source's last answer and the destination's
// first. The floor of each move is runc's own checkpoint plus runc's own restore (podman
// --print-stats). Each move's timeline counts from the source's last answer. Then one more Ferry
// move is interrupted (Ctrl-C) just after CRIU's dump: the source rolls back from the checkpoint on
// its own disk, and the client's gap on the source is set beside runc's restore in that rollback.
// The link is measured too: one mutual-TLS TCP stream between the same two hosts, and Ferry's data
// plane moving a file over it. A size whose moves need more memory than the machine has free is
// skipped, with a message.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { env, fillRedis, ferryMigrate, freshMemoryLine, lab, mib, NODE, ratio, redisRss, ROOT, sampleRss, spawnIn, startRedis, type Lab } from './lab.ts';
import { longestGapMs, outageMs, outageStart, startProbe, type Answers } from './probe.ts';

export const NAME = 'bench-cmp';
export const PORT = 6391;
const LINK_PORT = 7990;
const LINK_MIB = 1024;

/** Moments of a move, ms from the source's last answer; absent where the way of moving does not tell. */
export interface Timeline {
  dumped?: number | undefined;
  checkpointed?: number | undefined;
  arrived?: number | undefined;
  restoreStarted?: number | undefined;
  restored?: number | undefined;
  answered?: number | undefined;
}

export interface Run {
  how: 'ferry' | 'manual';
  /** What was run: "ferry auto", "ferry none", "manual". */
  label?: string | undefined;
  /** Ferry's --compress choice and why (auto). */
  compression?: string | undefined;
  timeline?: Timeline | undefined;
  from: string;
  to: string;
  outageMs: number;
  floorMs: number;
  reportedMs?: number | undefined;
  archiveBytes?: number | undefined;
  streamMiBps?: number | undefined;
  peakRssMiB?: Record<string, number> | undefined;
  streamed?: boolean | undefined;
  relayedBytes?: number | undefined;
}

export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

const linkArgs = (labInfo: Lab, me: string, peer: string) => [NODE, `${ROOT}scripts/benchmark/link.ts`, '--pki', labInfo.pki, '--me', me, '--peer', peer];

/**
 * MiB/s of one stream from hostA to hostB, through a receiver and a sender the lab runs inside
 * them: a bare mutual-TLS stream or Ferry's data plane, from memory to nowhere (the link alone) or
 * from a file to a file (the link and both disks, as a migration has them).
 */
async function linkRate(labInfo: Lab, kind: 'tls' | 'ferry', files: boolean): Promise<number> {
  const source = '/var/lib/ferry-data/bench-link.bin';
  const target = files ? '/var/lib/ferry-data/bench-link.out' : '/dev/null';
  if (files) await lab('exec', 'hostA', 'sh', '-c', `head -c ${LINK_MIB * 1048576} /dev/urandom > ${source}`);
  const receiver = await spawnIn('hostB', [...linkArgs(labInfo, 'hostB', 'hostA'), `${kind}-recv`, String(LINK_PORT), ...(kind === 'ferry' || files ? [target] : [])]);
  const ip = labInfo.ip.hostB ?? '';
  const sendArgs =
    kind === 'tls' ? [ip, String(LINK_PORT), String(LINK_MIB), ...(files ? [source] : [])] : [ip, String(LINK_PORT), files ? source : '/dev/zero', String(LINK_MIB)];
  await lab('exec', 'hostA', ...linkArgs(labInfo, 'hostA', 'hostB'), `${kind}-send`, ...sendArgs);
  const result = await receiver.ended;
  const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
  if (files) {
    await lab('exec', 'hostA', 'rm', '-f', source);
    await lab('exec', 'hostB', 'rm', '-f', target);
  }
  if (!line) throw new Error(`the ${kind} link measurement printed nothing: ${result.stderr}`);
  const { bytes, ms } = JSON.parse(line) as { bytes: number; ms: number };
  return bytes / 1048576 / (ms / 1000);
}

function printStats(stdout: string): { runtimeCheckpoint?: number; runtimeRestore?: number } {
  const json = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { container_statistics?: Array<Record<string, number>> };
  const c = json.container_statistics?.[0] ?? {};
  return { runtimeCheckpoint: c.runtime_checkpoint_duration, runtimeRestore: c.runtime_restore_duration };
}

/**
 * The podman guides' three commands, as an operator would type them (podman's defaults). In an
 * SSH lab the archive goes by scp, as between datacenters; otherwise by a mutual-TLS pipe.
 */
async function manualMove(labInfo: Lab, from: string, to: string): Promise<{ floorMs: number; marks: { checkpointed: number; arrived: number; restoreStarted: number; restored: number } }> {
  const archive = '/var/lib/ferry-data/manual-checkpoint.tar.zst';
  const checkpoint = await lab('podman', from, 'container', 'checkpoint', '--tcp-established', '--print-stats', '--export', archive, NAME);
  const checkpointed = Date.now();
  if (labInfo.ssh) {
    await lab('exec', from, 'scp', '-q', '-i', labInfo.ssh.identity, '-o', `UserKnownHostsFile=${labInfo.ssh.knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
      archive, `root@${labInfo.ip[to] ?? ''}:${archive}`);
  } else {
    const receiver = await spawnIn(to, [...linkArgs(labInfo, to, from), 'pipe-recv', String(LINK_PORT), archive]);
    await lab('exec', from, ...linkArgs(labInfo, from, to), 'pipe-send', labInfo.ip[to] ?? '', String(LINK_PORT), archive);
    await receiver.ended;
  }
  const arrived = Date.now();
  const restore = await lab('podman', to, 'container', 'restore', '--tcp-established', '--print-stats', '--import', archive);
  const restored = Date.now();
  const runcRestoreMs = (printStats(restore).runtimeRestore ?? NaN) / 1000;
  const floorUs = (printStats(checkpoint).runtimeCheckpoint ?? NaN) + (printStats(restore).runtimeRestore ?? NaN);
  return { floorMs: floorUs / 1000, marks: { checkpointed, arrived, restoreStarted: restored - runcRestoreMs, restored } };
}

/** When an event of `ferry migrate --json` was printed, ms since the epoch. */
const eventAt = (events: Array<Record<string, any>>, name: string): number | undefined => {
  const event = events.find((e) => e.event === name);
  return event ? Date.parse(String(event.time)) : undefined;
};

/** After a manual move: the stopped source copy and both archives go (outside the measured outage). */
async function manualCleanup(from: string, to: string): Promise<void> {
  await lab('podman', from, 'rm', '-f', '-t', '0', NAME);
  for (const host of [from, to]) await lab('exec', host, 'rm', '-f', '/var/lib/ferry-data/manual-checkpoint.tar.zst');
}

export async function measure(labInfo: Lab, how: Run['how'], from: string, to: string, extra: string[] = []): Promise<Run> {
  const probe = startProbe([
    { name: from, address: labInfo.ip[from] ?? '', port: PORT },
    { name: to, address: labInfo.ip[to] ?? '', port: PORT },
  ]);
  await new Promise((r) => setTimeout(r, 300));
  let run: Run;
  let marks: Omit<Timeline, 'answered'> = {};
  if (how === 'ferry') {
    const rss = sampleRss(labInfo.agents);
    const events = await ferryMigrate(labInfo.inventory, from, to, NAME, extra).finally(() => rss.stop());
    const peaks = rss.stop();
    const s = events.find((e) => e.event === 'done')?.summary as Record<string, number | boolean>;
    const restored = eventAt(events, 'restored');
    const runcRestoreMs = Number(events.find((e) => e.event === 'restored')?.runtimeMs ?? NaN);
    const chosen = events.find((e) => e.event === 'compression');
    marks = {
      dumped: eventAt(events, 'dumped'),
      checkpointed: eventAt(events, 'checkpointed'),
      arrived: eventAt(events, 'transferred'),
      restoreStarted: restored !== undefined ? restored - runcRestoreMs : undefined,
      restored,
    };
    run = {
      how,
      from,
      to,
      outageMs: NaN,
      floorMs: Number(s.floorMs),
      reportedMs: Number(s.downtimeMs),
      archiveBytes: Number(s.archiveBytes),
      streamMiBps: Number(s.archiveBytes) / 1048576 / (Number(s.transferMs) / 1000),
      peakRssMiB: Object.fromEntries(Object.entries(peaks).map(([h, kib]) => [h, Math.round(kib / 1024)])),
      streamed: Boolean(s.streamedRestore),
      relayedBytes: Number(s.relayedBytes ?? 0),
      compression: chosen ? `${String(chosen.compression)}: ${String(chosen.reason)}` : undefined,
    };
  } else {
    const manual = await manualMove(labInfo, from, to);
    marks = manual.marks;
    run = { how, from, to, outageMs: NaN, floorMs: manual.floorMs };
  }
  await new Promise((r) => setTimeout(r, 300));
  const answers = probe.stop();
  run.outageMs = outageMs(answers, from, to);
  run.timeline = timelineOf(answers, from, to, marks);
  if (how === 'manual') await manualCleanup(from, to);
  return run;
}

function timelineOf(answers: Answers, from: string, to: string, marks: Omit<Timeline, 'answered'>): Timeline {
  const start = outageStart(answers, from, to);
  const since = (at: number | undefined) => (at === undefined || !Number.isFinite(at) ? undefined : at - start);
  return {
    dumped: since(marks.dumped),
    checkpointed: since(marks.checkpointed),
    arrived: since(marks.arrived),
    restoreStarted: since(marks.restoreStarted),
    restored: since(marks.restored),
    answered: since(answers[to]?.[0]),
  };
}

/**
 * A Ferry move interrupted (Ctrl-C, as a user would) right after CRIU's dump: the source rolls
 * back from the checkpoint on its own disk. The client's longest gap on the source, and runc's
 * restore in that rollback (the agent's rollback outcome says it).
 */
async function rollbackRun(labInfo: Lab, from: string, to: string): Promise<{ gapMs: number; backMs: number; runcMs: number; podmanMs: number; outcome: string }> {
  const probe = startProbe([{ name: from, address: labInfo.ip[from] ?? '', port: PORT }]);
  await new Promise((r) => setTimeout(r, 300));
  const child = execa(`${ROOT}bin/ferry`, ['migrate', '--from', from, '--to', to, NAME, '--json', '--inventory', labInfo.inventory], { reject: false, env });
  let interrupted: number | undefined;
  child.stdout?.on('data', (data: Buffer) => {
    if (interrupted === undefined && String(data).includes('"event":"dumped"')) {
      interrupted = performance.timeOrigin + performance.now();
      child.kill('SIGINT');
    }
  });
  const result = await child;
  await new Promise((r) => setTimeout(r, 300));
  const answers = probe.stop();
  const rollback = String(result.stdout)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e.event === 'rollback' && e.host === from);
  const outcome = typeof rollback?.outcome === 'string' ? rollback.outcome : `no rollback on ${from}: ${String(result.stderr).trim()}`;
  const podmanMs = Number(/podman (\d+) ms/.exec(outcome)?.[1] ?? NaN);
  const runcMs = Number(/runc (\d+) ms/.exec(outcome)?.[1] ?? NaN);
  // From the Ctrl-C to the source's first answer after it: the rollback itself.
  const back = (answers[from] ?? []).find((t) => interrupted !== undefined && t > interrupted);
  return { gapMs: longestGapMs(answers, from), backMs: back !== undefined && interrupted !== undefined ? back - interrupted : NaN, runcMs, podmanMs, outcome };
}

/** Whether the machine has the memory for moves of this size: the Redis, its archive in the page cache, and the restored copy. */
function roomFor(megabytes: number): { ok: boolean; freeMiB: number; needMiB: number } {
  const available = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  const freeMiB = Math.round(Number(available ?? 0) / 1024);
  const needMiB = Math.round(megabytes * 1.3 * 3 + 1024);
  return { ok: freeMiB >= needMiB, freeMiB, needMiB };
}

const ms = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(0)} ms`);

/** The three ways of moving, in the order of a round; the second round runs them the other way round. */
const WAYS: Array<{ how: Run['how']; label: string; extra: string[] }> = [
  { how: 'ferry', label: 'ferry auto', extra: ['--compress', 'auto'] },
  { how: 'ferry', label: 'ferry none', extra: ['--compress', 'none'] },
  { how: 'manual', label: 'manual', extra: [] },
];

export async function compare(labInfo: Lab, sizes: number[]): Promise<void> {
  console.log(`\n== compare: ferry migrate (--compress auto and none) vs the manual pipeline (podman defaults), sizes ${sizes.join(', ')} MB`);
  const link = { tls: await linkRate(labInfo, 'tls', false), plane: await linkRate(labInfo, 'ferry', false) };
  const disks = { tls: await linkRate(labInfo, 'tls', true), plane: await linkRate(labInfo, 'ferry', true) };
  console.log(`\n| ${LINK_MIB} MiB hostA -> hostB | one mutual-TLS TCP stream | Ferry's data plane (frames, SHA-256; CRC-32 left to TLS) | data plane / stream |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| memory to nowhere (the link) | ${link.tls.toFixed(0)} MiB/s | ${link.plane.toFixed(0)} MiB/s | **${ratio(link.plane, link.tls)}** |`);
  console.log(`| file to file (link and disks) | ${disks.tls.toFixed(0)} MiB/s | ${disks.plane.toFixed(0)} MiB/s | **${ratio(disks.plane, disks.tls)}** |`);
  console.log(`\n${await freshMemoryLine()}`);
  // One move there and back, unmeasured, with an empty Redis: the agents' first migration (code
  // compiled, connections made) is not any way of moving's to pay for.
  await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
  await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
  await startRedis('hostA', NAME, PORT);
  await ferryMigrate(labInfo.inventory, 'hostA', 'hostB', NAME);
  await ferryMigrate(labInfo.inventory, 'hostB', 'hostA', NAME);
  const tables: Tables = { rows: [], timelines: [], summary: [], rollbacks: [], skipped: [] };
  for (const size of sizes) await compareAt(labInfo, size, tables);
  printTables(tables);
}

/** The rows compare prints, gathered size by size. */
interface Tables {
  rows: string[];
  timelines: string[];
  summary: string[];
  rollbacks: string[];
  skipped: string[];
}

/** One size: both orders of the three ways of moving, then a rollback after the freeze. */
async function compareAt(labInfo: Lab, size: number, tables: Tables): Promise<void> {
  const room = roomFor(size);
  if (!room.ok) {
    const why = `${size} MB skipped: ${room.needMiB} MiB of memory needed (the Redis, its archive, the restored copy), ${room.freeMiB} MiB available`;
    console.log(why);
    tables.skipped.push(why);
    return;
  }
  // Both orders, so that no way of moving always gets the machine in the same state. Each order
  // starts from a freshly filled Redis: a first move can cost more (CRIU once froze a 1 GB Redis
  // just filled for 3.8 s and the same Redis, restored, for 0.7 s), and the first move of a
  // container is the one a user makes.
  const runs: Run[] = [];
  let rss = '';
  for (const order of [WAYS, [...WAYS].reverse()]) {
    await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
    await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
    await startRedis('hostA', NAME, PORT);
    await fillRedis(labInfo.ip.hostA ?? '', PORT, size);
    rss = await redisRss(labInfo.ip.hostA ?? '', PORT);
    let here = 'hostA';
    for (const way of order) {
      const there = here === 'hostA' ? 'hostB' : 'hostA';
      const run = { ...(await measure(labInfo, way.how, here, there, way.extra)), label: way.label };
      runs.push(run);
      here = there;
      const t = run.timeline ?? {};
      tables.timelines.push(
        `| ${size} MB | ${run.label} ${run.from} -> ${run.to} | ${ms(t.dumped)} | ${ms(t.checkpointed)} | ${ms(t.arrived)} | ${ms(t.restoreStarted)} | ${ms(t.restored)} | ${ms(t.answered)} |`,
      );
      if (run.how === 'ferry') {
        tables.rows.push(
          `| ${size} MB (RSS ${rss}) | ${run.label} ${run.from} -> ${run.to} | ${run.outageMs.toFixed(0)} ms | ${run.floorMs.toFixed(0)} ms | **${ratio(run.outageMs, run.floorMs)}** | ${ms(run.reportedMs)} ` +
            `| ${mib(run.archiveBytes ?? 0)} MiB | ${run.streamMiBps?.toFixed(0)} MiB/s${run.streamed ? '' : ' (file import)'} | ${mib(run.relayedBytes ?? 0)} MiB | ${Object.values(run.peakRssMiB ?? {}).join(' / ')} MiB | ${run.compression ?? ''} |`,
        );
      } else {
        tables.rows.push(`| ${size} MB (RSS ${rss}) | manual ${run.from} -> ${run.to} | ${run.outageMs.toFixed(0)} ms | ${run.floorMs.toFixed(0)} ms | **${ratio(run.outageMs, run.floorMs)}** | | | | | | |`);
      }
    }
  }
  // The Redis is where the last move left it: interrupt one more move from there.
  const last = runs.at(-1);
  const rollback = await rollbackRun(labInfo, last?.to ?? 'hostA', last?.from ?? 'hostB');
  tables.rollbacks.push(
    `| ${size} MB | ${rollback.gapMs.toFixed(0)} ms | ${ms(rollback.backMs)} | ${ms(rollback.podmanMs)} | ${ms(rollback.runcMs)} | **${ratio(rollback.backMs, rollback.runcMs)}** | ${rollback.outcome} |`,
  );
  const outages = (label: string) => runs.filter((r) => r.label === label).map((r) => r.outageMs);
  const auto = mean(outages('ferry auto'));
  const none = mean(outages('ferry none'));
  const manual = mean(outages('manual'));
  const floors = runs.filter((r) => r.how === 'ferry').map((r) => r.floorMs);
  const peak = Math.max(...runs.flatMap((r) => Object.values(r.peakRssMiB ?? {})));
  tables.summary.push(
    `| ${size} MB | ${auto.toFixed(0)} ms | ${none.toFixed(0)} ms | **${ratio(auto, none)}** | ${manual.toFixed(0)} ms | **${ratio(auto, manual)}** / **${ratio(none, manual)}** ` +
      `| ${mean(floors).toFixed(0)} ms | **${ratio(Math.min(auto, none), mean(floors))}** | ${peak} MiB |`,
  );
  await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
  await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
}

function printTables(tables: Tables): void {
  console.log('\n| Redis data | move | client outage | floor (runc ckpt + restore) | outage / floor | ferry\'s own downtime | archive | archive stream | relayed to podman | agent peak RSS (A / B) | --compress auto chose |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of tables.rows) console.log(row);
  console.log("\nTimelines, ms from the source's last answer (ferry: its --json events; manual: each command's end):\n");
  console.log("| Redis data | move | CRIU's dump done | podman's checkpoint done | archive at the destination, checked | runc's restore begins | podman's restore done | first answer |");
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of tables.timelines) console.log(row);
  console.log('\nBoth orders together (means):\n');
  console.log('| Redis data | ferry auto | ferry none | auto / none | manual | ferry / manual (auto / none) | ferry floor | best ferry / floor | agent peak RSS, either agent |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of tables.summary) console.log(row);
  console.log('\nA rollback after the freeze (Ctrl-C right after CRIU\'s dump; the source restores from the checkpoint on its own disk):\n');
  console.log("| Redis data | client's gap on the source | Ctrl-C to the first answer | podman's restore | runc's restore | Ctrl-C to answer / runc's restore | the source's rollback |");
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of tables.rollbacks) console.log(row);
  for (const why of tables.skipped) console.log(`\n${why}`);
  console.log('\nclient outage: a Redis PING every 10 ms to both hosts; the gap between the source\'s last answer and the destination\'s first.');
  console.log('floor: runc\'s checkpoint plus runc\'s restore of the same move, from podman --print-stats.');
}
