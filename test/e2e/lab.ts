// Helpers for end-to-end tests: the lab that test/e2e/lab-setup.ts brings up (real network
// namespaces, real podman and CRIU per host, a real agent per host) and the real CLI.
import { execa, type Result } from 'execa';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const LAB = process.env.FERRY_LAB ?? 'ferrytest';
export const LAB_SUBNET = process.env.FERRY_LAB_SUBNET ?? '172.31.78';
export const labEnv = {
  FERRY_LAB: LAB,
  FERRY_LAB_SUBNET: LAB_SUBNET,
  FERRY_AGENT_BIN: `${ROOT}test/fixtures/ferry-agent-test`,
};

export async function lab(args: string[], options: { input?: string; reject?: boolean } = {}): Promise<Result> {
  return execa(`${ROOT}scripts/lab`, args, { env: labEnv, reject: options.reject ?? true, input: options.input, timeout: 300_000 });
}

export async function podman(host: string, args: string[], options: { reject?: boolean } = {}): Promise<string> {
  return String((await lab(['podman', host, ...args], options)).stdout);
}

export async function hostIp(host: string): Promise<string> {
  return String((await lab(['ip', host])).stdout).trim();
}

export async function inventoryPath(): Promise<string> {
  return String((await lab(['inventory'])).stdout).trim();
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** --json events, when the command was run with --json. */
  events: Array<Record<string, unknown>>;
}

export async function ferry(args: string[], options: { bin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(`${ROOT}bin/${options.bin ?? 'ferry'}`, [...args, '--inventory', await inventoryPath()], {
    reject: false,
    timeout: options.timeoutMs ?? 300_000,
  });
  const stdout = String(r.stdout);
  const events = args.includes('--json')
    ? stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr), events };
}

/** The state of a container on a host, or undefined when the host has no such container. */
export async function containerState(host: string, name: string): Promise<string | undefined> {
  const r = await lab(['podman', host, 'container', 'inspect', '--format', '{{.State.Status}}', name], { reject: false });
  if (r.exitCode !== 0) {
    if (/no such container/i.test(String(r.stderr))) return undefined;
    throw new Error(`podman inspect on ${host} failed: ${String(r.stderr)}`);
  }
  return String(r.stdout).trim();
}

/** Which lab hosts run the container: a migration must always leave exactly one. */
export async function runningOn(name: string, hosts = ['hostA', 'hostB']): Promise<string[]> {
  const states = await Promise.all(hosts.map(async (h) => [h, await containerState(h, name)] as const));
  return states.filter(([, s]) => s === 'running').map(([h]) => h);
}

export async function redisCli(address: string, port: number, args: string[], input?: string): Promise<string> {
  const r = await execa('redis-cli', ['-h', address, '-p', String(port), ...args], { input, timeout: 60_000 });
  return String(r.stdout).trim();
}

/** Writes `count` keys key:0..key:N-1 with values val:0..; --pipe sends them in one go. */
export async function fillRedis(address: string, port: number, count: number): Promise<void> {
  const commands = Array.from({ length: count }, (_, i) => `SET key:${i} val:${i}\r\n`).join('');
  const out = await redisCli(address, port, ['--pipe'], commands);
  if (!out.includes(`errors: 0, replies: ${count}`)) throw new Error(`redis fill failed: ${out}`);
}

export const REDIS_IMAGE = 'localhost/ferry-lab/redis:latest';
export const BUSYBOX_IMAGE = 'localhost/ferry-lab/busybox:latest';

/** Starts an in-memory-only Redis on a host with a published port. */
export async function startRedis(host: string, name: string, hostPort: number): Promise<void> {
  await podman(host, ['run', '-d', '--name', name, '-p', `${hostPort}:6379`, REDIS_IMAGE, 'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']);
  const ip = await hostIp(host);
  for (let i = 0; i < 50; i += 1) {
    const pong = await redisCli(ip, hostPort, ['ping']).catch(() => '');
    if (pong === 'PONG') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis ${name} did not answer on ${ip}:${hostPort}`);
}

/** Removes a container from every lab host, whatever state it is in. */
export async function removeEverywhere(name: string, hosts = ['hostA', 'hostB']): Promise<void> {
  await Promise.all(hosts.map((h) => podman(h, ['rm', '-f', '-t', '0', '--ignore', name], { reject: false })));
}
