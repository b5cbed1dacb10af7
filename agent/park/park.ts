// Rebooting a host with no spare host beside it, as the podman guides do it by hand: checkpoint
// each running container to the host's own disk before the reboot, restore it after. Parking
// names every container first (pending), then checkpoints them one by one: podman stops each as
// it dumps it, so nothing is written after its checkpoint. An archive counts only once it is
// complete and synced and renamed into place; then the record says parked. Unparking restores
// the archive (its TCP connections closed: their peers forgot them during the reboot), runs the
// post-restore and validation hooks, checks the published ports answer here, and only then
// removes the checkpoint. After a reboot, whatever a park left half done is settled: a complete
// checkpoint is restored, a container that was never checkpointed is started again.
import { rename, rm, stat } from 'node:fs/promises';
import { FerryError } from '../../common/errors.ts';
import { DEFAULTS } from '../../common/defaults.ts';
import { reachedOn, silentTcpPorts } from '../../common/tcp.ts';
import type { HostContext } from '../context.ts';
import { checkpoint } from '../podman/checkpoint.ts';
import { examine } from '../criu/obstacles.ts';
import { refusal } from '../../common/readiness.ts';
import { runHook } from '../podman/hooks.ts';
import { findContainer, inspectContainer, listContainers } from '../podman/inspect.ts';
import { removeContainer, restoreImport } from '../podman/restore.ts';
import { syncPath } from '../durable.ts';
import type { ParkBook, ParkRecord } from './book.ts';
import { holdUnit, restoreUnit, type UnitRecord } from '../systemd/control.ts';
import { containerUnit, unitObstacle } from '../systemd/unit.ts';
import { UNIT_KIND } from '../../common/wire.ts';

export interface ParkContext extends HostContext {
  book: ParkBook;
}

export interface ParkResult {
  container: string;
  ok: boolean;
  /** What happened, in a sentence; with a stable error code first when it failed. */
  outcome: string;
  archiveBytes: number;
  ms: number;
}

/** What a caller hears as each container is done. */
export type ParkProgress = (result: ParkResult) => void;

const PARK_TIMEOUT_MS = 10 * 60_000;

function failure(error: unknown): string {
  const e = FerryError.from(error);
  return `${e.code}: ${e.message}`;
}

/** Parks the named running containers (all of them when none is named), one after the other. */
export async function parkContainers(ctx: ParkContext, names: readonly string[], progress: ParkProgress): Promise<ParkResult[]> {
  const running = (await listContainers(ctx.podman, false)).filter((c) => c.state === 'running');
  const find = (name: string) => running.find((c) => c.name === name || c.id.startsWith(name));
  const missing = names.filter((n) => !find(n));
  if (missing.length) throw new FerryError('CONTAINER_NOT_RUNNING', `not running on ${ctx.host}: ${missing.join(', ')}`, { host: ctx.host });
  const wanted = (names.length ? running.filter((c) => names.some((n) => find(n) === c)) : running).sort((a, b) => a.name.localeCompare(b.name));
  // Refused before any record is made: a park never half-begins.
  const migrating = new Set(ctx.journal.active().map((r) => r.containerId));
  const busy = wanted.find((c) => migrating.has(c.id));
  if (busy) throw new FerryError('MIGRATION_BUSY', `container ${busy.name} is being migrated; park it once that is over`, { host: ctx.host });
  const batch = new Date().toISOString();
  // Every container is named before the first is touched: a reboot in the middle then knows
  // which ones the park meant to keep, and starts again those it never reached.
  const records: ParkRecord[] = [];
  for (const summary of wanted) {
    if (ctx.book.unfinished().some((r) => r.containerId === summary.id)) continue;
    records.push(await ctx.book.create({ container: summary.name, containerId: summary.id, batch, ports: summary.ports }));
  }
  return inTurn(records, (record) => parkOne(ctx, record), progress);
}

/** One record after the other (they share the host's podman and disk), each result told as it comes. */
async function inTurn(records: readonly ParkRecord[], work: (record: ParkRecord) => Promise<ParkResult>, progress: ParkProgress): Promise<ParkResult[]> {
  const results: ParkResult[] = [];
  for (const record of records) {
    const result = await work(record);
    results.push(result);
    progress(result);
  }
  return results;
}

