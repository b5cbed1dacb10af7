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
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'campaign.log'), '');
  const campaign = new Campaign(options);
  campaign.say(`soak: seed ${options.seed}, ${options.rounds} rounds, ${options.hosts} hosts, lab ${options.lab}; replay with --seed ${options.seed}`);
  await campaign.lab(['down'], false);
  try {
    await campaign.setUp();
    const results: RoundResult[] = [];
    for (let round = 1; round <= options.rounds; round += 1) {
      const result = await campaign.round(round);
      results.push(result);
      if (!result.ok && result.runsOn.length !== 1) break; // nothing sensible to move any more
    }
    const failed = results.filter((r) => !r.ok).length;
    campaign.say(`soak: ${results.length - failed} of ${results.length} rounds ok (seed ${options.seed}); outputs in ${options.outDir}`);
    return results;
  } finally {
    await campaign.lab(['down'], false); // whatever happened: no lab left behind
  }
}

/** What the campaign reads of the lab's inventory. */
interface LabState {
  hosts: Record<string, { address: string; stateDir: string }>;
}

const NAME = 'soak';
const PORT = 6420;

/** One campaign's lab, its container and its draws. */
class Campaign {
  readonly #options: CampaignOptions;
  readonly #env: NodeJS.ProcessEnv;
  readonly #hosts: string[];
  readonly #next: () => number;
  #inventory = '';
  #state: LabState = { hosts: {} };
  /** What the container must answer: its number of keys, and its marker. */
  #expected = '';
  /** Where the container runs now. */
  #current = 'hostA';

  constructor(options: CampaignOptions) {
    this.#options = options;
    this.#env = { ...process.env, FERRY_LAB: options.lab, FERRY_LAB_SUBNET: options.subnet, FERRY_AGENT_BIN: `${ROOT}test/fixtures/ferry-agent-test` };
    this.#hosts = Array.from({ length: options.hosts }, (_, i) => `host${String.fromCharCode(65 + i)}`);
    this.#next = random(options.seed);
  }

