// npm run soak -- [--hosts 3] [--rounds 100] [--seed S] [--out DIR]: a seeded campaign of
// random faults on a lab of its own (scripts/campaign/campaign.ts). Exit code 1 when a round failed.
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign/campaign.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '100' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    out: { type: 'string' },
    keys: { type: 'string', default: '20000' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run soak -- [--hosts N] [--rounds N] [--seed S] [--keys N] [--out DIR]

Moves a Redis holding N keys among the hosts of a lab of its own (ferrysoak), striking each move
with a fault drawn from the seed at a moment drawn too: the source's or the destination's agent
killed with its process group, the coordinator killed, the destination's link down for 4 s, a
slow link, or none. After each move exactly one host must run it, answering with every key,
with nothing left elsewhere and every journal settled; a move that fails with no fault struck
fails the campaign. The seed is printed first: the same seed replays the same campaign. Each
move's output is kept in DIR (default /var/lib/ferry-lab/soak-SEED).`);
  process.exit(0);
}
const seed = Number(values.seed);
const outDir = values.out ?? `/var/lib/ferry-lab/soak-${seed}`;
const results = await runCampaign({
  lab: 'ferrysoak',
  subnet: '172.31.93',
  hosts: Number(values.hosts),
  rounds: Number(values.rounds),
  seed,
  keys: Number(values.keys),
  outDir,
  log: (line) => console.log(line),
});
process.exit(results.every((r) => r.ok) && results.length === Number(values.rounds) ? 0 : 1);
