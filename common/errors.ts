// One error type for all of Ferry. Every failure has a stable code (match on it, never on the
// message), the phase it happened in, the host it happened on, and a hint that says what to do.
// The codes, what each means and what to do, are the catalogue in error-codes.ts.
import { isPhase, type Phase } from './phases.ts';
import { ERROR_CODES, isErrorCode, type ErrorCode } from './error-codes.ts';

export { ERROR_CODES, isErrorCode, type ErrorCode } from './error-codes.ts';

export interface ErrorContext {
  phase?: Phase | undefined;
  host?: string | undefined;
  /** Lines that explain the failure, e.g. the `Error (criu/...)` lines of CRIU's log. */
  details?: readonly string[] | undefined;
  /** Overrides the code's generic hint. */
  hint?: string | undefined;
  cause?: unknown;
}

export class FerryError extends Error {
  override readonly name = 'FerryError';
  readonly code: ErrorCode;
  readonly phase: Phase | undefined;
  readonly host: string | undefined;
  readonly details: readonly string[];
  readonly hint: string;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.phase = context.phase;
    this.host = context.host;
    this.details = context.details ?? [];
    this.hint = context.hint ?? ERROR_CODES[code].hint;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** A copy that knows where it happened, keeping whatever it already knew. */
  at(phase: Phase | undefined, host: string | undefined): FerryError {
    if ((this.phase ?? phase) === this.phase && (this.host ?? host) === this.host) return this;
    return new FerryError(this.code, this.message, {
      phase: this.phase ?? phase,
      host: this.host ?? host,
      details: this.details,
      hint: this.hint,
      cause: this.cause,
    });
  }

  /** `[restore@hostB] port 6380 is already published by container web2` */
  describe(): string {
    const where = [this.phase, this.host].filter(Boolean).join('@');
    return where ? `[${where}] ${this.message}` : this.message;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      phase: this.phase,
      host: this.host,
      hint: this.hint,
      details: this.details,
    };
  }

  /** The inverse of toJSON(), for errors that crossed a wire as JSON; an unknown code becomes INTERNAL. */
  static fromJSON(json: Record<string, unknown>): FerryError {
    const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const code = isErrorCode(json.code) ? json.code : 'INTERNAL';
    return new FerryError(code, str(json.message) ?? code, {
      phase: isPhase(json.phase) ? json.phase : undefined,
      host: str(json.host),
      hint: str(json.hint),
      details: Array.isArray(json.details) ? json.details.filter((d): d is string => typeof d === 'string') : undefined,
    });
  }

  /** Any thrown value as a FerryError; what is not one already becomes INTERNAL. */
  static from(error: unknown, context: ErrorContext = {}): FerryError {
    if (error instanceof FerryError) return error.at(context.phase, context.host);
    // stream.pipeline reports a source and a destination that both failed as one AggregateError:
    // what went wrong is in there.
    if (error instanceof AggregateError && error.errors.length) {
      const inner = (error.errors as unknown[]).find((e) => e instanceof FerryError) ?? error.errors[0];
      return FerryError.from(inner, context);
    }
    if (error instanceof Error && error.name === 'AbortError') {
      return new FerryError('CANCELLED', 'the operation was cancelled', { ...context, cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new FerryError('INTERNAL', message, { ...context, cause: error });
  }
}
