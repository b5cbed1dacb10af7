// Reaching an agent whose port only its own host can reach: one SSH connection per host (ssh2),
// and for each agent port a listener on 127.0.0.1 whose connections are forwarded through it
// (direct-tcpip, as `ssh -L`). Mutual TLS still runs end to end inside the tunnel: SSH only
// carries the bytes, the certificates still say who is at each end.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import { FerryError } from '../errors.ts';
import { checkHostKey, type HostKeyTrust } from './known-hosts.ts';

/** How to log in to a host over SSH. No key travels: `identity` is a path on the machine that dials. */
export interface SshRoute {
  host: string;
  port: number;
  user: string;
  identity?: string | undefined;
}

export interface Endpoint {
  host: string;
  port: number;
}

const READY_TIMEOUT_MS = 15_000;
/** A dead link is noticed after about 3 unanswered keepalives. */
const KEEPALIVE_MS = 5_000;

export function describeRoute(route: SshRoute): string {
  return `${route.user}@${route.host}${route.port === 22 ? '' : `:${route.port}`}`;
}

/** The private key to log in with: the route's, else the usual files in ~/.ssh. */
function privateKey(route: SshRoute): Buffer | undefined {
  const candidates = route.identity ? [route.identity] : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f));
  for (const path of candidates) {
    if (existsSync(path)) return readFileSync(path);
  }
  if (route.identity) {
    throw new FerryError('SSH_FAILED', `the SSH identity ${route.identity} for ${describeRoute(route)} does not exist`, {
      hint: 'Fix "identity" in the inventory (or the agent\'s --ssh-identity), or create the key with ssh-keygen and add its .pub to the host\'s authorized_keys.',
    });
  }
  return undefined;
}

function connectError(route: SshRoute, error: Error & { level?: string }): FerryError {
  const where = describeRoute(route);
  if (error instanceof FerryError) return error;
  if (error.level === 'client-authentication') {
    return new FerryError('SSH_FAILED', `SSH login as ${where} was refused: ${error.message}`, {
      hint: 'Add the public half of the identity to the host\'s ~/.ssh/authorized_keys, or fix "user" and "identity" in the inventory.',
      cause: error,
    });
  }
  return new FerryError('AGENT_UNREACHABLE', `cannot open SSH to ${where}: ${error.message}`, {
    hint: `Check that sshd runs on ${route.host} and that port ${route.port} is reachable from here.`,
    cause: error,
  });
}

/** One SSH login; resolves once the host's key checked out and the login succeeded. */
function login(route: SshRoute, trust: HostKeyTrust): Promise<Client> {
  const client = new Client();
  let refusal: FerryError | undefined;
  const config: ConnectConfig = {
    host: route.host,
    port: route.port,
    username: route.user,
    readyTimeout: READY_TIMEOUT_MS,
    keepaliveInterval: KEEPALIVE_MS,
    keepaliveCountMax: 3,
    // AES-GCM first: node's crypto does it in hardware, where ssh2's ChaCha20-Poly1305 may
    // fall back to JavaScript; the archive goes through here at the tunnel's pace.
    algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr'] },
    hostVerifier: (key: Buffer) => {
      try {
        checkHostKey(trust, route.host, route.port, key);
        return true;
      } catch (error) {
        refusal = FerryError.from(error);
        return false;
      }
    },
  };
  const key = privateKey(route);
  if (key) config.privateKey = key;
  else if (process.env.SSH_AUTH_SOCK) config.agent = process.env.SSH_AUTH_SOCK;
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { level?: string }) => {
      client.end();
      reject(refusal ?? connectError(route, error));
    };
    client.once('error', onError);
    client.once('ready', () => {
      client.off('error', onError);
      resolve(client);
    });
    client.connect(config);
  });
}

export interface RemoteResult {
  code: number;
  stdout: string;
  stderr: string;
}

const KEEP_OUTPUT = 64 * 1024;

