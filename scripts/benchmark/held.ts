// npm run bench -- --scenario held: what a client holding one connection to a service address
// sees during a move, against the downtime Ferry reports for the same move (CRIU's freeze to the
// first answer on the destination). A PING every 10 ms on the one connection; its stall is the
// longest wait for a reply.
import { connect, type Socket } from 'node:net';
import { fillRedis, ferryMigrate, lab, ratio, redisRss, type Lab } from './lab.ts';

const NAME = 'bench-held';
const PORT = 6391;

/** PINGs one connection every 10 ms; the longest time a reply took, and whether the connection broke. */
function holdConnection(address: string, port: number): Promise<{ stop(): { longestMs: number; pings: number; broken: string | undefined } }> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: address, port }, () => {
      let longestMs = 0;
      let pings = 0;
      let sentAt = 0;
      let broken: string | undefined;
      let stopped = false;
      const ping = () => {
        if (stopped || broken) return;
        sentAt = performance.now();
        socket.write('PING\r\n');
      };
      socket.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) {
          longestMs = Math.max(longestMs, performance.now() - sentAt);
          pings += 1;
          setTimeout(ping, 10);
        }
      });
      socket.on('error', (error) => (broken = error.message));
      socket.on('close', () => (broken ??= 'closed'));
      ping();
      resolve({
        stop: () => {
          stopped = true;
          socket.destroy();
          return { longestMs, pings, broken };
        },
      });
    });
    socket.once('error', reject);
  });
}

export async function heldMoves(labInfo: Lab, megabytes: number): Promise<void> {
  const subnet = (labInfo.ip.hostA ?? '').split('.').slice(0, 3).join('.');
  const address = `${subnet}.100`;
  await lab('podman', 'hostA', 'run', '-d', '--name', NAME, '-p', `${PORT}:6379`, '--label', `io.ferry.service-address=${address}`,
    'localhost/ferry-lab/redis:latest', 'redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no');
  // The agent takes the address within a few seconds of the start.
  for (let i = 0; ; i += 1) {
    const up = await holdConnection(address, PORT).then((held) => (held.stop(), true), () => false);
    if (up) break;
    if (i > 100) throw new Error(`nothing answers on ${address}:${PORT}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await fillRedis(address, PORT, megabytes);
  console.log(`\n== held: one connection to the service address ${address}, a PING every 10 ms; Redis holding ${megabytes} MB (RSS ${await redisRss(address, PORT)})`);
  console.log('| run | downtime (Ferry: freeze to first answer) | longest stall of the held connection | stall / downtime | PINGs answered | connection |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
    const held = await holdConnection(address, PORT);
    await new Promise((r) => setTimeout(r, 500));
    const events = await ferryMigrate(labInfo.inventory, from, to, NAME);
    await new Promise((r) => setTimeout(r, 1000));
    const seen = held.stop();
    const s = events.find((e) => e.event === 'done')?.summary as Record<string, number>;
    console.log(`| ${from}->${to} | ${s.downtimeMs} ms | ${Math.round(seen.longestMs)} ms | ${ratio(seen.longestMs, s.downtimeMs ?? 0)} | ${seen.pings} | ${seen.broken ? `BROKEN: ${seen.broken}` : 'kept'} |`);
  }
  await lab('podman', 'hostA', 'rm', '-f', '-t', '0', '--ignore', NAME);
  await lab('podman', 'hostB', 'rm', '-f', '-t', '0', '--ignore', NAME);
}