async function parkOne(ctx: ParkContext, record: ParkRecord): Promise<ParkResult> {
  const started = performance.now();
  const log = ctx.log.child({ park: record.id, container: record.container });
  const partial = `${record.archivePath}.partial`;
  let unit: UnitRecord | undefined;
  try {
    const container = await inspectContainer(ctx.podman, record.containerId);
    await runHook(ctx.podman, container.id, container.labels, 'preCheckpoint');
    // What CRIU cannot dump refuses the park of this one while it runs; file locks go with it.
    const readiness = await examine(ctx.podman, container.id);
    if (readiness.obstacles.length) throw refusal(container.name, readiness.obstacles, { phase: 'checkpoint', host: ctx.host });
    // Its unit, if one runs it, is held and disabled until the unpark: the checkpoint must not
    // be removed under the park, nor a boot start a fresh copy before the parked one is back.
    const found = await containerUnit(ctx.podman, container);
    const unitRefused = unitObstacle(found);
    if (unitRefused) throw refusal(container.name, [unitRefused], { phase: 'checkpoint', host: ctx.host });
    const fileLocks = readiness.fileLocks.length > 0;
    const validation = (await runHook(ctx.podman, container.id, container.labels, 'validate')) ?? '';
    unit = found ? { name: found.name, kind: UNIT_KIND.fromWire(found.kind) ?? 'other', enabled: found.enabled } : undefined;
    await ctx.book.advance(record.id, 'checkpoint', { validation, ports: container.ports, fileLocks, unit });
    if (unit) await holdUnit(unit);
    log.info({ fileLocks }, 'parking: checkpointing to this host\'s disk');
    // podman stops the container as it dumps it: nothing it writes can come after its checkpoint.
    await checkpoint(ctx.podman, { container: container.id, exportPath: partial, compress: 'none', fileLocks }, { timeoutMs: PARK_TIMEOUT_MS });
    await syncPath(partial);
    await rename(partial, record.archivePath);
    await syncPath(ctx.book.dir);
    const bytes = (await stat(record.archivePath)).size;
    await ctx.book.advance(record.id, 'parked', { outcome: `parked: ${bytes} bytes` });
    log.info({ bytes }, 'parked');
    return { container: record.container, ok: true, outcome: `parked (${(bytes / 1048576).toFixed(1)} MiB checkpoint)`, archiveBytes: bytes, ms: Math.round(performance.now() - started) };
  } catch (error) {
    await rm(partial, { force: true });
    // A failed hook or dump leaves the container running; should it not be, it is started again.
    const outcome = `${failure(error)}; ${await ensureRunning(ctx, { ...record, unit })}`;
    await ctx.book.advance(record.id, 'failed', { outcome }).catch(() => undefined);
    await ctx.book.forget(record.id);
    log.warn({ outcome }, 'not parked');
    return { container: record.container, ok: false, outcome, archiveBytes: 0, ms: Math.round(performance.now() - started) };
  }
}

/** Starts the container if it exists and is not running, and gives its unit back; says what it found. */
async function ensureRunning(ctx: ParkContext, record: ParkRecord): Promise<string> {
  const found = await findContainer(ctx.podman, record.containerId).catch(() => undefined);
  if (!found) return 'the container no longer exists';
  let outcome = 'it still runs';
  if (found.state !== 'running') {
    await ctx.podman.run(['start', found.id], { timeoutMs: 120_000 });
    outcome = 'it was started again (without the memory it had)';
  }
  if (record.unit) outcome += `; ${await restoreUnit(ctx.podman, record.unit, found.id)}`;
  return outcome;
}

/** Restores the parked containers (the named ones, or all), checks them, and drops their checkpoints. */
export async function unparkContainers(ctx: ParkContext, names: readonly string[], progress: ParkProgress): Promise<ParkResult[]> {
  const unfinished = ctx.book.unfinished();
  const chosen = names.length ? unfinished.filter((r) => names.includes(r.container) || names.some((n) => r.containerId.startsWith(n))) : unfinished;
  if (names.length && !chosen.length) throw new FerryError('CONTAINER_NOT_FOUND', `no parked container ${names.join(', ')} on ${ctx.host}`, { host: ctx.host });
  return inTurn(chosen, (record) => settleOne(ctx, record), progress);
}

