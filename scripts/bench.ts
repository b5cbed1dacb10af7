// npm run bench: Ferry's speed and memory, measured in a lab of its own (FERRY_LAB=ferrybench on
// 172.31.79.0/24), made and removed here. Every figure that has a baseline is printed beside it,
// from the same run: these machines are shared and noisy, so ratios say more than seconds.
//   npm run bench -- [--scenario compare|redis|data|held|wan|evacuate|rollout|cpu|all] [--sizes 64,256,1024,4096] [--mb 200]
//                    [--data-mb 1024] [--compress none|zstd] [--keep]
// compare (the default): client-observed downtime of `ferry migrate` against the manual podman
// pipeline, the floor of each move, the link's own rate and the agents' peak memory; see
// scripts/benchmark/compare.ts. redis, data: single moves, phase by phase (scripts/benchmark/moves.ts).
// held: a connection held to a service address across a move, its stall against the downtime
// (scripts/benchmark/held.ts). wan: over a 100 Mbit/s link, Ferry against the manual pipeline for
// compressible and random memory (scripts/benchmark/wan.ts). evacuate: six Redis containers
// (--mb each, 64 unless given) off hostA to hostB and hostC, --parallel 1 against --parallel 3, in
// a lab of three hosts (scripts/benchmark/evacuate.ts). rollout: a rolling upgrade of three hosts
// from podman 4.3 to 5.8, two Redis of --mb (64 unless given) per host, each stage's time and each
// container's downtimes (scripts/benchmark/rollout.ts); not part of all (it upgrades the lab's hosts).
// cpu: a Redis of --mb (1024 unless given) moves there and back while every process's CPU time is
// sampled: each phase's CPU seconds by agent thread, CRIU, podman and the kernel, beside what the
// cores could give (scripts/benchmark/cpu.ts); not part of all.
import { parseArgs } from 'node:util';
import { compare } from './benchmark/compare.ts';
import { labDown, labUp } from './benchmark/lab.ts';
import { heldMoves } from './benchmark/held.ts';
import { wan } from './benchmark/wan.ts';
import { dataMoves, redisMoves } from './benchmark/moves.ts';
import { evacuations } from './benchmark/evacuate.ts';
import { rollout } from './benchmark/rollout.ts';
import { cpuMoves } from './benchmark/cpu.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'compare' },
    sizes: { type: 'string', default: '64,256,1024,4096' },
    mb: { type: 'string' },
    'data-mb': { type: 'string', default: '1024' },
    compress: { type: 'string', default: 'none' },
    keep: { type: 'boolean', default: false },
  },
});
const scenario = values.scenario ?? 'compare';
if (!['compare', 'redis', 'data', 'held', 'wan', 'evacuate', 'rollout', 'cpu', 'all'].includes(scenario)) {
  console.error(`--scenario must be compare, redis, data, held, wan, evacuate, rollout, cpu or all, not "${scenario}"`);
  process.exit(2);
}
const sizes = (values.sizes ?? '').split(',').map(Number);
if (!sizes.length || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
  console.error(`--sizes must be whole numbers of MB separated by commas, not "${values.sizes}"`);
  process.exit(2);
}

const mb = Number(values.mb ?? '200');
// wan alone runs in an SSH-only lab: Ferry through SSH tunnels, the manual pipeline by scp.
const labInfo = await labUp(['evacuate', 'rollout', 'all'].includes(scenario) ? 3 : 2, { ssh: scenario === 'wan' });
try {
  console.log(`bench: ${new Date().toISOString()}, command: npm run bench -- ${process.argv.slice(2).join(' ')}`);
  if (scenario === 'compare' || scenario === 'all') await compare(labInfo, sizes);
  if (scenario === 'redis' || scenario === 'all') await redisMoves(labInfo, mb, values.compress ?? 'none');
  if (scenario === 'data' || scenario === 'all') await dataMoves(labInfo, Number(values['data-mb']));
  if (scenario === 'held' || scenario === 'all') await heldMoves(labInfo, mb);
  if (scenario === 'wan' || scenario === 'all') await wan(labInfo, mb);
  if (scenario === 'evacuate' || scenario === 'all') await evacuations(labInfo, Number(values.mb ?? '64'));
  if (scenario === 'rollout') await rollout(labInfo, Number(values.mb ?? '64'));
  if (scenario === 'cpu') await cpuMoves(labInfo, Number(values.mb ?? '1024'));
} finally {
  if (!values.keep) await labDown();
}
