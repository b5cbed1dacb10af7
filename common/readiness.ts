// What the source's examination of a container's processes (agent/criu/obstacles.ts) means to
// whoever asked: the refusal of a move, the lines of a preflight. Shared by the coordinator and the
// agents, which both refuse (the coordinator in its preflight, the source again just before the freeze).
import { FerryError, isErrorCode } from './errors.ts';
import type { Phase } from './phases.ts';
import type { Finding__Output as Finding } from '../proto/gen/ferry/v1/Finding.ts';

/**
 * The move refused for the first obstacle, every one of them listed: nothing has been frozen. Its
 * hint is the fix for what was found, not the code's generic one.
 */
export function refusal(container: string, obstacles: readonly Finding[], where: { phase: Phase; host: string }): FerryError {
  const first = obstacles[0];
  if (!first) throw new FerryError('INTERNAL', 'refusal() needs at least one obstacle');
  const code = isErrorCode(first.code) ? first.code : 'PREFLIGHT_FAILED';
  return new FerryError(code, `${container} cannot be checkpointed: ${first.detail}${obstacles.length > 1 ? ` (and ${obstacles.length - 1} more cause${obstacles.length > 2 ? 's' : ''}, listed below)` : ''}; nothing was frozen`, {
    ...where,
    hint: `${first.fix[0]?.toUpperCase() ?? ''}${first.fix.slice(1)}.`,
    details: obstacles.map((o) => `${o.code}: ${[o.process, o.file].filter(Boolean).join(', ')}: ${o.detail}; fix: ${o.fix}`),
  });
}

/** One preflight line about file locks: none, or who holds which, and that Ferry moves them. */
export function fileLocksCheck(locks: readonly Finding[]): { name: string; ok: boolean; detail: string } {
  if (!locks.length) return { name: 'file locks', ok: true, detail: 'none held' };
  const files = [...new Set(locks.map((l) => `${l.process}: ${l.file}`))];
  const shown = files.slice(0, 3).join('; ') + (files.length > 3 ? `; and ${files.length - 3} more` : '');
  return { name: 'file locks', ok: true, detail: `${locks.length} held (${shown}): checkpointed and restored with --file-locks` };
}
