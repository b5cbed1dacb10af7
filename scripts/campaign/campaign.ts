// A seeded campaign of random faults (npm run soak; test/e2e/own-lab/soak.test.ts runs a short
// one). A Redis with keys in memory moves among the lab's hosts, round after round; each move is
// struck by a fault drawn from the seed (the source's or the destination's agent killed with its
// process group, the coordinator killed, the destination's link down for a few seconds, a slow
// link, or none) at a moment drawn too. After each move: exactly one host runs the container,
// it answers with every key, no other host holds anything of it, and every host's journal has
// settled. A move that fails with no fault struck fails the campaign too. Each move's output is
// kept; the seed replays a campaign.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface CampaignOptions {
  lab: string;
  subnet: string;
  hosts: number;
  rounds: number;
  seed: number;
  /** Where each move's output goes (round-N.log) and the campaign's summary (campaign.log). */
  outDir: string;
  /** Keys the Redis holds (each 1 KiB): its memory is what moves. */
  keys?: number | undefined;
  log?: ((line: string) => void) | undefined;
}

export type Fault = 'none' | 'kill-source' | 'kill-destination' | 'kill-coordinator' | 'link-down' | 'slow-link';
const FAULTS: readonly Fault[] = ['none', 'kill-source', 'kill-destination', 'kill-coordinator', 'link-down', 'slow-link'];
/** When a fault strikes: the first --json event of that kind, then a random delay. */
const MOMENTS = ['phase:checkpoint', 'dumped', 'progress', 'checkpointed', 'transferred', 'phase:restore', 'phase:verify'] as const;

export interface RoundResult {
  round: number;
  from: string;
  to: string;
  fault: Fault;
  moment: string;
  /** The fault struck (its moment came before the move ended). */
  struck: boolean;
  exitCode: number;
  /** Where the container runs once settled. */
  runsOn: string[];
  ok: boolean;
  problem: string;
  ms: number;
}

