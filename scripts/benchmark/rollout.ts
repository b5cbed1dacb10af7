// npm run bench -- --scenario rollout (--mb 64 by default here): a rolling upgrade of a lab of three
// hosts from podman 4.3 to 5.8 (scripts/rollout/rollout.ts), two Redis containers of --mb random
// values on each host. Prints the time of each stage per host, and each container's two
// downtimes: leaving its host, and coming back to it (by then on podman 5).
import { execa } from 'execa';
import { rollingUpgrade, type CliRun } from '../rollout/rollout.ts';
import { fillRedis, lab, ROOT, startRedis, type Lab } from './lab.ts';

const HOSTS = ['hostA', 'hostB', 'hostC'];
const PER_HOST = 2;

export async function rollout(labInfo: Lab, megabytes: number): Promise<void> {
  console.log(`\n== rollout: podman 4.3 -> 5.8 on ${HOSTS.join(', ')}, one host at a time (cordon, evacuate, upgrade, reboot, uncordon, return), ${PER_HOST} Redis of ${megabytes} MB each per host`);
  const containers = HOSTS.flatMap((home, h) => Array.from({ length: PER_HOST }, (_, i) => ({ name: `bench-roll-${home.slice(-1).toLowerCase()}${i + 1}`, home, port: 6440 + h * PER_HOST + i })));
  for (const c of containers) {
    await lab('podman', c.home, 'rm', '-f', '-t', '0', '--ignore', c.name);
    await startRedis(c.home, c.name, c.port);
    await fillRedis(labInfo.ip[c.home] ?? '', c.port, megabytes);
  }
  const ferry = async (args: string[]): Promise<CliRun> => {
    const r = await execa(`${ROOT}bin/ferry`, [...args, '--inventory', labInfo.inventory], { reject: false });
    const stdout = String(r.stdout);
    const events = args.includes('--json') ? stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr), events };
  };
  const started = performance.now();
  const steps = await rollingUpgrade({ hosts: HOSTS, lab: (args) => lab(...args), ferry, parallel: 2, say: (line) => console.log(`rollout: ${line}`) });
  const wallMs = Math.round(performance.now() - started);

  console.log('\n| host | evacuate | podman upgrade | reboot | return | podman after |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const s of steps) {
    console.log(`| ${s.host} | ${(s.ms.evacuate / 1000).toFixed(1)} s | ${(s.ms.upgrade / 1000).toFixed(1)} s | ${(s.ms.reboot / 1000).toFixed(1)} s | ${(s.ms.return / 1000).toFixed(1)} s | ${s.podmanAfter} |`);
  }
  console.log('\n| container | home | out to | downtime out | downtime back |');
  console.log('| --- | --- | --- | --- | --- |');
  const downtimes: number[] = [];
  for (const c of containers) {
    const step = steps.find((s) => s.host === c.home);
    const out = step?.evacuated.find((m) => m.container === c.name);
    const back = step?.returned.find((m) => m.container === c.name);
    if (out) downtimes.push(out.downtimeMs);
    if (back) downtimes.push(back.downtimeMs);
    console.log(`| ${c.name} | ${c.home} | ${out?.to ?? 'did not move'} | ${out ? `${out.downtimeMs} ms` : '-'} | ${back ? `${back.downtimeMs} ms` : 'not back'} |`);
  }
  const mean = downtimes.reduce((a, b) => a + b, 0) / Math.max(1, downtimes.length);
  console.log(`\nthe whole rollout: ${(wallMs / 1000).toFixed(1)} s; ${downtimes.length} moves, downtime mean ${Math.round(mean)} ms, max ${Math.max(0, ...downtimes)} ms`);
  for (const c of containers) await lab('podman', c.home, 'rm', '-f', '-t', '0', '--ignore', c.name);
}
