// npm run bench -- --scenario compare: what a client sees during `ferry migrate` and during the
// three podman commands it replaces, in the same run, side by side.
//
// For each size, a freshly filled Redis holding that many MB of random values moves hostA -> hostB
// and back, twice: Ferry then by hand, and by hand then Ferry (podman's defaults: checkpoint --export with
// zstd, the archive piped from host to host over TCP, restore --import; --tcp-established on both,
// as Ferry does). A client PINGs both hosts every 10 ms; the
// outage is the gap between the source's last answer and the destination's first. The floor of
// each move is runc's own checkpoint plus runc's own restore (podman --print-stats). The link is
// measured too: one mutual-TLS TCP stream between the same two hosts, and Ferry's data plane
// moving a file over it.
import { fillRedis, ferryMigrate, lab, mib, NODE, ratio, redisRss, ROOT, sampleRss, spawnIn, startRedis, type Lab } from './lab.ts';
import { outageMs, startProbe } from './probe.ts';

export const NAME = 'bench-cmp';
export const PORT = 6391;
const LINK_PORT = 7990;
const LINK_MIB = 1024;

export interface Run {
  how: 'ferry' | 'manual';
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
async function manualMove(labInfo: Lab, from: string, to: string): Promise<number> {
  const archive = '/var/lib/ferry-data/manual-checkpoint.tar.zst';
  const checkpoint = await lab('podman', from, 'container', 'checkpoint', '--tcp-established', '--print-stats', '--export', archive, NAME);
  if (labInfo.ssh) {
    await lab('exec', from, 'scp', '-q', '-i', labInfo.ssh.identity, '-o', `UserKnownHostsFile=${labInfo.ssh.knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
      archive, `root@${labInfo.ip[to] ?? ''}:${archive}`);
  } else {
    const receiver = await spawnIn(to, [...linkArgs(labInfo, to, from), 'pipe-recv', String(LINK_PORT), archive]);
    await lab('exec', from, ...linkArgs(labInfo, from, to), 'pipe-send', labInfo.ip[to] ?? '', String(LINK_PORT), archive);
    await receiver.ended;
  }
  const restore = await lab('podman', to, 'container', 'restore', '--tcp-established', '--print-stats', '--import', archive);
  const floorUs = (printStats(checkpoint).runtimeCheckpoint ?? NaN) + (printStats(restore).runtimeRestore ?? NaN);
  return floorUs / 1000;
}

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
  if (how === 'ferry') {
    const rss = sampleRss(labInfo.agents);
    const events = await ferryMigrate(labInfo.inventory, from, to, NAME, extra).finally(() => rss.stop());
    const peaks = rss.stop();
    const s = events.find((e) => e.event === 'done')?.summary as Record<string, number | boolean>;
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
    };
  } else {
    run = { how, from, to, outageMs: NaN, floorMs: await manualMove(labInfo, from, to) };
  }
  await new Promise((r) => setTimeout(r, 300));
  run.outageMs = outageMs(probe.stop(), from, to);
  if (how === 'manual') await manualCleanup(from, to);
  return run;
}

export async function compare(labInfo: Lab, sizes: number[]): Promise<void> {
  console.log(`\n== compare: ferry migrate vs the manual pipeline (podman defaults), sizes ${sizes.join(', ')} MB`);
  const link = { tls: await linkRate(labInfo, 'tls', false), plane: await linkRate(labInfo, 'ferry', false) };
  const disks = { tls: await linkRate(labInfo, 'tls', true), plane: await linkRate(labInfo, 'ferry', true) };
  console.log(`\n| ${LINK_MIB} MiB hostA -> hostB | one mutual-TLS TCP stream | Ferry's data plane (frames, CRC-32, SHA-256) | data plane / stream |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| memory to nowhere (the link) | ${link.tls.toFixed(0)} MiB/s | ${link.plane.toFixed(0)} MiB/s | **${ratio(link.plane, link.tls)}** |`);
  console.log(`| file to file (link and disks) | ${disks.tls.toFixed(0)} MiB/s | ${disks.plane.toFixed(0)} MiB/s | **${ratio(disks.plane, disks.tls)}** |`);
  const rows: string[] = [];
  const summary: string[] = [];
  for (const size of sizes) {
    // Both orders, so neither way of moving always gets the machine in the same state: four moves,
    // A to B and back, twice. Each order starts from a freshly filled Redis, so that each way of
    // moving gets the fresh one once: a first move can cost more (CRIU once froze a 1 GB Redis
    // just filled for 3.8 s and the same Redis, restored, for 0.7 s; other fresh ones for 0.6 and
    // 1.2 s), and the first move of a container is the one a user makes.
    const pairs: Run[][] = [];
    let rss = '';
    for (const order of [['ferry', 'manual'], ['manual', 'ferry']] as Array<Array<Run['how']>>) {
      await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
      await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
      await startRedis('hostA', NAME, PORT);
      await fillRedis(labInfo.ip.hostA ?? '', PORT, size);
      rss = await redisRss(labInfo.ip.hostA ?? '', PORT);
      const pair = [await measure(labInfo, order[0] ?? 'ferry', 'hostA', 'hostB'), await measure(labInfo, order[1] ?? 'manual', 'hostB', 'hostA')];
      pairs.push(pair);
      const ferry = pair.find((r) => r.how === 'ferry') as Run;
      const manual = pair.find((r) => r.how === 'manual') as Run;
      rows.push(
        `| ${size} MB (RSS ${rss}) | ${order.join(' then ')} | ${ferry.outageMs.toFixed(0)} ms | ${manual.outageMs.toFixed(0)} ms | **${ratio(ferry.outageMs, manual.outageMs)}** ` +
          `| ${ferry.floorMs.toFixed(0)} ms | **${ratio(ferry.outageMs, ferry.floorMs)}** | ${manual.floorMs.toFixed(0)} ms | ${ferry.reportedMs?.toFixed(0)} ms ` +
          `| ${mib(ferry.archiveBytes ?? 0)} MiB | ${ferry.streamMiBps?.toFixed(0)} MiB/s${ferry.streamed ? '' : ' (file import)'} | ${mib(ferry.relayedBytes ?? 0)} MiB | ${Object.values(ferry.peakRssMiB ?? {}).join(' / ')} MiB |`,
      );
    }
    const all = pairs.flat();
    const ferryOutages = all.filter((r) => r.how === 'ferry').map((r) => r.outageMs);
    const manualOutages = all.filter((r) => r.how === 'manual').map((r) => r.outageMs);
    const floors = all.filter((r) => r.how === 'ferry').map((r) => r.floorMs);
    const peak = Math.max(...all.flatMap((r) => Object.values(r.peakRssMiB ?? {})));
    summary.push(
      `| ${size} MB | ${mean(ferryOutages).toFixed(0)} ms | ${mean(manualOutages).toFixed(0)} ms | **${ratio(mean(ferryOutages), mean(manualOutages))}** | ${mean(floors).toFixed(0)} ms | **${ratio(mean(ferryOutages), mean(floors))}** | ${peak} MiB |`,
    );
    await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
    await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
  }
  console.log('\n| Redis data | order | client outage, ferry | client outage, manual | ferry / manual | ferry floor (runc ckpt + restore) | ferry / floor | manual floor | ferry\'s own downtime | archive | archive stream | relayed to podman | agent peak RSS (A / B) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  console.log('\nBoth orders together (means):\n');
  console.log('| Redis data | client outage, ferry | client outage, manual | ferry / manual | ferry floor | ferry / floor | agent peak RSS, either agent |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of summary) console.log(row);
  console.log('\nclient outage: a Redis PING every 10 ms to both hosts; the gap between the source\'s last answer and the destination\'s first.');
  console.log('floor: runc\'s checkpoint plus runc\'s restore of the same move, from podman --print-stats.');
}
