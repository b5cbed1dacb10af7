import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { comparePorts, deadPorts, verifyPorts } from '../../../coordinator/migration/verify.ts';
import { tcpAnswers } from '../../../common/tcp.ts';

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

function listen(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      socket.on('error', () => {}); // the prober hangs up at once
      socket.end('+PONG\r\n');
    });
    servers.push(server);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** A port that nothing listens on: bound once, then released. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('port verification', () => {
  it('compares mappings by host port, container port and protocol', () => {
    const a = [{ hostPort: 6380, containerPort: 6379, protocol: 'tcp' }];
    expect(comparePorts(a, [...a])).toEqual([]);
    expect(comparePorts(a, [{ hostPort: 6381, containerPort: 6379, protocol: 'tcp' }])).toEqual([
      'missing on destination: 6380:6379/tcp',
      'not on source: 6381:6379/tcp',
    ]);
    expect(comparePorts(a, [{ hostPort: 6380, containerPort: 6379, protocol: 'udp' }])).toHaveLength(2);
  });

  it('knows a live port from a dead one', async () => {
    expect(await tcpAnswers('127.0.0.1', await listen(), 1000)).toBe(true);
    expect(await tcpAnswers('127.0.0.1', await deadPort(), 1000)).toBe(false);
  });

  it('lists the TCP ports that do not answer, ignoring UDP', async () => {
    const live = await listen();
    const dead = await deadPort();
    const ports = [
      { hostPort: live, containerPort: 1, protocol: 'tcp' },
      { hostPort: dead, containerPort: 2, protocol: 'tcp' },
      { hostPort: dead, containerPort: 3, protocol: 'udp' },
    ];
    expect(await deadPorts('127.0.0.1', ports, 500)).toEqual([dead]);
  });

  it('fails a dead or mismatched port as VERIFY_FAILED', async () => {
    const live = await listen();
    const ports = [{ hostPort: live, containerPort: 80, protocol: 'tcp' }];
    await expect(verifyPorts('127.0.0.1', ports, ports, { timeoutMs: 500, host: 'hostB' })).resolves.toBeUndefined();
    const dead = [{ hostPort: await deadPort(), containerPort: 80, protocol: 'tcp' }];
    const error = (await verifyPorts('127.0.0.1', dead, dead, { timeoutMs: 500, host: 'hostB' }).catch((e: unknown) => e)) as FerryError;
    expect(error.code).toBe('VERIFY_FAILED');
    expect(error.describe()).toMatch(/^\[verify@hostB\] restored container does not answer on 127\.0\.0\.1:\d+$/);
    const mismatch = (await verifyPorts('127.0.0.1', ports, [], { timeoutMs: 500, host: 'hostB' }).catch((e: unknown) => e)) as FerryError;
    expect(mismatch.code).toBe('VERIFY_FAILED');
  });
});
