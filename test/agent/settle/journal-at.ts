// What the settle tests share: a journal on disk holding one migration brought to a phase, and
// the context the real commit and rollback run with, whose podman knows no container.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FerryError } from '../../../common/errors.ts';
import { Origins } from '../../../agent/fleet/origins.ts';
import { Journal, type JournalPhase, type Role } from '../../../agent/journal.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { Podman } from '../../../agent/podman/podman.ts';
import type { SettleContext } from '../../../agent/settle/context.ts';

/** Each role's way to its phases from the first (rollback from the middle of the way). */
const WAY: Record<Role, JournalPhase[]> = {
  source: ['checkpoint', 'transfer', 'sealed', 'sent', 'commit'],
  destination: ['preflight', 'transfer', 'received', 'restore', 'restored', 'verified', 'commit'],
};

/** Migration m-1 of `role` in `phase`, in a journal of a new folder (its archive path in it too). */
export async function journalAt(role: Role, phase: JournalPhase, options: { expired?: boolean } = {}): Promise<{ journal: Journal; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-settle-'));
  const journal = new Journal(dir);
  await journal.open();
  const expiresAt = new Date(Date.now() + (options.expired ? -1_000 : 600_000)).toISOString();
  await journal.create({
    id: 'm-1',
    role,
    ...(role === 'destination' ? { expiresAt } : {}),
    container: 'redis',
    containerId: 'abc',
    peer: 'hostX',
    peerAddress: '10.0.0.9:7070',
    phase: WAY[role][0] as JournalPhase,
    archivePath: join(dir, 'm-1.tar'),
  });
  const path = phase === 'rollback' ? [...WAY[role].slice(1, 3), 'rollback' as const] : WAY[role].slice(1, WAY[role].indexOf(phase) + 1);
  for (const step of path) await journal.advance(journal.require('m-1'), step);
  return { journal, dir };
}

/** What the real commitHere and rollbackHere run with: podman knows no container (its copy is gone). */
export function settleContext(journal: Journal, dir: string): SettleContext {
  const gone = async () => {
    throw new FerryError('PODMAN_FAILED', 'podman container inspect: Error: no such container abc');
  };
  return {
    host: 'hostA',
    address: '127.0.0.1',
    podman: { run: gone, runJson: gone } as unknown as Podman,
    journal,
    log: silentLogger,
    archiveDir: dir,
    stateDir: dir,
    policyPath: join(dir, 'policy.json'),
    stopReceiving: async () => {},
    over: () => {},
    problems: new Map(),
    origins: new Origins(dir),
  };
}
