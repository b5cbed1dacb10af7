// Whether a host port is free on this host: try to bind it, as podman would.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

export async function portFree(port: number, protocol: string, hostIp = ''): Promise<boolean> {
  const address = hostIp || '0.0.0.0';
  if (protocol === 'udp') {
    return new Promise((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, address, () => socket.close(() => resolve(true)));
    });
  }
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: address, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
