// A Redis client as an application sees the service: a PING every few milliseconds against each
// host, on a connection it reopens whenever an answer does not come. The outage of a move is the
// gap between the last answer from the source and the first from the destination.
import { connect, type Socket } from 'node:net';

export interface Target {
  name: string;
  address: string;
  port: number;
}

const ANSWER_MS = 100;

/** Answers seen per host (when each PONG came, ms since the epoch: comparable with the events' times). */
export type Answers = Record<string, number[]>;

export function startProbe(targets: Target[], everyMs = 10): { stop(): Answers } {
  const answers: Answers = Object.fromEntries(targets.map((t) => [t.name, [] as number[]]));
  const timers: NodeJS.Timeout[] = [];
  const sockets = new Set<Socket>();
  for (const target of targets) {
    let socket: Socket | undefined;
    let waiting: { since: number } | undefined;
    let buffered = '';
    const drop = () => {
      if (socket) sockets.delete(socket);
      socket?.destroy();
      socket = undefined;
      waiting = undefined;
      buffered = '';
    };
    const open = () => {
      const s = connect({ host: target.address, port: target.port });
      s.setNoDelay(true);
      s.on('error', () => socket === s && drop());
      s.on('close', () => socket === s && drop());
      s.on('data', (data) => {
        buffered += data.toString('latin1');
        for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (line === '+PONG' && waiting) answers[target.name]?.push(performance.timeOrigin + performance.now());
          waiting = undefined;
        }
      });
      socket = s;
      sockets.add(s);
    };
    timers.push(
      setInterval(() => {
        const now = performance.now();
        if (waiting && now - waiting.since > ANSWER_MS) drop(); // frozen or gone: start afresh
        if (!socket) open();
        if (socket && !waiting) {
          waiting = { since: now };
          socket.write('PING\r\n');
        }
      }, everyMs),
    );
  }
  return {
    stop() {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      return answers;
    },
  };
}

/** The longest the client went without an answer from one host (a rollback: frozen, then back there). */
export function longestGapMs(answers: Answers, host: string): number {
  const times = answers[host] ?? [];
  let longest = NaN;
  for (let i = 1; i < times.length; i += 1) longest = Math.max(Number.isNaN(longest) ? 0 : longest, (times[i] ?? 0) - (times[i - 1] ?? 0));
  return longest;
}

/** The source's last answer before the destination's first: where the client's outage began. */
export function outageStart(answers: Answers, source: string, destination: string): number {
  const first = answers[destination]?.[0];
  return first === undefined ? NaN : ((answers[source] ?? []).filter((t) => t < first).at(-1) ?? NaN);
}

/**
 * How long the client went without any answer around the move: from the source's last PONG
 * before the destination's first, to that first PONG. NaN when either side never answered.
 */
export function outageMs(answers: Answers, source: string, destination: string): number {
  const first = answers[destination]?.[0];
  if (first === undefined) return NaN;
  const last = (answers[source] ?? []).filter((t) => t < first).at(-1);
  return last === undefined ? NaN : first - last;
}
