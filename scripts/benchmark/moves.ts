// npm run bench -- --scenario redis|data: single moves and what each phase took.
//   redis: a Redis holding incompressible values moves there and back; phase times, bytes and the
//          agents' peak RSS.
//   data:  1 GB of bind-mounted data, 10 MB of which the container keeps rewriting, moves with
//          and without the live pre-sync.
import { fillRedis, ferryMigrate, lab, mib, redisRss, sampleRss, startRedis, type Lab } from './lab.ts';

const NAME = 'bench-redis';
const PORT = 6390;

export async function redisMoves(labInfo: Lab, megabytes: number, compress: string): Promise<void> {
  await startRedis('hostA', NAME, PORT);
  await fillRedis(labInfo.ip.hostA ?? '', PORT, megabytes);
  console.log(`\n== redis: ${megabytes} MB of random values (RSS ${await redisRss(labInfo.ip.hostA ?? '', PORT)}); compress=${compress}`);
  console.log('| run | checkpoint (podman) | archive | stream | rate | restore after the last byte | streamed import | verify | total | downtime | floor | peak RSS src agent | peak RSS dst agent |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
    const rss = sampleRss(labInfo.agents);
    const events = await ferryMigrate(labInfo.inventory, from, to, NAME, ['--compress', compress]).finally(() => rss.stop());
    const peaks = rss.stop();
    const s = events.find((e) => e.event === 'done')?.summary as Record<string, number>;
    console.log(
      `| ${from}->${to} | ${s.checkpointMs} ms | ${mib(s.archiveBytes ?? 0)} MiB | ${s.transferMs} ms | ${((s.archiveBytes ?? 0) / 1048576 / ((s.transferMs ?? 1) / 1000)).toFixed(0)} MiB/s` +
        ` | ${s.restoreMs} ms | ${s.streamedRestore ? 'yes' : 'no'} | ${s.verifyMs} ms | ${s.totalMs} ms | ${s.downtimeMs} ms | ${s.floorMs} ms` +
        ` | ${((peaks[from] ?? 0) / 1024).toFixed(0)} MiB | ${((peaks[to] ?? 0) / 1024).toFixed(0)} MiB |`,
    );
  }
  await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
  await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
}

export async function dataMoves(labInfo: Lab, totalMiB: number): Promise<void> {
  const name = 'bench-data';
  const dir = '/srv/bench-data';
  const files = Math.max(1, Math.round(totalMiB / 64));
  await lab('exec', 'hostA', 'sh', '-c', `rm -rf ${dir}* && mkdir -p ${dir} && for i in $(seq ${files}); do head -c ${Math.round((totalMiB * 1048576) / files)} /dev/urandom > ${dir}/part$i; done`);
  // 10 MB that the container keeps rewriting while it runs.
  const writer = 'while true; do head -c 10485760 /dev/urandom > /data/hot.tmp && mv /data/hot.tmp /data/hot.bin; sleep 0.2; done & exec httpd -f -p 8080';
  await lab('podman', 'hostA', 'run', '-d', '--name', name, '-p', '8099:8080', '-v', `${dir}:/data`, 'localhost/ferry-lab/busybox:latest', 'sh', '-c', writer);
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`\n== data: ${totalMiB} MiB in ${files} files bind-mounted at ${dir}, 10 MiB rewritten every 0.2 s`);
  console.log('| run | data sent while running | data sent after the freeze | archive | downtime (freeze to first answer) | total |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [from, to, extra, label] of [['hostA', 'hostB', [], 'with pre-sync'], ['hostB', 'hostA', ['--no-presync'], 'without pre-sync']] as const) {
    const events = await ferryMigrate(labInfo.inventory, from, to, name, [...extra]);
    const s = events.find((e) => e.event === 'done')?.summary as Record<string, number>;
    console.log(`| ${label} (${from}->${to}) | ${mib(s.dataBytesLive ?? 0)} MiB | ${mib(s.dataBytesFrozen ?? 0)} MiB | ${mib(s.archiveBytes ?? 0)} MiB | ${s.downtimeMs} ms | ${s.totalMs} ms |`);
  }
  await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', name);
  await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', name);
}
