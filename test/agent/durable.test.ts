// Crash consistency of the agent's records (agent/durable.ts), by replaying power cuts. The file
// system calls a durable write makes are recorded against a model of a disk, then every state a
// power cut could leave is built: after each prefix of the calls, with any of the effects not
// yet made durable by a sync kept or lost (file contents until their fsync, directory entries
// until their directory's fsync, in the order they were made). The record read back must be the
// old one or the new one, never neither, and the journal opened on each state must find the
// migration in its old phase or its new one.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDurably, type DurableFs } from '../../agent/durable.ts';
import { Journal } from '../../agent/journal.ts';

type Op = { kind: 'create'; path: string; text: string } | { kind: 'sync'; path: string } | { kind: 'rename'; from: string; to: string };

/** Records the calls a write makes. */
function recorder(): { fs: DurableFs; ops: Op[] } {
  const ops: Op[] = [];
  return {
    ops,
    fs: {
      create: async (path, text) => void ops.push({ kind: 'create', path, text }),
      sync: async (path) => void ops.push({ kind: 'sync', path }),
      rename: async (from, to) => void ops.push({ kind: 'rename', from, to }),
    },
  };
}

interface Inode {
  durable: string;
  written: string;
}

/**
 * Every set of files (name -> contents) a power cut after `ops` could leave, starting from
 * `before` (durable). A file's contents are durable once it is synced; a directory's entries
 * (a create, a rename) once the directory is.
 */
function crashStates(before: Record<string, string>, ops: Op[], dir: string): Array<Record<string, string>> {
  const inodes: Inode[] = [];
  const durableEntries = new Map<string, number>();
  for (const [name, text] of Object.entries(before)) durableEntries.set(name, inodes.push({ durable: text, written: text }) - 1);
  let entries = new Map(durableEntries);
  const pending: Array<(into: Map<string, number>) => void> = [];
  for (const op of ops) {
    if (op.kind === 'create') {
      const inode = inodes.push({ durable: '', written: op.text }) - 1;
      entries.set(op.path, inode);
      pending.push((into) => into.set(op.path, inode));
    } else if (op.kind === 'rename') {
      const inode = entries.get(op.from);
      if (inode === undefined) throw new Error(`rename of ${op.from}, which is not there`);
      entries.delete(op.from);
      entries.set(op.to, inode);
      pending.push((into) => {
        into.delete(op.from);
        into.set(op.to, inode);
      });
    } else if (op.path === dir) {
      pending.length = 0;
      for (const [name, inode] of entries) durableEntries.set(name, inode);
      for (const name of [...durableEntries.keys()]) if (!entries.has(name)) durableEntries.delete(name);
    } else {
      const inode = inodes[entries.get(op.path) ?? -1];
      if (inode) inode.durable = inode.written;
    }
  }
  entries = durableEntries;
  const unsynced = inodes.map((inode, i) => [i, inode] as const).filter(([, inode]) => inode.durable !== inode.written).map(([i]) => i);
  const states: Array<Record<string, string>> = [];
  // Directory operations reach the disk in order: some prefix of the pending ones did.
  for (let applied = 0; applied <= pending.length; applied += 1) {
    const names = new Map(entries);
    for (const apply of pending.slice(0, applied)) apply(names);
    // Each unsynced file's contents may or may not have been written back.
    for (let mask = 0; mask < 1 << unsynced.length; mask += 1) {
      const state: Record<string, string> = {};
      for (const [name, i] of names) {
        const inode = inodes[i] as Inode;
        const k = unsynced.indexOf(i);
        state[name] = k >= 0 && mask & (1 << k) ? inode.written : inode.durable;
      }
      states.push(state);
    }
  }
  return states;
}

/** After each prefix of the write's calls, every state a power cut could leave. */
async function everyCrash(write: (fs: DurableFs) => Promise<void>, before: Record<string, string>, dir: string): Promise<Array<Record<string, string>>> {
  const { fs, ops } = recorder();
  await write(fs);
  const states: Array<Record<string, string>> = [];
  for (let k = 0; k <= ops.length; k += 1) states.push(...crashStates(before, ops.slice(0, k), dir));
  return states;
}

/** The states a power cut right after the whole write could leave. */
async function afterTheWrite(write: (fs: DurableFs) => Promise<void>): Promise<Array<Record<string, string>>> {
  const { fs, ops } = recorder();
  await write(fs);
  return crashStates({ [PATH]: 'old' }, ops, DIR);
}

const DIR = '/state/migrations';
const PATH = `${DIR}/m-1.json`;

describe('a durable write, cut by a power loss at any moment', () => {
  it('leaves the old record or the new one, never neither', async () => {
    const states = await everyCrash((fs) => writeDurably(PATH, 'new', fs), { [PATH]: 'old' }, DIR);
    expect(states.length).toBeGreaterThan(10);
    for (const state of states) expect(['old', 'new'], JSON.stringify(state)).toContain(state[PATH]);
    // Once the write returned, every state a power cut leaves holds the new one.
    expect(new Set((await afterTheWrite((fs) => writeDurably(PATH, 'new', fs))).map((s) => s[PATH]))).toEqual(new Set(['new']));
  });

  it('would go back to the old record after the write returned, without the directory fsync (the check can fail)', async () => {
    const forgetful = async (fs: DurableFs) => {
      await fs.create(`${PATH}.tmp`, 'new');
      await fs.sync(`${PATH}.tmp`);
      await fs.rename(`${PATH}.tmp`, PATH);
    };
    expect((await afterTheWrite(forgetful)).map((s) => s[PATH])).toContain('old');
  });

  it('would leave an empty record without the fsync before the rename (the check can fail)', async () => {
    const careless = async (fs: DurableFs) => {
      await fs.create(`${PATH}.tmp`, 'new');
      await fs.rename(`${PATH}.tmp`, PATH);
      await fs.sync(DIR);
    };
    const states = await everyCrash(careless, { [PATH]: 'old' }, DIR);
    expect(states.map((s) => s[PATH])).toContain('');
  });

  it('the journal, opened on each state a cut of a phase change can leave, finds the migration in its old phase or its new one', async () => {
    // The record as the journal writes it, before and after the source seals.
    const real = mkdtempSync(join(tmpdir(), 'ferry-durable-'));
    const journal = new Journal(real);
    await journal.open();
    await journal.create({ id: 'm-1', role: 'source', container: 'db', containerId: 'abc', peer: 'hostB', phase: 'checkpoint', archivePath: join(real, 'm-1.tar') });
    await journal.advance(journal.require('m-1'), 'transfer');
    const { readFileSync } = await import('node:fs');
    const old = readFileSync(join(real, 'migrations', 'm-1.json'), 'utf8');
    await journal.advance(journal.require('m-1'), 'sealed');
    const sealed = readFileSync(join(real, 'migrations', 'm-1.json'), 'utf8');
    const states = await everyCrash((fs) => writeDurably(PATH, sealed, fs), { [PATH]: old }, DIR);
    for (const state of states) {
      const root = mkdtempSync(join(tmpdir(), 'ferry-durable-crash-'));
      for (const [path, text] of Object.entries(state)) {
        const at = join(root, path.replace('/state/', ''));
        mkdirSync(dirname(at), { recursive: true });
        writeFileSync(at, text);
      }
      const reopened = new Journal(root);
      await reopened.open();
      expect(['transfer', 'sealed'], JSON.stringify(Object.keys(state))).toContain(reopened.get('m-1')?.phase);
    }
  });
});
