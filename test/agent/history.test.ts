// ListMigrations on a real agent server (127.0.0.1:0; podman is a fake, never reached here): the
// journal's records newest first, each with the times of its phases and why it failed; Commit
// journals the downtime the coordinator measured.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConnection } from '../../common/client.ts';
import { silentLogger } from '../../agent/log.ts';
import { Podman } from '../../agent/podman/podman.ts';
import { startServer } from '../../agent/server.ts';
import { AgentService } from '../../agent/service.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'ferry-history-'));
let server: grpc.Server;
let service: AgentService;
let agent: AgentConnection;

const base = { container: 'redis1', containerId: 'abc123', peer: 'hostA' };

beforeAll(async () => {
  const podman = new Podman({ binary: new URL('../fixtures/fake-podman', import.meta.url).pathname, globalArgs: [] });
  service = new AgentService({ name: 'hostT', listen: '127.0.0.1:0', stateDir, podman, log: silentLogger });
  await service.open();
  const started = await startServer(service, silentLogger);
  server = started.server;
  agent = new AgentConnection({ name: 'hostT', agent: `127.0.0.1:${started.port}` });
});

afterAll(() => {
  agent?.close();
  server?.forceShutdown();
});

describe('ListMigrations', () => {
  it('lists the journal newest first, with phase times, the reason of a failure, and the downtime a commit brought', async () => {
    const journal = service.journal;
    await journal.create({ ...base, role: 'destination', id: 'm-1-failed', phase: 'preflight', archivePath: join(stateDir, 'archives', 'm-1.tar') });
    await journal.advance(journal.require('m-1-failed'), 'transfer');
    await journal.advance(journal.require('m-1-failed'), 'rollback', { outcome: 'TRANSFER_FAILED: the link is down' });
    await journal.advance(journal.require('m-1-failed'), 'failed', { outcome: 'nothing was restored here' });
    await new Promise((r) => setTimeout(r, 5));
    await journal.create({ ...base, role: 'destination', id: 'm-2-moved', phase: 'preflight', archivePath: join(stateDir, 'archives', 'm-2.tar') });
    for (const phase of ['transfer', 'received', 'restore', 'restored', 'verified'] as const) await journal.advance(journal.require('m-2-moved'), phase);
    expect(await agent.commit('m-2-moved', { downtimeMs: 321 })).toBe('kept the restored container');

    const [moved, failed, ...rest] = await agent.migrations();
    expect(rest).toEqual([]);
    expect(moved).toMatchObject({ migrationId: 'm-2-moved', role: 'ROLE_DESTINATION', phase: 'JOURNAL_PHASE_DONE', container: 'redis1', peer: 'hostA', downtimeMs: 321, reason: '' });
    expect(moved?.phases.map((p) => p.phase)).toEqual(
      ['preflight', 'transfer', 'received', 'restore', 'restored', 'verified', 'commit', 'done'].map((p) => `JOURNAL_PHASE_${p.toUpperCase()}`),
    );
    expect(moved?.phases.every((p) => !Number.isNaN(Date.parse(p.at)))).toBe(true);
    expect(failed).toMatchObject({ migrationId: 'm-1-failed', phase: 'JOURNAL_PHASE_FAILED', reason: 'TRANSFER_FAILED: the link is down', outcome: 'nothing was restored here' });
    expect(failed?.downtimeMs).toBeUndefined();

    expect((await agent.migrations({ limit: 1 })).map((m) => m.migrationId)).toEqual(['m-2-moved']);
    expect((await agent.migrations({ migrationId: 'm-1-failed' })).map((m) => m.migrationId)).toEqual(['m-1-failed']);
    expect(await agent.migrations({ migrationId: 'm-nope' })).toEqual([]);
    await expect(agent.migrations({ migrationId: '../etc' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('a commit without a measured downtime journals none; one after a rollback journals nothing', async () => {
    await service.journal.create({ ...base, role: 'destination', id: 'm-3', phase: 'preflight', archivePath: join(stateDir, 'archives', 'm-3.tar') });
    for (const phase of ['transfer', 'received', 'restore', 'restored', 'verified'] as const) await service.journal.advance(service.journal.require('m-3'), phase);
    await agent.commit('m-3');
    expect(service.journal.require('m-3').downtimeMs).toBeUndefined();
    await expect(agent.commit('m-1-failed', { downtimeMs: 5 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(service.journal.require('m-1-failed').downtimeMs).toBeUndefined();
  });
});
