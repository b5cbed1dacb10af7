// The agent's metrics: what a phase change of the journal counts, the bytes the data plane moves
// (a real data server and connection on 127.0.0.1:0), and the /metrics endpoint over real HTTP.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataConnection } from '../../../agent/dataplane/client.ts';
import { DataServer } from '../../../agent/dataplane/server.ts';
import { Journal } from '../../../agent/journal.ts';
import { silentLogger } from '../../../agent/log.ts';
import { AgentMetrics, metrics } from '../../../agent/metrics/metrics.ts';
import { observePhaseChange, reasonCode, type PhaseChange } from '../../../agent/metrics/migrations.ts';
import { serveMetrics, type MetricsServer } from '../../../agent/metrics/server.ts';
import { fileTarget } from '../../../agent/transfer/targets.ts';

/** The sum of the samples named `name` (a histogram's: NAME_sum, NAME_count) with these labels; 0 when none. */
async function value(into: AgentMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0;
  for (const metric of await into.registry.getMetricsAsJSON()) {
    for (const sample of metric.values) {
      const sampleName = (sample as { metricName?: string }).metricName ?? metric.name;
      if (sampleName === name && Object.entries(labels).every(([k, l]) => String(sample.labels[k]) === l)) total += sample.value;
    }
  }
  return total;
}

const base = { role: 'destination' as const, container: 'redis1', containerId: 'abc', peer: 'hostA', archivePath: '/x.tar' };

describe('metrics of a migration', () => {
  it('a phase change observes how long the phase lasted; the end counts the migration, its failure code and its downtime', async () => {
    const into = new AgentMetrics();
    const entered: PhaseChange = { role: 'destination', phase: 'restore', updatedAt: '2026-12-01T00:00:00.000Z', phases: [{ phase: 'restore', at: '2026-12-01T00:00:00.000Z' }] };
    observePhaseChange(entered, { ...entered, phase: 'restored', updatedAt: '2026-12-01T00:00:01.500Z' }, into);
    const done: PhaseChange = { role: 'destination', phase: 'commit', updatedAt: '2026-12-01T00:00:02.000Z', phases: [{ phase: 'commit', at: '2026-12-01T00:00:02.000Z' }] };
    observePhaseChange(done, { ...done, phase: 'done', updatedAt: '2026-12-01T00:00:02.250Z', downtimeMs: 420 }, into);
    const failing: PhaseChange = { role: 'source', phase: 'rollback', updatedAt: '2026-12-01T00:00:00.000Z' };
    observePhaseChange(failing, { ...failing, phase: 'failed', reason: 'TRANSFER_FAILED: the link is down' }, into);
    observePhaseChange(failing, { ...failing, phase: 'failed', reason: 'the coordinator is gone' }, into);
    expect(await value(into, 'ferry_phase_duration_seconds_sum', { role: 'destination', phase: 'restore' })).toBeCloseTo(1.5);
    expect(await value(into, 'ferry_phase_duration_seconds_count', { role: 'destination', phase: 'commit' })).toBe(1);
    expect(await value(into, 'ferry_migrations_total', { role: 'destination', result: 'done' })).toBe(1);
    expect(await value(into, 'ferry_migrations_total', { role: 'source', result: 'failed' })).toBe(2);
    expect(await value(into, 'ferry_migration_failures_total', { code: 'TRANSFER_FAILED' })).toBe(1);
    expect(await value(into, 'ferry_migration_failures_total', { code: 'UNKNOWN' })).toBe(1);
    expect(await value(into, 'ferry_migration_downtime_seconds_sum')).toBeCloseTo(0.42);
    expect(await value(into, 'ferry_migration_downtime_seconds_count')).toBe(1);
  });

  it('the journal is where they are counted: every phase change of a real journal reaches the agent metrics', async () => {
    const journal = new Journal(mkdtempSync(join(tmpdir(), 'ferry-metrics-journal-')));
    await journal.open();
    const before = await value(metrics, 'ferry_migrations_total', { role: 'destination', result: 'done' });
    const phasesBefore = await value(metrics, 'ferry_phase_duration_seconds_count', { role: 'destination', phase: 'verified' });
    await journal.create({ ...base, id: 'm-metrics', phase: 'preflight' });
    for (const phase of ['transfer', 'received', 'restore', 'restored', 'verified', 'commit'] as const) await journal.advance(journal.require('m-metrics'), phase);
    await journal.update(journal.require('m-metrics'), { downtimeMs: 300 });
    await journal.advance(journal.require('m-metrics'), 'done');
    expect(await value(metrics, 'ferry_migrations_total', { role: 'destination', result: 'done' })).toBe(before + 1);
    expect(await value(metrics, 'ferry_phase_duration_seconds_count', { role: 'destination', phase: 'verified' })).toBe(phasesBefore + 1);
  });

  it('reads the code at the head of a rollback reason', () => {
    expect(reasonCode('DEST_PORT_BUSY: port 6380 is taken')).toBe('DEST_PORT_BUSY');
    expect(reasonCode('NOT_A_CODE: x')).toBe('UNKNOWN');
    expect(reasonCode(undefined)).toBe('UNKNOWN');
  });
});

describe('bytes on the data plane', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-metrics-data-'));
  let server: DataServer | undefined;
  afterAll(() => server?.close());

  it('are counted by stream kind as sent and as received', async () => {
    server = new DataServer({
      log: silentLogger,
      accept: async () => ({
        label: 'data round 0',
        kind: 'data',
        totalBytes: 3 * 1024 * 1024,
        target: await fileTarget(join(dir, 'out')),
        complete: async () => undefined,
        release: () => undefined,
      }),
    });
    const port = await server.listen('127.0.0.1', 0);
    const sentBefore = await value(metrics, 'ferry_bytes_sent_total', { kind: 'data' });
    const receivedBefore = await value(metrics, 'ferry_bytes_received_total', { kind: 'data' });
    const connection = await DataConnection.open({ host: '127.0.0.1', port, name: 'hostB' }, undefined, 'token', { kind: 'data' });
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const result = await connection.send({ source: (async function* () { for (let i = 0; i < 3; i += 1) yield chunk; })() });
    expect(result.bytes).toBe(3 * 1024 * 1024);
    expect(await value(metrics, 'ferry_bytes_sent_total', { kind: 'data' })).toBe(sentBefore + 3 * 1024 * 1024);
    expect(await value(metrics, 'ferry_bytes_received_total', { kind: 'data' })).toBe(receivedBefore + 3 * 1024 * 1024);
  });
});

describe('the /metrics endpoint', () => {
  let served: MetricsServer | undefined;
  afterAll(() => served?.close());

  it('serves Prometheus text over plain HTTP, GET /metrics only', async () => {
    const into = new AgentMetrics();
    into.migrations.inc({ role: 'source', result: 'done' });
    into.countParkedWith(() => 2);
    into.countInFlightWith(() => [{ role: 'source' }, { role: 'destination' }, { role: 'destination' }]);
    served = await serveMetrics(into, { host: '127.0.0.1', port: 0 }, silentLogger);
    const response = await fetch(`http://127.0.0.1:${served.port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('ferry_migrations_total{role="source",result="done"} 1');
    expect(text).toContain('ferry_parked_containers 2');
    expect(text).toContain('ferry_migrations_in_flight{role="destination"} 2');
    for (const name of ['ferry_phase_duration_seconds', 'ferry_migration_downtime_seconds', 'ferry_bytes_sent_total', 'ferry_bytes_received_total', 'ferry_transfers_resumed_total', 'ferry_migration_failures_total', 'ferry_errors_total']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect((await fetch(`http://127.0.0.1:${served.port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${served.port}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