  lab(args: string[], reject = true) {
    return execa(`${ROOT}scripts/lab`, args, { env: this.#env, reject, timeout: 600_000 });
  }

  say(line: string): void {
    this.#options.log?.(line);
    appendFileSync(join(this.#options.outDir, 'campaign.log'), `${line}\n`);
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#next() * list.length)] as T;
  }

  #ip(host: string): string {
    return this.#state.hosts[host]?.address ?? '';
  }

  async #podman(host: string, args: string[]): Promise<string> {
    return String((await this.lab(['podman', host, ...args], false)).stdout).trim();
  }

  async #redis(host: string, args: string[]): Promise<string> {
    return String((await execa('redis-cli', ['-h', this.#ip(host), '-p', String(PORT), ...args], { reject: false, timeout: 5_000 })).stdout).trim();
  }

  async #runningOn(): Promise<string[]> {
    const states = await Promise.all(this.#hosts.map(async (h) => [h, await this.#podman(h, ['container', 'inspect', '--format', '{{.State.Status}}', NAME])] as const));
    return states.filter(([, s]) => s === 'running').map(([h]) => h);
  }

  /** Nothing of a migration left on `host`: no archive, no unsettled journal record, no pages. */
  async #settledOn(host: string): Promise<boolean> {
    const dir = this.#state.hosts[host]?.stateDir ?? '';
    const out = await execa('sh', ['-c', `ls ${dir}/agent/archives; grep -L '"phase": "\\(done\\|failed\\)"' ${dir}/agent/migrations/*.json 2>/dev/null; true`], { reject: false });
    const pages = String((await this.lab(['exec', host, 'sh', '-c', 'ls -A /var/lib/containers/storage/ferry-pages 2>/dev/null || true'], false)).stdout).trim();
    return String(out.stdout).trim() === '' && pages === '';
  }

  /** The lab, and the container with the state it must keep: `keys` keys and a marker. */
  async setUp(): Promise<void> {
    const options = this.#options;
    const keys = options.keys ?? 20_000;
    await this.lab(['up', '--hosts', String(options.hosts)]);
    this.#inventory = String((await this.lab(['inventory'])).stdout).trim();
    this.#state = JSON.parse(readFileSync(this.#inventory, 'utf8')) as LabState;
    await this.#podman('hostA', ['rm', '-f', '-t', '0', '--ignore', NAME]);
    await this.lab(['podman', 'hostA', 'run', '-d', '--name', NAME, '-p', `${PORT}:6379`, 'localhost/ferry-lab/redis', 'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']);
    for (let i = 0; i < 100 && (await this.#redis('hostA', ['ping'])) !== 'PONG'; i += 1) await sleep(100);
    const fill = Array.from({ length: keys }, (_, i) => `SET key:${i} ${String(i).padStart(8, '0').repeat(128)}\r\n`).join('');
    await execa('redis-cli', ['-h', this.#ip('hostA'), '-p', String(PORT), '--pipe'], { input: fill });
    await this.#redis('hostA', ['set', 'marker', `seed-${options.seed}`]);
    this.#expected = String(keys + 1);
  }

  /** One move, struck by a drawn fault at a drawn moment, then checked once settled. */
  async round(round: number): Promise<RoundResult> {
    const options = this.#options;
    const current = this.#current;
    const to = this.#pick(this.#hosts.filter((h) => h !== current));
    const fault = this.#pick(FAULTS);
    const moment = this.#pick(MOMENTS);
    const delayMs = Math.floor(this.#next() * 800);
    const started = performance.now();
    const result: RoundResult = { round, from: current, to, fault, moment: `${moment}+${delayMs}ms`, struck: false, exitCode: -1, runsOn: [], ok: false, problem: '', ms: 0 };
    if (fault === 'slow-link') await this.lab(['link', to, '--delay', '20', '--rate', '200']);
    const child: ResultPromise = execa(`${ROOT}bin/ferry`, ['migrate', '--from', current, '--to', to, NAME, '--json', '--inventory', this.#inventory, '--transfer-retry-ms', '8000'], { reject: false, all: true });
    const { momentCame, output } = watchFor(child, moment);
    const ended = child.then(() => undefined);
    const strike = (async () => {
      await Promise.race([momentCame, ended]);
      await sleep(delayMs);
      if (child.exitCode !== null && child.exitCode !== undefined) return;
      if (fault === 'none' || fault === 'slow-link') return;
      result.struck = true;
      await this.#strike(fault, child, current, to);
    })();
    const r = await child;
    await strike;
    if (fault === 'slow-link') await this.lab(['link', to, '--clear'], false);
    result.exitCode = r.exitCode ?? -1;
    writeFileSync(join(options.outDir, `round-${round}.log`), `${JSON.stringify({ ...result, seed: options.seed })}\n${output()}`);
    await this.#settle(result);
    result.ms = Math.round(performance.now() - started);
    this.say(`round ${round}: ${result.from} -> ${result.to}, ${fault}${result.struck ? ` at ${result.moment}` : ''}: exit ${result.exitCode}, runs on ${result.runsOn.join(',') || 'nothing'}, ${result.ok ? 'ok' : `FAILED: ${result.problem}`} (${result.ms} ms)`);
    return result;
  }

  async #strike(fault: Fault, child: ResultPromise, from: string, to: string): Promise<void> {
    if (fault === 'kill-coordinator') child.kill('SIGKILL');
    else if (fault === 'link-down') {
      const veth = `${this.#options.lab}-v${to.slice(-1).toLowerCase()}`;
      await execa('ip', ['link', 'set', veth, 'down']);
      await sleep(4_000);
      await execa('ip', ['link', 'set', veth, 'up']);
    } else {
      const host = fault === 'kill-source' ? from : to;
      await this.lab(['agent-stop', host, '--kill']);
      await sleep(2_000);
      await this.lab(['agent-start', host]);
    }
  }

  /** Settled: one copy, answering with every key, nothing elsewhere, every journal over (120 s at most). */
  async #settle(result: RoundResult): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const runs = await this.#runningOn();
      const one = runs.length === 1 ? (runs[0] as string) : '';
      const answers = one ? (await this.#redis(one, ['dbsize'])) === this.#expected && (await this.#redis(one, ['get', 'marker'])) === `seed-${this.#options.seed}` : false;
      const leftovers = one ? (await Promise.all(this.#hosts.filter((h) => h !== one).map(async (h) => (await this.#podman(h, ['ps', '-a', '--external', '--format', '{{.Names}}'])).split('\n').includes(NAME)))).some(Boolean) : true;
      const settled = (await Promise.all(this.#hosts.map((h) => this.#settledOn(h)))).every(Boolean);
      result.runsOn = runs;
      if (one && answers && !leftovers && settled) {
        this.#current = one;
        result.ok = result.struck || result.exitCode === 0;
        if (!result.ok) result.problem = `the move failed (exit ${result.exitCode}) with no fault struck`;
        return;
      }
      if (Date.now() > deadline) {
        result.problem = `not settled within 120 s: runs on [${runs.join(', ')}], answers with every key: ${answers}, leftovers elsewhere: ${leftovers}, journals settled: ${settled}`;
        if (one) this.#current = one;
        return;
      }
      await sleep(1_000);
    }
  }
}

/** The move's output as it comes, and the first --json event that is `moment` (kind, or kind:phase). */
function watchFor(child: ResultPromise, moment: string): { momentCame: Promise<void>; output: () => string } {
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
  return { momentCame, output: () => output };
}
