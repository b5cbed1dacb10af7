// How a command talks to the person running it: text or --json lines, errors with their exit
// codes, progress at a readable pace, and Ctrl-C turned into a rollback.
import { FerryError } from '../common/errors.ts';
import type { MigrationEvent } from './events.ts';
import { eventJson, formatError, formatEvent } from './render.ts';

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
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
export function interruptible(io: Output): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      io.err('still rolling back; wait for it to finish so the container is left running on one host');
      return;
    }
    io.err('interrupted: rolling back...');
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
}

export function renderer(io: Output): Renderer {
  let lastProgress = 0;
  let failed = false;
  const render = (event: MigrationEvent) => {
    if (event.kind === 'failed') failed = true;
    if (io.json) {
      io.out(eventJson(event));
      return;
    }
    if (event.kind === 'progress') {
      // Progress lines at most once a second; the final size is in the 'transferred' line.
      if (Date.now() - lastProgress < 1000 || event.bytes === event.totalBytes) return;
      lastProgress = Date.now();
    }
    const text = formatEvent(event);
    if (text !== undefined) (event.kind === 'failed' || event.kind === 'warning' ? io.err : io.out)(text);
  };
  return Object.assign(render, { sawFailure: () => failed });
}

export function defaultOutput(json: boolean): Output {
  return {
    json,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
}
