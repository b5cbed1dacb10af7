// Database hooks, declared by the container's own labels and run inside it with podman exec:
//   io.ferry.hook.pre-checkpoint   before the freeze (e.g. CHECKPOINT; BGSAVE; FLUSH TABLES WITH READ LOCK)
//   io.ferry.hook.post-restore     after the restore (e.g. UNLOCK TABLES)
//   io.ferry.validate              printed before the freeze and after the restore; must be identical
// A value is run by `sh -c`, or, when it is a JSON array, as that argv (for images without a shell).
import { FerryError } from '../../common/errors.ts';
import type { Podman, RunOptions } from './podman.ts';

export const HOOK_LABELS = {
  preCheckpoint: 'io.ferry.hook.pre-checkpoint',
  postRestore: 'io.ferry.hook.post-restore',
  validate: 'io.ferry.validate',
} as const;

export type Hook = keyof typeof HOOK_LABELS;

const HOOK_TIMEOUT_MS = 120_000;

export function hookArgv(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (cause) {
      throw new FerryError('HOOK_FAILED', `hook ${value} is neither a shell command nor a JSON array`, { cause });
    }
    if (!Array.isArray(parsed) || !parsed.length || !parsed.every((a) => typeof a === 'string')) {
      throw new FerryError('HOOK_FAILED', `hook ${value} must be a non-empty JSON array of strings`);
    }
    return parsed as string[];
  }
  return ['sh', '-c', trimmed];
}

/** Runs the container's hook if it declares one; its stdout, or undefined when there is none. */
export async function runHook(
  podman: Podman,
  container: string,
  labels: Record<string, string> | undefined,
  hook: Hook,
  options: RunOptions = {},
): Promise<string | undefined> {
  const value = labels?.[HOOK_LABELS[hook]];
  if (!value?.trim()) return undefined;
  try {
    return await podman.run(['exec', container, ...hookArgv(value)], {
      timeoutMs: HOOK_TIMEOUT_MS,
      ...options,
      errorCode: 'HOOK_FAILED',
    });
  } catch (error) {
    const e = FerryError.from(error);
    throw new FerryError('HOOK_FAILED', `the ${HOOK_LABELS[hook]} hook of ${container} failed: ${e.message}`, {
      details: e.details,
      cause: e,
    });
  }
}
