// How a caller reaches an agent: straight to its address, or through an SSH tunnel to the host
// when that is all there is. The coordinator takes the tunnel whenever the inventory gives the
// host an "ssh" entry; an agent sending to a peer tries the peer's port first and takes the
// tunnel only when the port does not answer (agent ports behind a firewall, or on 127.0.0.1).
import { isIP } from 'node:net';
import { AgentConnection, type AgentEndpoint } from './client.ts';
import { FerryError } from './errors.ts';
import type { TlsFiles } from './pki.ts';
import type { Endpoint, SshRoute, SshTunnels } from './ssh/tunnels.ts';
import { tcpAnswers } from './tcp.ts';

/** An agent and, where it has one, the SSH login that reaches its host. */
export interface ReachableAgent extends AgentEndpoint {
  ssh?: SshRoute | undefined;
}

const DIRECT_PROBE_MS = 2_000;
const DIRECT_ANSWER_KEPT_MS = 60_000;

/** "host:port" or "[v6]:port" -> its parts. */
export function splitAddress(address: string): Endpoint {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (!match?.[1]) throw new FerryError('BAD_REQUEST', `"${address}" is not ADDRESS:PORT`);
  return { host: match[1], port: Number(match[2]) };
}

export function joinAddress(endpoint: Endpoint): string {
  return isIP(endpoint.host) === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

export interface DialerOptions {
  tls?: TlsFiles | undefined;
  /** Absent: SSH routes cannot be used, and a host that needs one is an error. */
  tunnels?: SshTunnels | undefined;
  /** Try the agent's own port first and take the tunnel only when it does not answer. */
  preferDirect: boolean;
  /** The private key for routes that name none (an agent's own, --ssh-identity). */
  identity?: string | undefined;
}

export class Dialer {
  readonly #options: DialerOptions;
  /** Per agent address: whether it answered directly when last asked, and when that was. */
  readonly #direct = new Map<string, { direct: boolean; at: number }>();

  constructor(options: DialerOptions) {
    this.#options = options;
  }

  get tls(): TlsFiles | undefined {
    return this.#options.tls;
  }

  /** Where to connect for `port` on the agent's address (its gRPC port when absent). */
  async endpoint(host: ReachableAgent, port?: number): Promise<Endpoint> {
    const agent = splitAddress(host.agent);
    const target = { host: agent.host, port: port ?? agent.port };
    if (!host.ssh || (await this.#answersDirectly(host, agent))) return target;
    if (!this.#options.tunnels) {
      throw new FerryError('AGENT_UNREACHABLE', `the agent on ${host.name} is reached over SSH, and SSH is not set up here`, { host: host.name });
    }
    return this.#options.tunnels.forward({ ...host.ssh, identity: host.ssh.identity ?? this.#options.identity }, target);
  }

  /** A gRPC connection to the agent, by whichever way reaches it; TLS still checks its name. */
  async agent<H extends ReachableAgent>(host: H): Promise<AgentConnection<H>> {
    const where = await this.endpoint(host);
    return new AgentConnection(host, this.#options.tls, joinAddress(where));
  }

  async #answersDirectly(host: ReachableAgent, agent: Endpoint): Promise<boolean> {
    // An agent on its host's loopback is only ever reached through that host.
    if (!this.#options.preferDirect || isLoopback(agent.host)) return false;
    // Asked again after a while: a port shut by an agent's restart may answer again.
    const known = this.#direct.get(host.agent);
    if (known && Date.now() - known.at < DIRECT_ANSWER_KEPT_MS) return known.direct;
    const direct = await tcpAnswers(agent.host, agent.port, DIRECT_PROBE_MS);
    this.#direct.set(host.agent, { direct, at: Date.now() });
    return direct;
  }

  close(): Promise<void> {
    return this.#options.tunnels?.close() ?? Promise.resolve();
  }
}

/** An SSH login as a request carries it (no key), or undefined when the request has none. */
export function sshOf(wire: { host: string; port: number; user: string } | null | undefined): SshRoute | undefined {
  if (!wire?.host) return undefined;
  return { host: wire.host, port: wire.port || 22, user: wire.user || 'root' };
}

/** The login an agent may use to reach its peer, as a request carries it: everything but the key, which stays with each dialer. */
export function sshWire(route: SshRoute): { host: string; port: number; user: string } {
  return { host: route.host, port: route.port, user: route.user };
}
