// ferry agent install|status|restart HOST: set up and look after a host's agent over SSH (the
// inventory's "ssh" for that host). install copies the project (only when the host's copy
// differs), issues the agent's certificate from the local CA, writes the agent's flags, and runs
// the project's own scripts/setup-host --agent there: a systemd service where systemd runs, a
// supervised process otherwise. Run it again and it changes only what changed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { pack } from 'tar-stream';
import type { Dialer } from '../../common/dial.ts';
import { FerryError } from '../../common/errors.ts';
import { issue } from '../../common/pki.ts';
import type { RemoteResult, SshRoute, SshTunnels } from '../../common/ssh/tunnels.ts';
import { projectBundle } from '../install/bundle.ts';
import { resolveHost, type HostEntry, type Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';

export interface AgentCommandOptions {
  dialer: Dialer;
  tunnels: SshTunnels;
  /** The local CA (ca.pem, ca.key) that issues the agent's certificate. */
  caDir: string;
  /** The coordinator's known_hosts: copied to the host, so its agent knows its peers' keys. */
  knownHosts: string;
  prefix: string;
  configDir: string;
  stateDir: string;
}

const ROOT = new URL('../..', import.meta.url).pathname;
const ANSWER_WAIT_MS = 60_000;
const METRICS_PORT = 9470;

/** Single quotes for a POSIX shell. */
function sh(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

export async function runAgent(inventory: Inventory, options: AgentCommandOptions, rest: string[], io: Output): Promise<number> {
  const [action, name, ...extra] = rest;
  if (!action || !name || extra.length || !['install', 'status', 'restart'].includes(action)) {
    usage('ferry agent install|status|restart HOST');
  }
  const host = resolveHost(inventory, name);
  if (!host.ssh) {
    throw new FerryError('BAD_REQUEST', `host ${host.name} has no "ssh" in the inventory, and ferry agent works over SSH`, {
      host: host.name,
      hint: 'Add "ssh": {"host": ..., "user": ..., "identity": ...} to the host in the inventory.',
    });
  }
  const remote = new Remote(options.tunnels, host.ssh, host.name);
  const say = (step: string, text: string) => io.out(io.json ? JSON.stringify({ event: 'agent', host: host.name, step, text }) : `agent      ${host.name}: ${text}`);
  if (action === 'install') await install(host, remote, options, say);
  if (action === 'restart') {
    const r = await remote.run(serviceCommand(options.configDir, 'restart'));
    for (const line of (r.stdout.trim() || r.stderr.trim() || 'restarted').split('\n')) say('restart', line.replace(/^agent-supervise: /, ''));
  }
  if (action === 'status') {
    const r = await remote.run(serviceCommand(options.configDir, 'status'), { check: false });
    say('service', (r.stdout.trim() || r.stderr.trim() || `exit ${r.code}`).split('\n')[0] ?? '');
    if (r.code !== 0) {
      say('answers', 'the agent service is not running');
      return 1;
    }
  }
  const answered = await answers(host, options.dialer, action === 'status' ? 10_000 : ANSWER_WAIT_MS);
  say('answers', answered.ok ? `agent answers: ${answered.detail}` : `agent does NOT answer: ${answered.detail}`);
  return answered.ok ? 0 : 1;
}

/** The service's own status or restart, by systemd where it runs, else the supervisor. */
function serviceCommand(configDir: string, verb: 'status' | 'restart'): string {
  const env = sh(join(configDir, 'agent.env'));
  const systemd = verb === 'status' ? 'systemctl is-active ferry-agent' : 'systemctl restart ferry-agent && echo restarted by systemd';
  return `set -e; . ${env}; if [ -d /run/systemd/system ]; then ${systemd}; else "$FERRY_HOME/scripts/agent-supervise" ${verb} ${env} 2>&1; fi`;
}

async function install(host: HostEntry, remote: Remote, options: AgentCommandOptions, say: (step: string, text: string) => void): Promise<void> {
  const bundle = projectBundle(ROOT);
  const prefix = options.prefix;
  const have = (await remote.run(`cat ${sh(join(prefix, '.install-stamp'))} 2>/dev/null || true`)).stdout.trim();
  if (have === bundle.stamp) {
    say('copy', `${prefix} already holds this version (${bundle.files.length} files)`);
  } else {
    // Unpacked beside the old copy, then swapped in: a running agent keeps the files it opened.
    const fresh = `${prefix}.new`;
    // node's own spawn: its stdout stays paused until the SSH channel reads it, so no byte is lost.
    const tar = spawn('tar', ['-c', '-C', bundle.root, '--null', '-T', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    tar.stdin.end(bundle.files.join('\0'));
    const packing = exited(tar);
    const unpack = remote.run(
      `set -e; rm -rf ${sh(fresh)}; mkdir -p ${sh(fresh)}; tar -x -C ${sh(fresh)} -f -; printf '%s\\n' ${sh(bundle.stamp)} > ${sh(join(fresh, '.install-stamp'))};` +
        ` rm -rf ${sh(`${prefix}.old`)}; if [ -e ${sh(prefix)} ]; then mv ${sh(prefix)} ${sh(`${prefix}.old`)}; fi; mv ${sh(fresh)} ${sh(prefix)}; rm -rf ${sh(`${prefix}.old`)}`,
      { input: tar.stdout },
    );
    // The host's side first: when it fails, tar only says its reader went away.
    const [unpacked, packed] = await Promise.allSettled([unpack, packing]);
    if (unpacked.status === 'rejected') throw unpacked.reason;
    if (packed.status === 'rejected') {
      throw new FerryError('AGENT_INSTALL_FAILED', `packing the project here failed: ${FerryError.from(packed.reason).message.split('\n')[0]}`, { host: host.name });
    }
    say('copy', `copied the project to ${prefix} (${bundle.files.length} files)`);
  }

  // The certificate: issued here, from the local CA, once per host name.
  const certPath = join(options.caDir, `${host.name}.pem`);
  if (!existsSync(join(options.caDir, 'ca.key'))) {
    throw new FerryError('BAD_REQUEST', `no CA key in ${options.caDir}: the agent's certificate is issued from it`, {
      host: host.name,
      hint: 'Pass --tls-dir with the fleet CA (ferry certs init makes one), or set "tls" in the inventory.',
    });
  }
  if (!existsSync(certPath)) {
    await issue(options.caDir, host.name, { role: 'agent', dns: [host.name], ips: [host.address], days: 825 });
    say('certificate', `issued ${host.name}'s agent certificate from ${options.caDir}`);
  }
  const config = options.configDir;
  const flags = [
    '--name', host.name, '--listen', host.agent, '--address', host.address, '--state-dir', options.stateDir,
    '--tls-dir', join(config, 'pki'), '--ssh-identity', join(config, 'ssh', 'id_ed25519'), '--known-hosts', join(config, 'ssh', 'known_hosts'),
    // Prometheus scrapes the host's own address, as in the lab.
    '--metrics-listen', `${host.address.includes(':') ? `[${host.address}]` : host.address}:${METRICS_PORT}`,
  ];
  const files: Array<[string, Buffer | string, number]> = [
    ['pki/ca.pem', readFileSync(join(options.caDir, 'ca.pem')), 0o644],
    [`pki/${host.name}.pem`, readFileSync(certPath), 0o644],
    [`pki/${host.name}.key`, readFileSync(join(options.caDir, `${host.name}.key`)), 0o600],
    ['ssh/known_hosts', existsSync(options.knownHosts) ? readFileSync(options.knownHosts) : '', 0o644],
    ['agent.env', `# Written by ferry agent install\nFERRY_HOME=${sh(options.prefix)}\nFERRY_STATE_DIR=${sh(options.stateDir)}\nFERRY_AGENT_ARGS=${sh(flags.join(' '))}\n`, 0o644],
  ];
  const archive = pack();
  for (const [name, content, mode] of files) archive.entry({ name, mode }, content);
  archive.finalize();
  await remote.run(`set -e; umask 077; mkdir -p ${sh(config)}; tar -x --no-same-owner -C ${sh(config)} -f -`, { input: archive as unknown as Readable });
  say('config', `wrote ${join(config, 'agent.env')}, the agent's certificate and known_hosts`);

  // The agent's own SSH key, for peers only SSH reaches: made on the host, never copied.
  const key = join(config, 'ssh', 'id_ed25519');
  const pub = await remote.run(`test -f ${sh(key)} || ssh-keygen -q -t ed25519 -N '' -C ${sh(`ferry-agent@${host.name}`)} -f ${sh(key)}; cat ${sh(`${key}.pub`)}`);
  say('ssh-key', `its SSH key for peers: ${pub.stdout.trim()} (add it to the other hosts' authorized_keys where agents reach each other over SSH)`);

  const setup = await remote.run(`${sh(join(prefix, 'scripts', 'setup-host'))} --agent --env ${sh(join(config, 'agent.env'))} 2>&1`);
  for (const line of setup.stdout.trim().split('\n').filter((l) => /ferry-agent|ok:/.test(l))) say('service', line.replace(/^setup-host: /, ''));
}

async function answers(host: HostEntry, dialer: Dialer, waitMs: number): Promise<{ ok: boolean; detail: string }> {
  const deadline = Date.now() + waitMs;
  let last = '';
  for (;;) {
    let agent;
    try {
      agent = await dialer.agent(host);
      const info = await agent.info({ timeoutMs: 5_000 });
      return { ok: true, detail: `agent ${info.agentVersion}, podman ${info.podmanVersion}, criu ${info.criuVersion}, check ${info.criuCheckOk ? 'ok' : 'FAILS'}` };
    } catch (error) {
      last = FerryError.from(error).message;
    } finally {
      agent?.close();
    }
    if (Date.now() >= deadline) return { ok: false, detail: last };
    await sleep(500);
  }
}

/** Resolves when the process exits 0; rejects with the end of what it said otherwise. */
function exited(child: ChildProcess): Promise<void> {
  let said = '';
  child.stderr?.on('data', (chunk: Buffer) => { said = (said + chunk.toString()).slice(-2000); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}: ${said.trim()}`))));
  });
}

/** Commands on one host over SSH: a failed one is an error that says what ran and what it said. */
class Remote {
  readonly #tunnels: SshTunnels;
  readonly #route: SshRoute;
  readonly #host: string;

  constructor(tunnels: SshTunnels, route: SshRoute, host: string) {
    this.#tunnels = tunnels;
    this.#route = route;
    this.#host = host;
  }

  async run(command: string, options: { input?: Readable; check?: boolean } = {}): Promise<RemoteResult> {
    const result = await this.#tunnels.exec(this.#route, command, options.input);
    if (options.check !== false && result.code !== 0) {
      const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join(' | ');
      throw new FerryError('AGENT_INSTALL_FAILED', `on ${this.#host}, \`${command.slice(0, 120)}\` exited ${result.code}: ${said}`, { host: this.#host });
    }
    return result;
  }
}