/** mulberry32: small, seedable, the same sequence everywhere. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runCampaign(options: CampaignOptions): Promise<RoundResult[]> {
  const env = { ...process.env, FERRY_LAB: options.lab, FERRY_LAB_SUBNET: options.subnet, FERRY_AGENT_BIN: `${ROOT}test/fixtures/ferry-agent-test` };
  const lab = async (args: string[], reject = true) => execa(`${ROOT}scripts/lab`, args, { env, reject, timeout: 600_000 });
  const say = (line: string) => {
    options.log?.(line);
    appendFileSync(join(options.outDir, 'campaign.log'), `${line}\n`);
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'campaign.log'), '');
  const hosts = Array.from({ length: options.hosts }, (_, i) => `host${String.fromCharCode(65 + i)}`);
  const next = random(options.seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
  const name = 'soak';
  const port = 6420;
  const keys = options.keys ?? 20_000;
  say(`soak: seed ${options.seed}, ${options.rounds} rounds, ${options.hosts} hosts, lab ${options.lab}; replay with --seed ${options.seed}`);

  await lab(['down'], false);
  try {
    return await campaign();
  } finally {
    await lab(['down'], false); // whatever happened: no lab left behind
  }

  async function campaign(): Promise<RoundResult[]> {
    await lab(['up', '--hosts', String(options.hosts)]);
    const inventory = String((await lab(['inventory'])).stdout).trim();
    const state = JSON.parse(readFileSync(inventory, 'utf8')) as { hosts: Record<string, { address: string; stateDir: string }> };
    const ip = (host: string) => state.hosts[host]?.address ?? '';
    const podman = async (host: string, args: string[]) => String((await lab(['podman', host, ...args], false)).stdout).trim();
    const redis = async (host: string, args: string[]) =>
      String((await execa('redis-cli', ['-h', ip(host), '-p', String(port), ...args], { reject: false, timeout: 5_000 })).stdout).trim();
    const runningOn = async () => {
      const states = await Promise.all(hosts.map(async (h) => [h, await podman(h, ['container', 'inspect', '--format', '{{.State.Status}}', name])] as const));
      return states.filter(([, s]) => s === 'running').map(([h]) => h);
    };
    /** Nothing of a migration left on `host`: no archive, no unsettled journal record, no pages. */
    const settledOn = async (host: string) => {
      const dir = state.hosts[host]?.stateDir ?? '';
      const out = await execa('sh', ['-c', `ls ${dir}/agent/archives; grep -L '"phase": "\\(done\\|failed\\)"' ${dir}/agent/migrations/*.json 2>/dev/null; true`], { reject: false });
      const pages = String((await lab(['exec', host, 'sh', '-c', 'ls -A /var/lib/containers/storage/ferry-pages 2>/dev/null || true'], false)).stdout).trim();
      return String(out.stdout).trim() === '' && pages === '';
    };

    // The container and the state it must keep: `keys` keys and a marker.
    await podman('hostA', ['rm', '-f', '-t', '0', '--ignore', name]);
    await lab(['podman', 'hostA', 'run', '-d', '--name', name, '-p', `${port}:6379`, 'localhost/ferry-lab/redis', 'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']);
    for (let i = 0; i < 100 && (await redis('hostA', ['ping'])) !== 'PONG'; i += 1) await sleep(100);
    const fill = Array.from({ length: keys }, (_, i) => `SET key:${i} ${String(i).padStart(8, '0').repeat(128)}\r\n`).join('');
    await execa('redis-cli', ['-h', ip('hostA'), '-p', String(port), '--pipe'], { input: fill });
    await redis('hostA', ['set', 'marker', `seed-${options.seed}`]);
    const expected = String(keys + 1);

    const results: RoundResult[] = [];
    let current = 'hostA';
    for (let round = 1; round <= options.rounds; round += 1) {
      const to = pick(hosts.filter((h) => h !== current));
      const fault = pick(FAULTS);
      const moment = pick(MOMENTS);
      const delayMs = Math.floor(next() * 800);
      const started = performance.now();
      const log = join(options.outDir, `round-${round}.log`);
      const result: RoundResult = { round, from: current, to, fault, moment: `${moment}+${delayMs}ms`, struck: false, exitCode: -1, runsOn: [], ok: false, problem: '', ms: 0 };
      if (fault === 'slow-link') await lab(['link', to, '--delay', '20', '--rate', '200']);
      const child: ResultPromise = execa(`${ROOT}bin/ferry`, ['migrate', '--from', current, '--to', to, name, '--json', '--inventory', inventory, '--transfer-retry-ms', '8000'], { reject: false, all: true });
      let output = '';
      const [kind, phase] = moment.split(':');
      let resolveMoment!: () => void;
      const momentCame = new Promise<void>((resolve) => (resolveMoment = resolve));
      let partial = '';
      child.all?.on('data', (chunk: Buffer) => {
        output += String(chunk);
        const lines = (partial + String(chunk)).split('\n');
        partial = lines.pop() ?? ''; // a line still being written
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          const event = JSON.parse(line) as { event?: string; phase?: string };
          if (event.event === kind && (!phase || event.phase === phase)) resolveMoment();
        }
      });
      const ended = child.then(() => undefined);
      const strike = (async () => {
        await Promise.race([momentCame, ended]);
        await sleep(delayMs);
        if (child.exitCode !== null && child.exitCode !== undefined) return;
        if (fault === 'none' || fault === 'slow-link') return;
        result.struck = true;
        if (fault === 'kill-coordinator') child.kill('SIGKILL');
        else if (fault === 'link-down') {
          const veth = `${options.lab}-v${to.slice(-1).toLowerCase()}`;
          await execa('ip', ['link', 'set', veth, 'down']);
          await sleep(4_000);
          await execa('ip', ['link', 'set', veth, 'up']);
        } else {
          const host = fault === 'kill-source' ? current : to;
          await lab(['agent-stop', host, '--kill']);
          await sleep(2_000);
          await lab(['agent-start', host]);
        }
      })();
      const r = await child;
      await strike;
      if (fault === 'slow-link') await lab(['link', to, '--clear'], false);
      result.exitCode = r.exitCode ?? -1;
      writeFileSync(log, `${JSON.stringify({ ...result, seed: options.seed })}\n${output}`);
      // Settled: one copy, answering with every key, nothing elsewhere, every journal over.
      const deadline = Date.now() + 120_000;
      for (;;) {
        const runs = await runningOn();
        const one = runs.length === 1 ? (runs[0] as string) : '';
        const answers = one ? (await redis(one, ['dbsize'])) === expected && (await redis(one, ['get', 'marker'])) === `seed-${options.seed}` : false;
        const leftovers = one ? (await Promise.all(hosts.filter((h) => h !== one).map(async (h) => (await podman(h, ['ps', '-a', '--external', '--format', '{{.Names}}'])).split('\n').includes(name)))).some(Boolean) : true;
        const settled = (await Promise.all(hosts.map(settledOn))).every(Boolean);
        result.runsOn = runs;
        if (one && answers && !leftovers && settled) {
          current = one;
          result.ok = result.struck || result.exitCode === 0;
          if (!result.ok) result.problem = `the move failed (exit ${result.exitCode}) with no fault struck`;
          break;
        }
        if (Date.now() > deadline) {
          result.problem = `not settled within 120 s: runs on [${runs.join(', ')}], answers with every key: ${answers}, leftovers elsewhere: ${leftovers}, journals settled: ${settled}`;
          if (one) current = one;
          break;
        }
        await sleep(1_000);
      }
      result.ms = Math.round(performance.now() - started);
      say(`round ${round}: ${result.from} -> ${result.to}, ${fault}${result.struck ? ` at ${result.moment}` : ''}: exit ${result.exitCode}, runs on ${result.runsOn.join(',') || 'nothing'}, ${result.ok ? 'ok' : `FAILED: ${result.problem}`} (${result.ms} ms)`);
      results.push(result);
      if (!result.ok && result.runsOn.length !== 1) break; // nothing sensible to move any more
    }
    const failed = results.filter((r) => !r.ok).length;
    say(`soak: ${results.length - failed} of ${results.length} rounds ok (seed ${options.seed}); outputs in ${options.outDir}`);
    return results;
  }
}
