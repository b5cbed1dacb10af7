// The agent's metrics endpoint, wired to what the agent knows at scrape time: its journal's
// migrations under way and the containers parked on its disk.
import type { Logger } from '../log.ts';
import type { AgentService } from '../service.ts';
import { metrics } from './metrics.ts';
import { serveMetrics, type MetricsServer } from './server.ts';

export function serveAgentMetrics(service: AgentService, at: { host: string; port: number }, log: Logger): Promise<MetricsServer> {
  metrics.withProcessMetrics();
  metrics.countInFlightWith(() => service.journal.active());
  // A parked container has a complete checkpoint on this disk and does not run (parked, or being restored).
  metrics.countParkedWith(() => service.parked.all().filter((r) => r.phase === 'parked' || r.phase === 'restore').length);
  return serveMetrics(metrics, at, log);
}
