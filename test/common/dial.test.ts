// How the Dialer picks its way to an agent: the coordinator always takes the SSH tunnel of a host
// that has one; an agent tries the agent's own port first and takes the tunnel only when that
// port does not answer, or when the agent listens on its host's loopback.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialer, splitAddress } from '../../common/dial.ts';
import type { SshRoute, SshTunnels } from '../../common/ssh/tunnels.ts';

// An address of this machine that is not loopback (a loopback agent is never dialed directly).
const here = Object.values(networkInterfaces()).flat().find((a) => a?.family === 'IPv4' && !a.internal)?.address ?? 'no-address';
let listening: Server;
let openPort: number;
let shutPort: number;

beforeAll(async () => {
  listening = createServer((s) => s.destroy());
  await new Promise<void>((r) => listening.listen(0, here, () => r()));
  openPort = (listening.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, here, () => r()));
  shutPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
});
afterAll(() => listening.close());

/** A stand-in for the SSH tunnels: records what was forwarded, answers with a local port. */
function tunnels() {
  const forwarded: Array<{ route: SshRoute; target: string }> = [];
  const stand = {
    forward: async (route: SshRoute, target: { host: string; port: number }) => {
      forwarded.push({ route, target: `${target.host}:${target.port}` });
      return { host: '127.0.0.1', port: 40_000 + forwarded.length };
    },
    close: async () => undefined,
  } as unknown as SshTunnels;
  return { stand, forwarded };
}

const ssh = { host: '198.51.100.7', port: 22, user: 'root' };

describe('Dialer', () => {
  it('splits ADDRESS:PORT, IPv6 in brackets', () => {
    expect(splitAddress('10.0.0.1:7070')).toEqual({ host: '10.0.0.1', port: 7070 });
    expect(splitAddress('[fd00::1]:7071')).toEqual({ host: 'fd00::1', port: 7071 });
  });

  it('the coordinator tunnels to every host with "ssh", to the agent port and to any other port of it', async () => {
    const { stand, forwarded } = tunnels();
    const dialer = new Dialer({ tunnels: stand, preferDirect: false });
    const host = { name: 'dc2', agent: `127.0.0.2:${openPort}`, ssh };
    expect(await dialer.endpoint(host)).toEqual({ host: '127.0.0.1', port: 40_001 });
    expect(await dialer.endpoint(host, 7071)).toEqual({ host: '127.0.0.1', port: 40_002 });
    expect(forwarded.map((f) => f.target)).toEqual([`127.0.0.2:${openPort}`, '127.0.0.2:7071']);
    // Without "ssh": straight there.
    expect(await dialer.endpoint({ name: 'lan', agent: '10.0.0.5:7070' })).toEqual({ host: '10.0.0.5', port: 7070 });
  });

  it('an agent goes straight to a port that answers, through SSH (with its own key) to one that does not', async () => {
    const { stand, forwarded } = tunnels();
    const dialer = new Dialer({ tunnels: stand, preferDirect: true, identity: '/etc/ferry/ssh/id_ed25519' });
    expect(await dialer.endpoint({ name: 'open', agent: `${here}:${openPort}`, ssh })).toEqual({ host: here, port: openPort });
    expect(forwarded).toEqual([]);
    expect(await dialer.endpoint({ name: 'shut', agent: `${here}:${shutPort}`, ssh })).toEqual({ host: '127.0.0.1', port: 40_001 });
    expect(forwarded[0]?.route.identity).toBe('/etc/ferry/ssh/id_ed25519');
    // An agent on its host's loopback is never tried directly: that would be this host's own.
    await dialer.endpoint({ name: 'lo', agent: '127.0.0.1:7070', ssh });
    expect(forwarded.map((f) => f.target)).toEqual([`${here}:${shutPort}`, '127.0.0.1:7070']);
  });

  it('refuses a host that needs SSH where no tunnels were set up', async () => {
    const dialer = new Dialer({ preferDirect: false });
    await expect(dialer.endpoint({ name: 'dc2', agent: '127.0.0.1:7070', ssh })).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
  });
});
