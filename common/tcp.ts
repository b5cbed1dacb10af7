// Whether a TCP port answers: one connect, or tries until a deadline. The coordinator checks a
// restored container's published ports with it, an agent a container it resumed.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One TCP connect; resolves true when something accepts it. */
export function tcpAnswers(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Tries a port until it answers or the time is up: a restored process may take a moment. */
export async function waitForPort(address: string, port: number, totalMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + totalMs;
  for (;;) {
    if (await tcpAnswers(address, port, Math.min(2_000, Math.max(100, deadline - Date.now())))) return true;
    if (Date.now() >= deadline || signal?.aborted) return false;
    await sleep(200, undefined, { signal }).catch(() => undefined);
  }
}

/**
 * The published TCP ports that do not answer within `totalMs` each, as ADDRESS:PORT; other
 * protocols are not checked. `addressOf` says where each is reached.
 */
export async function silentTcpPorts(
  ports: ReadonlyArray<{ hostPort: number; protocol: string; hostIp?: string }>,
  addressOf: (port: { hostIp?: string }) => string,
  totalMs: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const silent: string[] = [];
  for (const port of ports.filter((p) => p.protocol === 'tcp')) {
    const address = addressOf(port);
    if (!(await waitForPort(address, port.hostPort, totalMs, signal))) silent.push(`${address}:${port.hostPort}`);
  }
  return silent;
}

/** For silentTcpPorts on the host itself: a port bound to one address is reached there, any other on `hostAddress`. */
export function reachedOn(hostAddress: string): (port: { hostIp?: string }) => string {
  return (port) => (port.hostIp && port.hostIp !== '0.0.0.0' ? port.hostIp : hostAddress);
}

/**
 * Where a host's published ports are reached, from its agent's ADDRESS:PORT (or NAME:PORT): that
 * address, or loopback for an agent that listens on every address.
 */
export function hostAddress(listen: string): string {
  const host = listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}
