// The benchmark's own lab (FERRY_LAB=ferrybench), and what every scenario does in it: run
// commands as a host, start and fill Redis, read the agents' memory, run the CLI.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { execa } from 'execa';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const NODE = `${ROOT}node_modules/node/bin/node`;
export const env = { ...process.env, FERRY_LAB: 'ferrybench', FERRY_LAB_SUBNET: '172.31.79' };

export async function lab(...args: string[]): Promise<string> {
  return String((await execa(`${ROOT}scripts/lab`, args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout).trim();
}

/** A long-running command inside a host, e.g. a receiver; resolves once it printed `ready`. */
export interface Spawned {
  /** Settles when the command exits (returned wrapped: an async function would wait for it). */
  ended: Promise<{ stdout: string; stderr: string; code: number | null }>;
}

export async function spawnIn(host: string, args: string[], ready = 'listening'): Promise<Spawned> {
  // node's own spawn: its output arrives as it is written (the receiver says when it listens).
  const child = spawn(`${ROOT}scripts/lab`, ['exec', host, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const ended = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => child.on('close', (code) => resolve({ stdout, stderr, code })));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
      if (stdout.includes(ready)) resolve();
    });
    void ended.then((r) => reject(new Error(`${args.join(' ')} on ${host} ended before it was ready: ${r.stderr}`)));
  });
  return { ended };
}

/**
 * What fresh memory costs on this machine: ms to write 256 MiB that no process has touched yet,
 * then to write it again, scaled to a GiB. On the machines of this project (VMs) memory new to a
 * process is dear: a GiB of first touches took 3 to 5 s, the same bytes again 50 ms; and writing a
 * 1 GiB file took 2.0-2.4 s of system time when the machine's memory had sat free a while, 0.16 s
 * right after another such file was deleted. Every move pays it where its pages land in new
 * memory: CRIU's restore, and the destination's page cache under the pages file. Run in a process
 * of its own, so that the bench's own memory stays as it was.
 */
export async function freshMemory(): Promise<{ firstMsPerGiB: number; againMsPerGiB: number }> {
  const script = `const b = Buffer.allocUnsafeSlow(256 << 20); let t = performance.now(); b.fill(1); const first = performance.now() - t;
t = performance.now(); b.fill(2); console.log(JSON.stringify({ first, again: performance.now() - t }));`;
  const { stdout } = await execa(NODE, ['-e', script]);
  const { first, again } = JSON.parse(String(stdout)) as { first: number; again: number };
  return { firstMsPerGiB: first * 4, againMsPerGiB: again * 4 };
}

/** One line saying what fresh memory costs here, for a scenario's header. */
export async function freshMemoryLine(): Promise<string> {
  const m = await freshMemory();
  return `fresh memory on this machine: ${(m.firstMsPerGiB / 1000).toFixed(1)} s to touch a GiB first, ${m.againMsPerGiB.toFixed(0)} ms to write it again (CRIU's restore and the destination's page cache pay the first)`;
}

export interface Lab {
  inventory: string;
  /** In an SSH-only lab: the key and known_hosts the lab made, for scp between its hosts. */
  ssh?: { identity: string; knownHosts: string } | undefined;
  pki: string;
  ip: Record<string, string>;
  agents: Record<string, number>;
}

/** Brings the lab up with `hosts` hosts (hostA, hostB, ...; evacuate needs a third). */
/** `ssh`: an SSH-only lab (scripts/lab up --ssh), as between datacenters: the agents behind SSH, scp there for the manual pipeline. */
export async function labUp(hosts = 2, options: { ssh?: boolean } = {}): Promise<Lab> {
  await execa(`${ROOT}scripts/lab`, ['down'], { env });
  await execa(`${ROOT}scripts/lab`, ['up', '--hosts', String(hosts), ...(options.ssh ? ['--ssh'] : [])], { env, stdout: 'inherit', stderr: 'inherit' });
  const inventory = await lab('inventory');
  const state = JSON.parse(readFileSync(inventory, 'utf8')) as {
    tls: { dir: string };
    knownHosts?: string;
    hosts: Record<string, { address: string; stateDir: string; ssh?: { identity: string } }>;
  };
  const first = Object.values(state.hosts)[0];
  return {
    inventory,
    ssh: first?.ssh && state.knownHosts ? { identity: first.ssh.identity, knownHosts: state.knownHosts } : undefined,
    pki: state.tls.dir,
    ip: Object.fromEntries(Object.entries(state.hosts).map(([h, v]) => [h, v.address])),
    agents: Object.fromEntries(Object.entries(state.hosts).map(([h, v]) => [h, Number(readFileSync(`${v.stateDir}/agent.pid`, 'utf8').trim())])),
  };
}

