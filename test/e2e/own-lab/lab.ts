// For e2e files that need a lab of their own (an SSH-only lab, a second site, three hosts): the
// same helpers as ../lab.ts, bound to that lab's name and subnet. Their vitest project (e2e-own-lab)
// runs beside the shared lab's, one file at a time, and each file brings its lab up and down itself.
import { execa, type Result } from 'execa';
import { REDIS_IMAGE, redisCli, ROOT } from '../lab.ts';

export interface OwnLabOptions {
  name: string;
  subnet: string;
  hosts: string[];
  /** More of scripts/lab's environment, e.g. FERRY_LAB_SITE2_SUBNET. */
  env?: Record<string, string>;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for an assertion's message. */
  output: string;
  /** --json events, when the command was run with --json. */
  events: Array<Record<string, unknown>>;
}

export function ownLab(options: OwnLabOptions) {
  const env = { FERRY_LAB: options.name, FERRY_LAB_SUBNET: options.subnet, FERRY_AGENT_BIN: `${ROOT}test/fixtures/ferry-agent-test`, ...options.env };
  const lab = (args: string[], reject = true): Promise<Result> => execa(`${ROOT}scripts/lab`, args, { env, reject, timeout: 600_000 });
  const podman = async (host: string, args: string[], reject = false) => String((await lab(['podman', host, ...args], reject)).stdout).trim();
  const addresses = new Map<string, string>();
  /** A host's address, as the lab has it (a host of another site has another subnet). */
  const ip = async (host: string) => {
    let address = addresses.get(host);
    if (!address) {
      address = String((await lab(['ip', host])).stdout).trim();
      addresses.set(host, address);
    }
    return address;
  };
  const inventory = `/var/lib/ferry-lab/${options.name}/inventory.json`;

  async function ferry(args: string[]): Promise<CliRun> {
    const r = await execa(`${ROOT}bin/ferry`, [...args, '--inventory', inventory], { reject: false, timeout: 600_000 });
    const stdout = String(r.stdout);
    const events = args.includes('--json') ? stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr), output: `${stdout}\n${String(r.stderr)}`, events };
  }

  /** The hosts where the container runs: a migration must always leave exactly one. */
  async function running(name: string): Promise<string[]> {
    const states = await Promise.all(options.hosts.map(async (h) => [h, await podman(h, ['container', 'inspect', '--format', '{{.State.Status}}', name])] as const));
    return states.filter(([, s]) => s === 'running').map(([h]) => h);
  }

  /** An in-memory Redis with a published port; `extra` goes to podman run before the image. */
  async function startRedis(host: string, name: string, port: number, extra: string[] = []): Promise<void> {
    await podman(host, ['rm', '-f', '-t', '0', '--ignore', name]);
    await lab(['podman', host, 'run', '-d', '--name', name, '-p', `${port}:6379`, ...extra, REDIS_IMAGE, 'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']);
    const address = await ip(host);
    for (let i = 0; i < 50; i += 1) {
      if ((await redisCli(address, port, ['ping']).catch(() => '')) === 'PONG') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`redis ${name} did not answer on ${host}`);
  }

  const removeEverywhere = (names: string[]) => Promise.all(options.hosts.flatMap((h) => names.map((n) => podman(h, ['rm', '-f', '-t', '0', '--ignore', n]))));

  return { env, lab, podman, ip, inventory, ferry, running, startRedis, removeEverywhere };
}
