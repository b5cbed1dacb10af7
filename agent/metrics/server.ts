// --metrics-listen ADDR:PORT: the agent's metrics as Prometheus text, plain HTTP GET /metrics.
// Nothing else is served there, and nothing there changes anything.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.ts';
import type { AgentMetrics } from './metrics.ts';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function serveMetrics(into: AgentMetrics, at: { host: string; port: number }, log: Logger): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    into.text().then(
      (text) => response.writeHead(200, { 'content-type': into.contentType }).end(request.method === 'HEAD' ? undefined : text),
      (error: unknown) => {
        log.warn({ err: String(error) }, 'metrics could not be collected');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n');
      },
    );
  });
  // A scraper that keeps its connection open must not hold the agent's exit.
  server.keepAliveTimeout = 5_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : at.port);
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
