// ferry history and ferry status: both agents of a migration journal it, and the coordinator
// joins their sides into one row. Two real agent servers on 127.0.0.1:0 (podman a fake, never
// reached), their journals written as a migration writes them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialer } from '../../common/dial.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';
import { runHistory, runStatus } from '../../coordinator/commands/history.ts';
import { mergeHistory, timeline } from '../../coordinator/history.ts';
import type { HostEntry, Inventory } from '../../coordinator/inventory.ts';
import type { Output } from '../../coordinator/output.ts';
import type { MigrationEntry__Output } from '../../proto/gen/ferry/v1/MigrationEntry.ts';

const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
const agents: Record<string, { service: AgentService; server: grpc.Server; host: HostEntry }> = {};
const dialer = new Dialer({ preferDirect: false });

async function agentFor(name: string): Promise<void> {
  const service = new AgentService({ name, listen: '127.0.0.1:0', stateDir: mkdtempSync(join(tmpdir(), `ferry-history-${name}-`)), podman, log: silentLogger });
  await service.open();
  const { server, port } = await startServer(service, silentLogger);
  agents[name] = { service, server, host: { name, address: '127.0.0.1', agent: `127.0.0.1:${port}` } };
}

const inventory = (names: string[]): Inventory => ({ path: undefined, hosts: new Map(names.map((n) => [n, agents[n]?.host as HostEntry])) });

function capture(json = false): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { json, out: (t) => lines.push(t), err: (t) => errors.push(t), lines, errors };
}

const pause = () => new Promise((r) => setTimeout(r, 5));

/** Both journals of a migration from A to B, as the agents write them. */
async function migration(id: string, from: string, to: string, how: 'moved' | 'failed' | 'under way'): Promise<void> {
  const source = (agents[from] as { service: AgentService }).service.journal;
  const destination = (agents[to] as { service: AgentService }).service.journal;
  const common = { container: `c-${id}`, containerId: `${id}-cid` };
  await destination.create({ ...common, id, role: 'destination', peer: from, phase: 'preflight', archivePath: `/tmp/${id}.tar` });
  await source.create({ ...common, id, role: 'source', peer: to, phase: 'checkpoint', archivePath: `/tmp/${id}.tar` });
  await source.advance(source.require(id), 'transfer');
  await destination.advance(destination.require(id), 'transfer');
  if (how === 'under way') return;
  if (how === 'failed') {
    await destination.advance(destination.require(id), 'rollback', { outcome: 'RESTORE_FAILED: port 6380 is taken' });
    await destination.advance(destination.require(id), 'failed', { outcome: 'removed the restored copy from the destination' });
    await source.advance(source.require(id), 'rollback', { outcome: 'RESTORE_FAILED: port 6380 is taken' });
    await source.advance(source.require(id), 'failed', { outcome: 'restored from local checkpoint' });
    return;
  }
  for (const phase of ['received', 'restore', 'restored', 'verified', 'commit'] as const) await destination.advance(destination.require(id), phase);
  await destination.update(destination.require(id), { downtimeMs: 250 });
  await destination.advance(destination.require(id), 'done', { outcome: 'kept the restored container' });
  for (const phase of ['sealed', 'sent', 'commit'] as const) await source.advance(source.require(id), phase);
  await source.update(source.require(id), { downtimeMs: 250 });
  await source.advance(source.require(id), 'done', { outcome: 'removed the checkpointed source copy' });
}

beforeAll(async () => {
  for (const name of ['hostA', 'hostB', 'hostC']) await agentFor(name);
  await migration('m-1', 'hostA', 'hostB', 'moved');
  await pause();
  await migration('m-2', 'hostB', 'hostC', 'failed');
  await pause();
  await migration('m-3', 'hostC', 'hostA', 'under way');
});

afterAll(async () => {
  for (const { server } of Object.values(agents)) server.forceShutdown();
  await dialer.close();
});

describe('ferry history', () => {
  it('lists one row per migration, newest first, merged across the hosts, with result and downtime', async () => {
    const io = capture();
    expect(await runHistory(inventory(['hostA', 'hostB', 'hostC']), dialer, [], undefined, io)).toBe(0);
    const [header, ...rows] = io.lines;
    expect(header).toMatch(/^WHEN \(UTC\) +ID +CONTAINER +FROM +TO +RESULT +DOWNTIME$/);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +m-3 +c-m-3 +hostC +hostA +transfer… +-$/);
    expect(rows[1]).toMatch(/ m-2 +c-m-2 +hostB +hostC +failed +-$/);
    expect(rows[2]).toMatch(/ m-1 +c-m-1 +hostA +hostB +done +250 ms$/);
  });

  it('of one host: only the migrations it took part in; --json carries the same', async () => {
    const io = capture(true);
    expect(await runHistory(inventory(['hostA', 'hostB', 'hostC']), dialer, ['hostB'], '10', io)).toBe(0);
    const event = JSON.parse(io.lines[0] ?? '{}') as { event: string; migrations: Array<{ migrationId: string; from: string; to: string; result: string; downtimeMs?: number; sides: unknown[] }> };
    expect(event.event).toBe('history');
    expect(event.migrations.map((m) => [m.migrationId, m.from, m.to, m.result, m.downtimeMs, m.sides.length])).toEqual([
      ['m-2', 'hostB', 'hostC', 'failed', undefined, 1],
      ['m-1', 'hostA', 'hostB', 'done', 250, 1],
    ]);
  });

  it('says which host could not be asked, and the exit code says so', async () => {
    const io = capture();
    const gone: Inventory = { path: undefined, hosts: new Map([...inventory(['hostA']).hosts, ['hostZ', { name: 'hostZ', address: '127.0.0.1', agent: '127.0.0.1:1' }]]) };
    expect(await runHistory(gone, dialer, [], '2', io)).toBe(1);
    expect(io.errors.join('\n')).toMatch(/hostZ could not be asked \(AGENT_UNREACHABLE/);
    expect(io.lines).toHaveLength(3); // the header, then hostA's two
  });
});

