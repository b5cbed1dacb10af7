// The coordinator's runner, branch by branch, against two stand-in agents that answer from a
// script: the order of its phases and of its calls, and what each failure rolls back. (The e2e
// tests move real containers; this is the decision logic alone.)
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import type { MigrationEvent as Event } from '../../../coordinator/events.ts';
import type { HostEntry } from '../../../coordinator/inventory.ts';
import { Migration, type AgentLink } from '../../../coordinator/migration/migrate.ts';
import type { MigrationEvent__Output } from '../../../proto/gen/ferry/v1/MigrationEvent.ts';

interface Script {
  criuOk?: boolean;
  /** The source's stream fails after this many events (of freezing, dumped, checkpointed, transferred). */
  sourceFailsAfter?: number;
  restore?: FerryError;
  destinationCommit?: FerryError;
  /** What the destination's journal says when asked after its commit failed. */
  destinationPhase?: string;
  sourceCommit?: FerryError;
  sourceRollback?: FerryError;
  /** The destination restores with a new IP (--new-address, where it cannot hold the container's). */
  newAddress?: boolean;
}

const host = (name: string, octet: number): HostEntry => ({ name, agent: `127.0.0.${octet}:1`, address: `127.0.0.${octet}` }) as HostEntry;

function agents(script: Script) {
  const calls: string[] = [];
  const prepared: Array<Record<string, unknown>> = [];
  const info = async () => ({ criuCheckOk: script.criuOk ?? true, criuCheckOutput: 'no', criuVersion: '4.2.1', podmanVersion: '4.3.1', runcVersion: '1.1.5', ociRuntime: 'runc', cpuinfo: Buffer.alloc(0) });
  const common = (name: string) => ({
    info,
    async commit() {
      calls.push(`${name}.commit`);
      const failure = name === 'source' ? script.sourceCommit : script.destinationCommit;
      if (failure) throw failure;
      return 'committed';
    },
    async rollback(_id: string, _reason: string, options?: { peerRolledBack?: boolean }) {
      calls.push(`${name}.rollback${options?.peerRolledBack ? ' (peer rolled back)' : ''}`);
      if (name === 'source' && script.sourceRollback) throw script.sourceRollback;
      return 'rolled back';
    },
  });
  const source = {
    ...common('source'),
    host: host('hostA', 11),
    async inspect() {
      return { id: 'c'.repeat(64), name: 'redis', state: 'running', ports: [], labels: {}, estimatedBytes: 0, ipAddresses: ['10.88.1.1'] };
    },
    async *checkpointAndSend(): AsyncGenerator<MigrationEvent__Output> {
      calls.push('source.checkpointAndSend');
      const events = [
        { freezing: { validation: '' } },
        { dumped: { ms: 1 } },
        { checkpointed: { checkpointMs: 5, archiveBytes: 10, frozenMs: 3, runtimeMs: 2, freezeAgeMs: 4 } },
        { transferred: { bytes: 10, transferMs: 1, sha256: 'ab' } },
      ];
      for (const [i, event] of events.entries()) {
        if (script.sourceFailsAfter === i) throw new FerryError('TRANSFER_FAILED', 'the data connection closed', { phase: 'transfer', host: 'hostA' });
        yield event as unknown as MigrationEvent__Output;
      }
    },
  } as unknown as AgentLink;
  const destination = {
    ...common('destination'),
    host: host('hostB', 12),
    async status() {
      calls.push('destination.status');
      return { phase: script.destinationPhase ?? 'JOURNAL_PHASE_VERIFIED' };
    },
    async prepareReceive(request: Record<string, unknown>) {
      calls.push('destination.prepareReceive');
      prepared.push(request);
      return { checks: [], needsImage: false };
    },
    async restore() {
      calls.push('destination.restore');
      if (script.restore) throw script.restore;
      const ipAddresses = script.newAddress ? ['10.89.3.2'] : ['10.88.1.1'];
      return { container: { ports: [], ipAddresses }, restoreMs: 7, runtimeMs: 6, streamed: true, fallback: '', relayedBytes: 0, newAddress: script.newAddress ?? false };
    },
  } as unknown as AgentLink;
  return { source, destination, calls, prepared };
}

async function run(script: Script, options: { newAddress?: boolean } = {}) {
  const { source, destination, calls, prepared } = agents(script);
  const events: Event[] = [];
  const migration = new Migration('m-test', { from: source.host, to: destination.host, container: 'redis', ...options }, source, destination, (e) => events.push(e));
  const error = await migration.run().then(() => undefined, (e: unknown) => FerryError.from(e));
  const phases = events.flatMap((e) => (e.kind === 'phase' ? [e.phase] : []));
  const failed = events.find((e) => e.kind === 'failed');
  return { calls, phases, error, failed, events, phase: migration.phase, prepared };
}

