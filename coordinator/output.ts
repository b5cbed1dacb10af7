// How a command talks to the person running it: text or --json lines, errors with their exit
// codes, progress at a readable pace (rewritten in place on a terminal, a line a second
// elsewhere), and Ctrl-C turned into a rollback.
import { FerryError } from '../common/errors.ts';
import type { EvacuationEvent, MigrationEvent } from './events.ts';
import { LiveArea, type Terminal } from './progress.ts';
import { evacuationEventJson, eventJson, formatError, formatEvacuationEvent, formatEvacuationStatus, formatEvent, formatProgress, tagged } from './render.ts';

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
  /** stdout when it is a terminal: progress is then rewritten in place instead of printed. */
  terminal?: Terminal | undefined;
}

export function usage(message: string): never {
  throw new FerryError('BAD_REQUEST', message, { hint: 'See `ferry --help`.' });
}

export function report(error: FerryError, io: Output): number {
  if (io.json) io.out(JSON.stringify({ event: 'error', error }));
  else io.err(formatError(error));
  return exitCode(error);
}

const USAGE_CODES = new Set(['BAD_REQUEST', 'UNKNOWN_HOST', 'INVENTORY_INVALID', 'SAME_HOST']);

export function exitCode(error: FerryError): number {
  if (error.code === 'ROLLBACK_FAILED') return 3;
  return USAGE_CODES.has(error.code) ? 2 : 1;
}

/** Ctrl-C aborts the migration, which then rolls back; a second Ctrl-C only says so. */
export function interruptible(io: Output, what = 'rolling back...'): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      io.err('still rolling back; wait for it to finish so the container is left running on one host');
      return;
    }
    io.err(`interrupted: ${what}`);
    controller.abort(new FerryError('CANCELLED', 'interrupted by the user'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

export interface Renderer {
  (event: MigrationEvent): void;
  /** Whether a 'failed' event has been shown, so the error need not be printed again. */
  sawFailure: () => boolean;
  /** Where the command's other lines go (Ctrl-C, errors): above the live progress line. */
  io: Output;
  /** Takes the live line away; the command is over. */
  close: () => void;
}

/** Plain progress lines, one a second per migration; the final size is in the 'transferred' line. */
function progressPace(): (event: Extract<MigrationEvent, { kind: 'progress' }>) => boolean {
  const last = new Map<string, number>();
  return (event) => {
    if (Date.now() - (last.get(event.migrationId) ?? 0) < 1000 || event.bytes === event.totalBytes) return false;
    last.set(event.migrationId, Date.now());
    return true;
  };
}

/** An Output whose lines go above the live ones. */
function above(io: Output, area: LiveArea | undefined): Output {
  if (!area) return io;
  return { ...io, out: (text) => area.above(() => io.out(text)), err: (text) => area.above(() => io.err(text)) };
}

/** A terminal's live lines, unless the output is --json or not a terminal. */
function liveArea(io: Output): LiveArea | undefined {
  return !io.json && io.terminal ? new LiveArea(io.terminal) : undefined;
}

/** One migration's events: JSON lines; or text, with the transfer's progress live on a terminal. */
export function renderer(io: Output): Renderer {
  const area = liveArea(io);
  const lines = above(io, area);
  const paced = progressPace();
  let failed = false;
  const render = (event: MigrationEvent) => {
    if (event.kind === 'failed') failed = true;
    if (io.json) {
      io.out(eventJson(event));
      return;
    }
    if (event.kind === 'progress') {
      if (area) area.update([formatProgress(event)]);
      else if (paced(event)) io.out(formatProgress(event));
      return;
    }
    // Past the transfer, or at its end, the live line has said what it had to.
    if (area && event.kind !== 'retrying') area.update([]);
    const text = formatEvent(event);
    if (text !== undefined) (event.kind === 'failed' || event.kind === 'warning' ? lines.err : lines.out)(text);
  };
  return Object.assign(render, { sawFailure: () => failed, io: lines, close: () => area?.close() });
}

export interface EvacuationRenderer {
  (event: EvacuationEvent): void;
  io: Output;
  close: () => void;
}

/**
 * An evacuation's events. JSON: every event, a migration's with its container. Text: each
 * container's lines tagged with its name; on a terminal the live lines are one per transfer
 * under way and the count (N of M done, which are in flight), elsewhere that count is a line of
 * its own whenever a container starts or ends.
 */
export function evacuationRenderer(io: Output): EvacuationRenderer {
  const area = liveArea(io);
  const lines = above(io, area);
  const paced = progressPace();
  const transfers = new Map<string, string>();
  let status: string | undefined;
  let lastPlain = '';
  const redraw = () => area?.update([...transfers.values(), ...(status ? [status] : [])]);
  const render = (event: EvacuationEvent) => {
    if (io.json) {
      io.out(evacuationEventJson(event));
      return;
    }
    if (event.kind === 'migration') {
      const inner = event.event;
      if (inner.kind === 'progress') {
        if (area) {
          transfers.set(event.container, tagged(event.container, formatProgress(inner)));
          redraw();
        } else if (paced(inner)) io.out(tagged(event.container, formatProgress(inner)));
        return;
      }
      if (inner.kind !== 'retrying' && transfers.delete(event.container)) redraw();
      const text = formatEvacuationEvent(event);
      if (text !== undefined) (inner.kind === 'failed' || inner.kind === 'warning' ? lines.err : lines.out)(text);
      return;
    }
    if (event.kind === 'evacuation-progress') {
      if (area) {
        status = formatEvacuationStatus(event);
        redraw();
        return;
      }
      // Plain: only when a container started or ended, not at each of its phases.
      const key = `${event.moved}/${event.failed}/${event.inFlight.map((f) => `${f.container}>${f.to}`).join(',')}`;
      if (key === lastPlain) return;
      lastPlain = key;
      io.out(formatEvacuationStatus(event));
      return;
    }
    if (event.kind === 'evacuated') {
      status = undefined;
      transfers.clear();
      area?.close();
    }
    const text = formatEvacuationEvent(event);
    if (text !== undefined) (event.kind === 'refused' ? lines.err : lines.out)(text);
  };
  return Object.assign(render, { io: lines, close: () => area?.close() });
}

export function defaultOutput(json: boolean): Output {
  const tty = process.stdout.isTTY && process.env.TERM !== 'dumb';
  return {
    json,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    terminal: tty ? { write: (raw) => process.stdout.write(raw), columns: () => process.stdout.columns || 80 } : undefined,
  };
}