describe('ferry status', () => {
  it('shows one migration with both sides and the time of every phase', async () => {
    const io = capture();
    expect(await runStatus(inventory(['hostA', 'hostB', 'hostC']), dialer, ['m-1'], io)).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toMatch(/^migration +m-1$/m);
    expect(text).toMatch(/^from +hostA$/m);
    expect(text).toMatch(/^to +hostB$/m);
    expect(text).toMatch(/^result +done$/m);
    expect(text).toMatch(/^downtime +250 ms$/m);
    expect(text).toMatch(/^hostA +source, done: removed the checkpointed source copy$/m);
    expect(text).toMatch(/^hostB +destination, done: kept the restored container$/m);
    for (const phase of ['preflight', 'checkpoint', 'transfer', 'sealed', 'sent', 'received', 'restore', 'restored', 'verified', 'commit', 'done']) {
      expect(text).toMatch(new RegExp(`^  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}  host[AB] +(source|destination) +${phase}\\b`, 'm'));
    }
  });

  it('says why a failed one failed; --json gives the view and its timeline', async () => {
    const io = capture(true);
    expect(await runStatus(inventory(['hostA', 'hostB', 'hostC']), dialer, ['m-2'], io)).toBe(0);
    const event = JSON.parse(io.lines[0] ?? '{}') as { migration: { result: string; reason: string }; timeline: Array<{ host: string; phase: string }> };
    expect(event.migration).toMatchObject({ result: 'failed', reason: 'RESTORE_FAILED: port 6380 is taken' });
    expect(event.timeline.filter((t) => t.host === 'hostC').map((t) => t.phase)).toEqual(['preflight', 'transfer', 'rollback', 'failed']);
  });

  it('refuses an ID nobody knows, and a malformed one', async () => {
    await expect(runStatus(inventory(['hostA', 'hostB']), dialer, ['m-nope'], capture())).rejects.toMatchObject({ code: 'MIGRATION_UNKNOWN' });
    await expect(runStatus(inventory(['hostA', 'hostB']), dialer, ['../x'], capture())).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('joining the sides', () => {
  const entry = (over: Partial<MigrationEntry__Output>): MigrationEntry__Output => ({
    migrationId: 'm-x',
    role: 'ROLE_SOURCE',
    container: 'redis1',
    containerId: 'abc',
    peer: 'hostB',
    phase: 'JOURNAL_PHASE_DONE',
    outcome: '',
    reason: '',
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:05.000Z',
    phases: [],
    ...over,
  });

  it('a migration whose destination is done but whose source still settles is under way; one side alone still names both hosts', () => {
    const [view] = mergeHistory([
      { host: 'hostA', entries: [entry({ phase: 'JOURNAL_PHASE_SENT' })] },
      { host: 'hostB', entries: [entry({ role: 'ROLE_DESTINATION', peer: 'hostA', createdAt: '2026-11-30T23:59:59.900Z' })] },
    ]);
    expect(view).toMatchObject({ from: 'hostA', to: 'hostB', result: 'sent', over: false, startedAt: '2026-11-30T23:59:59.900Z' });
    const [alone] = mergeHistory([{ host: 'hostB', entries: [entry({ role: 'ROLE_DESTINATION', peer: 'hostA' })] }]);
    expect(alone).toMatchObject({ from: 'hostA', to: 'hostB', result: 'done', over: true });
  });

  it('the timeline interleaves both sides by time, each phase with how long that side stayed in it', () => {
    const [view] = mergeHistory([
      { host: 'hostA', entries: [entry({ phases: [{ phase: 'JOURNAL_PHASE_CHECKPOINT', at: '2026-12-01T00:00:01.000Z' }, { phase: 'JOURNAL_PHASE_TRANSFER', at: '2026-12-01T00:00:01.500Z' }] })] },
      { host: 'hostB', entries: [entry({ role: 'ROLE_DESTINATION', peer: 'hostA', phases: [{ phase: 'JOURNAL_PHASE_PREFLIGHT', at: '2026-12-01T00:00:00.000Z' }, { phase: 'JOURNAL_PHASE_TRANSFER', at: '2026-12-01T00:00:01.200Z' }] })] },
    ]);
    expect(timeline(view as NonNullable<typeof view>).map((t) => [t.host, t.phase, t.lastedMs])).toEqual([
      ['hostB', 'preflight', 1200],
      ['hostA', 'checkpoint', 500],
      ['hostB', 'transfer', undefined],
      ['hostA', 'transfer', undefined],
    ]);
  });
});
