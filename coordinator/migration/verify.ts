// After a restore: the destination must publish exactly the source's ports, and each TCP port
// must accept a connection on the destination host's address.
import { connect } from 'node:net';
import { FerryError } from '../../common/errors.ts';
import { silentTcpPorts, tcpAnswers } from '../../common/tcp.ts';
import type { PortView } from '../events.ts';

const key = (p: PortView) => `${p.hostPort}:${p.containerPort}/${p.protocol}`;

/** Mappings present on one side only, as readable strings; empty when they match. */
export function comparePorts(source: PortView[], destination: PortView[]): string[] {
  const want = new Set(source.map(key));
  const have = new Set(destination.map(key));
  return [
    ...[...want].filter((k) => !have.has(k)).map((k) => `missing on destination: ${k}`),
    ...[...have].filter((k) => !want.has(k)).map((k) => `not on source: ${k}`),
  ];
}

export async function verifyPorts(
  address: string,
  source: PortView[],
  destination: PortView[],
  options: { timeoutMs: number; signal?: AbortSignal | undefined; host: string },
): Promise<void> {
  const mismatch = comparePorts(source, destination);
  if (mismatch.length) {
    throw new FerryError('VERIFY_FAILED', `published ports differ after the restore: ${mismatch.join(', ')}`, {
      phase: 'verify',
      host: options.host,
      details: mismatch,
    });
  }
  const dead = await silentTcpPorts(destination, () => address, options.timeoutMs, options.signal);
  if (dead.length) {
    throw new FerryError('VERIFY_FAILED', `restored container does not answer on ${dead.join(', ')}`, {
      phase: 'verify',
      host: options.host,
      details: dead,
    });
  }
}

/**
 * When one of the published TCP ports first accepts a connection at this address (the
 * performance time of the connect), or undefined without TCP ports or once `signal` aborts. A
 * fresh attempt starts every few milliseconds without waiting for the last: a SYN that CRIU's
 * network lock drops would otherwise hold the answer back until its retransmission.
 */
export function firstAnswer(address: string, ports: PortView[], signal: AbortSignal, everyMs = 10): Promise<number | undefined> {
  const tcp = ports.filter((p) => p.protocol === 'tcp');
  if (!tcp.length || signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const sockets = new Set<ReturnType<typeof connect>>();
    let round = 0;
    const finish = (at: number | undefined) => {
      clearInterval(timer);
      signal.removeEventListener('abort', stop);
      for (const socket of sockets) socket.destroy();
      resolve(at);
    };
    const stop = () => finish(undefined);
    const attempt = () => {
      const port = tcp[round++ % tcp.length] as PortView;
      const socket = connect({ host: address, port: port.hostPort });
      sockets.add(socket);
      const drop = () => {
        socket.destroy();
        sockets.delete(socket);
      };
      socket.setTimeout(1_000, drop);
      socket.once('error', drop);
      socket.once('connect', () => finish(performance.now()));
    };
    const timer = setInterval(attempt, everyMs);
    signal.addEventListener('abort', stop, { once: true });
    attempt();
  });
}

/** The published TCP ports that do not accept a connection at this address right now. */
export async function deadPorts(address: string, ports: PortView[], timeoutMs = 2_000): Promise<number[]> {
  const tcp = ports.filter((p) => p.protocol === 'tcp');
  const answers = await Promise.all(tcp.map((p) => tcpAnswers(address, p.hostPort, timeoutMs)));
  return tcp.filter((_, i) => !answers[i]).map((p) => p.hostPort);
}
