// Where a destination keeps incoming bind-mount data until the restore: beside each declared
// path, on the same filesystem, so that promoting it is a rename. What was at the path before
// (an empty directory, or data the user asked to replace) is kept aside until commit, so a
// rollback puts everything back as it was.
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import type { Resolve } from './extract.ts';

export const incomingPath = (path: string, id: string) => `${path}.ferry-incoming-${id}`;
export const replacedPath = (path: string, id: string) => `${path}.ferry-replaced-${id}`;
export const leftPath = (path: string, id: string) => `${path}.ferry-left-${id}`;

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}

/** What is at a destination path now: nothing, an empty directory, or something in use. */
export async function pathState(path: string): Promise<'absent' | 'empty' | 'occupied'> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats) return 'absent';
  if (stats.isDirectory() && (await readdir(path)).length === 0) return 'empty';
  return 'occupied';
}

/** Tar entries for a declared path (or below it) go to its incoming copy; anything else is refused. */
export function stagingResolver(paths: readonly string[], id: string): Resolve {
  return (hostPath) => {
    for (const path of paths) {
      if (hostPath === path || hostPath.startsWith(`${path}/`)) {
        const root = incomingPath(path, id);
        return { root, target: root + hostPath.slice(path.length) };
      }
    }
    return undefined;
  };
}

/** Moves the incoming copies into place; returns the paths that were promoted. */
export async function promote(paths: readonly string[], id: string): Promise<string[]> {
  const promoted: string[] = [];
  for (const path of paths) {
    const incoming = incomingPath(path, id);
    if (!(await exists(incoming))) continue;
    if (await exists(path)) await rename(path, replacedPath(path, id));
    await rename(incoming, path);
    promoted.push(path);
  }
  return promoted;
}

/** Undoes promote() and drops the incoming copies. Safe to repeat. */
export async function unstage(paths: readonly string[], id: string, promoted: readonly string[]): Promise<void> {
  for (const path of paths) {
    const replaced = replacedPath(path, id);
    if (promoted.includes(path)) {
      await rm(path, { recursive: true, force: true });
      if (await exists(replaced)) await rename(replaced, path);
    }
    await rm(incomingPath(path, id), { recursive: true, force: true });
  }
}

/** After commit: what was replaced is no longer needed. */
export async function dropReplaced(paths: readonly string[], id: string): Promise<void> {
  for (const path of paths) await rm(replacedPath(path, id), { recursive: true, force: true });
}
