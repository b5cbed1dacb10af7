// A rolling upgrade of a lab's podman, one host after the other, as an operator would run it with
// Ferry: cordon the host, evacuate it to the others, upgrade its podman to 5 (scripts/lab
// podman-upgrade: the package's new binaries over the storage the old one left), reboot it,
// uncordon it, and return to it every container the evacuation took. The e2e test
// (test/e2e/own-lab/evacuate.test.ts) checks what it leaves behind; `npm run bench -- --scenario
// rollout` times it (scripts/benchmark/rollout.ts). Both bring their own containers and lab.

/** One container's move in the rollout, as its migration's done event said it. */
export interface RolloutMove {
  container: string;
  from: string;
  to: string;
  downtimeMs: number;
}

export interface RolloutStep {
  host: string;
  evacuated: RolloutMove[];
  returned: RolloutMove[];
  /** Wall time of each stage, ms. */
  ms: { evacuate: number; upgrade: number; reboot: number; return: number };
  podmanAfter: string;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  events: Array<Record<string, unknown>>;
}

export interface RolloutOptions {
  /** The hosts, in the order they are upgraded; each evacuates to all the others. */
  hosts: string[];
  /** Runs scripts/lab for the rollout's lab; resolves with its stdout, rejects when it fails. */
  lab: (args: string[]) => Promise<string>;
  /** Runs bin/ferry with the lab's inventory. */
  ferry: (args: string[]) => Promise<CliRun>;
  parallel?: number | undefined;
  /** A line for each stage, as it starts. */
  say?: ((line: string) => void) | undefined;
  /** Called once each host is done, while the next ones still run the old podman. */
  afterStep?: ((step: RolloutStep) => Promise<void>) | undefined;
}

export class RolloutError extends Error {
  override readonly name = 'RolloutError';
}

const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const result = await work();
  return [result, Math.round(performance.now() - started)];
};

/** The moves of an evacuate or return run, from its --json events; throws unless it exited 0. */
function moves(what: string, run: CliRun, fallbackFrom: string): RolloutMove[] {
  if (run.code !== 0) throw new RolloutError(`${what} exited with ${run.code}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-1000)}`);
  const end = run.events.find((e) => e.event === 'evacuated') as { results?: Array<{ container: string; to: string; from?: string; result: string; downtimeMs?: number }> } | undefined;
  return (end?.results ?? [])
    .filter((r) => r.result === 'moved')
    .map((r) => ({ container: r.container, from: r.from ?? fallbackFrom, to: r.to, downtimeMs: r.downtimeMs ?? 0 }));
}

export async function rollingUpgrade(options: RolloutOptions): Promise<RolloutStep[]> {
  const say = options.say ?? (() => undefined);
  const parallel = String(options.parallel ?? 2);
  const steps: RolloutStep[] = [];
  for (const host of options.hosts) {
    const others = options.hosts.filter((h) => h !== host);
    say(`${host}: cordon, evacuate to ${others.join(',')}`);
    await mustPass(options.ferry(['cordon', host, '--reason', 'podman upgrade']), `cordon ${host}`);
    const [evacuated, evacuateMs] = await timed(async () =>
      moves(`evacuate ${host}`, await options.ferry(['evacuate', '--from', host, '--to', others.join(','), '--parallel', parallel, '--json']), host),
    );
    say(`${host}: podman upgrade, reboot`);
    const [, upgradeMs] = await timed(() => options.lab(['podman-upgrade', host]));
    const [, rebootMs] = await timed(() => options.lab(['reboot', host]));
    const podmanAfter = (await options.lab(['podman', host, '--version'])).trim();
    say(`${host}: ${podmanAfter}; uncordon, return`);
    await mustPass(options.ferry(['uncordon', host]), `uncordon ${host}`);
    const [returned, returnMs] = await timed(async () => moves(`return ${host}`, await options.ferry(['return', host, '--parallel', parallel, '--json']), ''));
    const step = { host, evacuated, returned, ms: { evacuate: evacuateMs, upgrade: upgradeMs, reboot: rebootMs, return: returnMs }, podmanAfter };
    steps.push(step);
    await options.afterStep?.(step);
  }
  return steps;
}

async function mustPass(run: Promise<CliRun>, what: string): Promise<void> {
  const r = await run;
  if (r.code !== 0) throw new RolloutError(`${what} exited with ${r.code}: ${r.stdout.slice(-1000)} ${r.stderr.slice(-1000)}`);
}