/** The last KEEP_OUTPUT bytes of a stream of chunks. */
function tail(): { add: (chunk: Buffer) => void; text: () => string } {
  let kept = Buffer.alloc(0);
  return {
    add: (chunk) => {
      kept = Buffer.concat([kept, chunk]);
      if (kept.length > KEEP_OUTPUT) kept = kept.subarray(kept.length - KEEP_OUTPUT);
    },
    text: () => kept.toString('utf8'),
  };
}

interface Forward {
  server: Server;
  local: Endpoint;
}

/**
 * SSH connections and the local forwards through them, shared by every call of one process.
 * A connection that drops is opened again by the next connection through it.
 */
export class SshTunnels {
  readonly #trust: HostKeyTrust;
  readonly #clients = new Map<string, Promise<Client>>();
  readonly #forwards = new Map<string, Promise<Forward>>();
  readonly #sockets = new Set<Socket>();

  constructor(trust: HostKeyTrust) {
    this.#trust = trust;
  }

  #client(route: SshRoute): Promise<Client> {
    const key = `${describeRoute(route)}|${route.identity ?? ''}`;
    let client = this.#clients.get(key);
    if (!client) {
      client = login(route, this.#trust);
      this.#clients.set(key, client);
      const forget = () => {
        if (this.#clients.get(key) === client) this.#clients.delete(key);
      };
      client.then((c) => {
        c.on('error', forget);
        c.on('close', forget);
      }, forget);
    }
    return client;
  }

  /** A local address whose connections reach `target` as the SSH host itself would. */
  async forward(route: SshRoute, target: Endpoint): Promise<Endpoint> {
    const key = `${describeRoute(route)}|${route.identity ?? ''}|${target.host}:${target.port}`;
    let forward = this.#forwards.get(key);
    if (!forward) {
      forward = this.#open(route, target);
      this.#forwards.set(key, forward);
      forward.catch(() => this.#forwards.delete(key));
    }
    return (await forward).local;
  }

  async #open(route: SshRoute, target: Endpoint): Promise<Forward> {
    // Log in first, so that a refused host key or login is the caller's error, not a reset later.
    await this.#client(route);
    // Half-open: the data plane's sender ends its side and then still reads the destination's
    // last word, so each direction of a forwarded connection must end on its own.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      this.#client(route).then(
        (client) => {
          client.forwardOut('127.0.0.1', 0, target.host, target.port, (error, channel) => {
            if (error) {
              socket.destroy();
              return;
            }
            pipeline(socket, channel, socket, () => socket.destroy());
          });
        },
        () => socket.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    const port = (server.address() as AddressInfo).port;
    return { server, local: { host: '127.0.0.1', port } };
  }

  /**
   * Runs a shell command on the host as the SSH user; `input` (a stream) becomes its stdin. The
   * output's last 64 KiB of each stream are kept.
   */
  async exec(route: SshRoute, command: string, input?: Readable): Promise<RemoteResult> {
    const client = await this.#client(route);
    return new Promise((resolve, reject) => {
      client.exec(command, (error, channel) => {
        if (error) {
          reject(new FerryError('AGENT_UNREACHABLE', `cannot run a command over SSH on ${describeRoute(route)}: ${error.message}`, { cause: error }));
          return;
        }
        const out = tail();
        const err = tail();
        let code: number | null = null;
        channel.on('data', out.add);
        channel.stderr.on('data', err.add);
        channel.on('exit', (exitCode: number | null) => { code = exitCode; });
        channel.on('close', () => resolve({ code: code ?? -1, stdout: out.text(), stderr: err.text() }));
        if (input) pipeline(input, channel, () => undefined);
        else channel.end();
      });
    });
  }

  /** Closes every listener, forwarded connection and SSH connection. */
  async close(): Promise<void> {
    const forwards = await Promise.allSettled(this.#forwards.values());
    for (const result of forwards) if (result.status === 'fulfilled') result.value.server.close();
    for (const socket of this.#sockets) socket.destroy();
    const clients = await Promise.allSettled(this.#clients.values());
    for (const result of clients) if (result.status === 'fulfilled') result.value.end();
    this.#forwards.clear();
    this.#clients.clear();
  }
}