export async function labDown(): Promise<void> {
  await execa(`${ROOT}scripts/lab`, ['down'], { env });
}

/** Resident memory of a process in KiB; 0 once it is gone. */
export function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Samples the agents' RSS every 20 ms until stopped; peaks in KiB. */
export function sampleRss(agents: Record<string, number>): { stop(): Record<string, number> } {
  const peaks: Record<string, number> = Object.fromEntries(Object.keys(agents).map((h) => [h, 0]));
  const timer = setInterval(() => {
    for (const [h, pid] of Object.entries(agents)) peaks[h] = Math.max(peaks[h] ?? 0, rssKiB(pid));
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return peaks;
    },
  };
}

export async function startRedis(host: string, name: string, port: number): Promise<void> {
  await lab('podman', host, 'run', '-d', '--name', name, '-p', `${port}:6379`, 'localhost/ferry-lab/redis:latest',
    'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no');
  // Until it answers at its published port: a fixed wait once left the filler "No route to host"
  // (a container that had just been removed and started again, its address not yet reachable).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const pong = await execa(`${ROOT}scripts/lab`, ['exec', host, 'redis-cli', '-p', String(port), 'ping'], { env, reject: false });
    if (String(pong.stdout).trim() === 'PONG') return;
    if (Date.now() > deadline) throw new Error(`${name} on ${host} does not answer at port ${port}: ${String(pong.stderr).trim()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Fills Redis with `megabytes` of values: random hex by default (zstd takes it to about half, the
 * entropy of hex), or `compressible`: the same few words over and over (zstd takes it to a few %).
 */
export async function fillRedis(ip: string, port: number, megabytes: number, valueBytes = 4096, compressible = false): Promise<void> {
  const count = Math.ceil((megabytes * 1024 * 1024) / valueBytes);
  const child = execa('redis-cli', ['-h', ip, '-p', String(port), '--pipe'], { stdin: 'pipe' });
  const { randomBytes } = await import('node:crypto');
  for (let i = 0; i < count; i += 1) {
    const value = compressible ? `order ${i} status shipped `.repeat(valueBytes).slice(0, valueBytes) : randomBytes(valueBytes / 2).toString('hex');
    const line = `*3\r\n$3\r\nSET\r\n$${`k:${i}`.length}\r\nk:${i}\r\n$${value.length}\r\n${value}\r\n`;
    if (!child.stdin!.write(line)) await once(child.stdin!, 'drain'); // rejects if redis-cli goes away
  }
  child.stdin!.end();
  await child;
}

export async function redisRss(ip: string, port: number): Promise<string> {
  const out = await execa('redis-cli', ['-h', ip, '-p', String(port), 'info', 'memory']);
  return /used_memory_rss_human:(\S+)/.exec(String(out.stdout))?.[1] ?? '?';
}

/** `ferry migrate ... --json`; the events it printed. Throws unless it ended with `done`. */
export async function ferryMigrate(inventory: string, from: string, to: string, name: string, extra: string[] = []): Promise<Array<Record<string, any>>> {
  const r = await execa(`${ROOT}bin/ferry`, ['migrate', '--from', from, '--to', to, name, '--json', '--inventory', inventory, ...extra], { reject: false });
  const events = String(r.stdout).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
  if (!events.some((e) => e.event === 'done')) throw new Error(`migration failed: ${r.stdout}\n${r.stderr}`);
  return events;
}

export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
export const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) : 'n/a');
