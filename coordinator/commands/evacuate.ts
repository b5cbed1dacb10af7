// ferry evacuate: every running container of one host, up to --parallel at a time, each to the
// destination with the most room that takes it (coordinator/evacuate/). Parses and renders only.
import { FerryError } from '../../common/errors.ts';
import type { Dialer } from '../../common/dial.ts';
import { evacuate } from '../evacuate/evacuation.ts';
import type { EvacuationResult } from '../events.ts';
import type { Inventory } from '../inventory.ts';
import { endpoints, migrationSettings, type Values } from '../options.ts';
import { evacuationRenderer, interruptible, report, usage, type EvacuationRenderer, type Output } from '../output.ts';

/** The most containers an evacuation moves at once: each move keeps both hosts' CPUs busy. */
const MAX_PARALLEL = 16;

export function parseParallel(text: string | undefined): number {
  const parallel = Number(text ?? '1');
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL) usage(`--parallel must be a whole number from 1 to ${MAX_PARALLEL}, not "${text}"`);
  return parallel;
}

/** 0 all moved; 3 when a rollback did not complete; 1 when any failed or did not start. */
export function evacuationExitCode(results: readonly EvacuationResult[]): number {
  if (results.some((r) => r.result === 'rollback-failed')) return 3;
  return results.some((r) => r.result === 'failed' || r.result === 'not-started') ? 1 : 0;
}

export async function runEvacuate(inventory: Inventory, dialer: Dialer, values: Values, rest: string[], io: Output): Promise<number> {
  if (rest.length) usage(`evacuate takes no container names (got ${rest.join(' ')}); it moves every running container`);
  const { from, to } = endpoints(inventory, values);
  const settings = migrationSettings(values);
  const parallel = parseParallel(values.parallel);
  return runBatch(io, (render, signal) => evacuate({ from, to, parallel, settings, signal, dialer }, render));
}

/**
 * Runs an evacuation or a return with its renderer: Ctrl-C starts no more moves, and those under
 * way roll back; the exit code counts the results.
 */
export async function runBatch(io: Output, work: (render: EvacuationRenderer, signal: AbortSignal) => Promise<EvacuationResult[]>): Promise<number> {
  const render = evacuationRenderer(io);
  const interrupt = interruptible(render.io, 'starting no more moves; the ones under way roll back...');
  try {
    return evacuationExitCode(await work(render, interrupt.signal));
  } catch (error) {
    return report(FerryError.from(error), render.io);
  } finally {
    interrupt.dispose();
    render.close();
  }
}