/** One record, whatever phase a park or a reboot left it in. */
async function settleOne(ctx: ParkContext, record: ParkRecord): Promise<ParkResult> {
  const started = performance.now();
  const done = (ok: boolean, outcome: string): ParkResult => ({ container: record.container, ok, outcome, archiveBytes: 0, ms: Math.round(performance.now() - started) });
  if (record.phase === 'pending' || record.phase === 'checkpoint') {
    // The park never finished this one; its archive is whole only if it was renamed into place,
    // which happens after the checkpoint began: a pending one was never touched (and its machine
    // has no pending -> parked).
    const whole = record.phase === 'checkpoint' && (await stat(record.archivePath).then(() => true, () => false));
    if (whole) {
      record = await ctx.book.advance(record.id, 'parked', { outcome: 'parked (found complete after a restart)' });
    } else {
      await rm(`${record.archivePath}.partial`, { force: true });
      const running = await ensureRunning(ctx, record).then(
        (outcome) => ({ ok: true, outcome }),
        (error: unknown) => ({ ok: false, outcome: `it could not be started: ${failure(error)}` }),
      );
      await ctx.book.advance(record.id, 'failed', { outcome: `never parked; ${running.outcome}` });
      await ctx.book.forget(record.id);
      return done(running.ok, `never parked; ${running.outcome}`);
    }
  }
  if (record.phase === 'restore') record = await ctx.book.advance(record.id, 'parked');
  return unparkOne(ctx, record, started);
}

async function unparkOne(ctx: ParkContext, record: ParkRecord, started: number): Promise<ParkResult> {
  const log = ctx.log.child({ park: record.id, container: record.container });
  const result = (ok: boolean, outcome: string): ParkResult => ({ container: record.container, ok, outcome, archiveBytes: 0, ms: Math.round(performance.now() - started) });
  await ctx.book.advance(record.id, 'restore');
  try {
    const existing = await findContainer(ctx.podman, record.containerId);
    if (existing?.state === 'running') {
      // Someone started it meanwhile: what runs is newer than the checkpoint, which is dropped.
      await ctx.book.advance(record.id, 'done', { outcome: 'it was already running; its older checkpoint was removed' });
      await ctx.book.forget(record.id);
      return result(true, 'already running; its older checkpoint was removed');
    }
    // The stopped container the checkpoint left (podman forgets it ran) makes way for the import.
    if (existing) await removeContainer(ctx.podman, existing.id);
    const { container } = await restoreImport(ctx.podman, { archivePath: record.archivePath, name: record.container, closeConnections: true, fileLocks: record.fileLocks }, { timeoutMs: PARK_TIMEOUT_MS });
    await runHook(ctx.podman, container.id, container.labels, 'postRestore');
    const validation = (await runHook(ctx.podman, container.id, container.labels, 'validate')) ?? '';
    if (validation !== record.validation) {
      throw new FerryError('VALIDATION_MISMATCH', `the validation hook of ${record.container} said "${validation.trim()}" after the restore, "${record.validation.trim()}" before the park`);
    }
    const silent = await silentTcpPorts(container.ports, reachedOn(ctx.address), DEFAULTS.portAnswerMs);
    if (silent.length) throw new FerryError('VERIFY_FAILED', `${record.container} runs again but ${silent.join(', ')} does not answer`);
    // Only once it answers: the unit takes the restored container as its service again.
    const unit = record.unit ? `; ${await restoreUnit(ctx.podman, record.unit, container.id)}` : '';
    await ctx.book.advance(record.id, 'done', { outcome: `restored; its ports answer${unit}` });
    await ctx.book.forget(record.id);
    log.info({ unit: record.unit?.name }, 'unparked');
    return result(true, `restored${container.ports.length ? ', its published ports answer' : ''}${unit}`);
  } catch (error) {
    // Back to parked, checkpoint kept: the container stays restorable, never half there.
    await removeContainer(ctx.podman, record.container).catch(() => undefined);
    await ctx.book.advance(record.id, 'parked', { outcome: failure(error) });
    log.warn({ error: failure(error) }, 'unpark failed; the checkpoint is kept');
    return result(false, `${failure(error)}; still parked, its checkpoint kept (ferry unpark to try again)`);
  }
}