describe("the coordinator's runner", () => {
  it('goes through every phase, and commits the destination before the source', async () => {
    const r = await run({});
    expect(r.error).toBeUndefined();
    expect(r.phases).toEqual(['preflight', 'checkpoint', 'transfer', 'restore', 'verify', 'commit']);
    expect(r.phase).toBe('done');
    expect(r.calls).toEqual(['destination.prepareReceive', 'source.checkpointAndSend', 'destination.restore', 'destination.commit', 'source.commit']);
  });

  it('a failed preflight changes nothing and rolls nothing back', async () => {
    const r = await run({ criuOk: false });
    expect(r.error?.code).toBe('CRIU_UNAVAILABLE');
    expect(r.phase).toBe('failed');
    expect(r.calls).toEqual([]);
    expect(r.failed).toMatchObject({ rolledBack: true });
  });

  it('a failed restore rolls back the destination, then the source, which hears that the destination holds nothing', async () => {
    const r = await run({ restore: new FerryError('RESTORE_FAILED', 'port taken', { host: 'hostB' }) });
    expect(r.error).toMatchObject({ code: 'RESTORE_FAILED', phase: 'restore' });
    expect(r.calls.slice(-2)).toEqual(['destination.rollback', 'source.rollback (peer rolled back)']);
    expect(r.phases.at(-1)).toBe('rollback');
    expect(r.failed).toMatchObject({ rolledBack: true });
  });

  it('a stream that breaks for good during the transfer rolls back both', async () => {
    const r = await run({ sourceFailsAfter: 3 });
    expect(r.error).toMatchObject({ code: 'TRANSFER_FAILED', phase: 'transfer' });
    expect(r.calls.slice(-2)).toEqual(['destination.rollback', 'source.rollback (peer rolled back)']);
  });

  it("a destination that does not verify its own ports is rolled back, not committed", async () => {
    const r = await run({ destinationCommit: new FerryError('VERIFY_FAILED', 'port 6379 does not answer', { host: 'hostB' }) });
    expect(r.error).toMatchObject({ code: 'VERIFY_FAILED', phase: 'verify' });
    expect(r.calls).not.toContain('source.commit');
    expect(r.calls.slice(-2)).toEqual(['destination.rollback', 'source.rollback (peer rolled back)']);
    expect(r.failed).toMatchObject({ rolledBack: true });
  });

  it("a destination that committed but whose answer was lost is a finished move, not a failed rollback", async () => {
    const r = await run({ destinationCommit: new FerryError('INTERNAL', 'the call was cut off after the commit'), destinationPhase: 'JOURNAL_PHASE_DONE' });
    expect(r.error).toBeUndefined();
    expect(r.phase).toBe('done');
    expect(r.calls).toEqual(['destination.prepareReceive', 'source.checkpointAndSend', 'destination.restore', 'destination.commit', 'destination.status', 'source.commit']);
    expect(r.events.find((e) => e.kind === 'warning')).toMatchObject({ error: { code: 'COMMIT_INCOMPLETE', phase: 'commit', host: 'hostB' } });
  });

  it('a destination that failed its commit and says it is still verified is rolled back', async () => {
    const r = await run({ destinationCommit: new FerryError('INTERNAL', 'the call was cut off after the commit'), destinationPhase: 'JOURNAL_PHASE_VERIFIED' });
    expect(r.error).toMatchObject({ code: 'INTERNAL', phase: 'verify' });
    expect(r.calls).not.toContain('source.commit');
    expect(r.calls.slice(-2)).toEqual(['destination.rollback', 'source.rollback (peer rolled back)']);
  });

  it('a source copy that cannot be removed is a warning once the destination committed', async () => {
    const r = await run({ sourceCommit: new FerryError('AGENT_UNREACHABLE', 'hostA does not answer') });
    expect(r.error).toBeUndefined();
    expect(r.phase).toBe('done');
    expect(r.events.find((e) => e.kind === 'warning')).toMatchObject({ error: { code: 'COMMIT_INCOMPLETE', phase: 'commit', host: 'hostA' } });
    // The summary says what is left, and where.
    const done = r.events.find((e) => e.kind === 'done') as { summary: { leftToClean: string[] } } | undefined;
    expect(done?.summary.leftToClean).toEqual([expect.stringMatching(/^hostA: the frozen copy of the container and its archive \(AGENT_UNREACHABLE\)/)]);
  });

  it('a source that cannot resume makes the whole failure ROLLBACK_FAILED', async () => {
    const r = await run({
      restore: new FerryError('RESTORE_FAILED', 'port taken'),
      sourceRollback: new FerryError('ROLLBACK_FAILED', 'stays frozen'),
    });
    expect(r.error).toMatchObject({ code: 'ROLLBACK_FAILED', phase: 'rollback' });
    expect(r.failed).toMatchObject({ rolledBack: false });
  });
});

describe('--new-address', () => {
  it('travels to the destination, whose restore with a new IP is a warning and is in the summary', async () => {
    const r = await run({ newAddress: true }, { newAddress: true });
    expect(r.error).toBeUndefined();
    expect(r.prepared[0]).toMatchObject({ newAddress: true });
    expect(r.events.find((e) => e.kind === 'warning')).toMatchObject({ error: { code: 'CONNECTIONS_CLOSED', phase: 'restore', host: 'hostB' } });
    const done = r.events.find((e) => e.kind === 'done');
    expect(done).toMatchObject({ summary: { newAddress: true, ipAddresses: ['10.89.3.2'], sourceIpAddresses: ['10.88.1.1'] } });
  });

  it('is off by default, and a destination that kept the IP says nothing of it', async () => {
    const r = await run({});
    expect(r.prepared[0]).toMatchObject({ newAddress: false });
    expect(r.events.some((e) => e.kind === 'warning')).toBe(false);
    expect(r.events.find((e) => e.kind === 'done')).toMatchObject({ summary: { newAddress: false, ipAddresses: ['10.88.1.1'] } });
  });
});
