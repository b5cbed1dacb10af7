// Runs podman as this agent's host: with the host's storage flags and runtime, cancellable, with
// a deadline, and failing with an error that says what ran and what podman said.
import { execa, type ResultPromise } from 'execa';
import { FerryError, type ErrorCode } from '../../common/errors.ts';

export interface PodmanOptions {
  /** The podman binary; tests of parsing and error paths point this at a fake. */
  binary: string;
  /** Global flags put before every subcommand: --root, --runroot, --tmpdir, --runtime. */
  globalArgs: readonly string[];
}

export interface RunOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** The code a failure gets; PODMAN_FAILED unless the caller knows better. */
  errorCode?: ErrorCode | undefined;
  /** Environment variables to set for podman (and what it starts), on top of the agent's. */
  env?: Record<string, string> | undefined;
  /**
   * A process group of its own: podman outlives an agent killed with its group. For a restore,
   * which once it has set up the container's network must end the way podman ends it: killed
   * there, it leaves the address allocated for good (found by the fault campaign).
   */
  detached?: boolean | undefined;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/**
 * podman 5 on a cgroup v1 host warns on every command that v1 is deprecated, and over a store
 * podman 4 made that BoltDB is (docs/hosts.md): lines on stderr that would head every error Ferry
 * reports. Neither changes what a migration can do; podman 4 ignores both variables.
 */
const QUIET = { PODMAN_IGNORE_CGROUPSV1_WARNING: '1', SUPPRESS_BOLTDB_WARNING: '1' };
const STDERR_EXCERPT_LINES = 12;

export class Podman {
  readonly options: PodmanOptions;

  constructor(options: PodmanOptions) {
    this.options = options;
  }

  args(args: readonly string[]): string[] {
    return [...this.options.globalArgs, ...args];
  }

  /** Runs podman and resolves with its stdout; rejects with a FerryError. */
  async run(args: readonly string[], options: RunOptions = {}): Promise<string> {
    const all = this.args(args);
    const result = await execa(this.options.binary, all, {
      reject: false,
      cancelSignal: options.signal,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      stdin: 'ignore',
      stripFinalNewline: true,
      env: { ...QUIET, ...options.env },
      detached: options.detached ?? false,
    });
    if (!result.failed) return result.stdout;
    throw podmanError(args, result, options.errorCode ?? 'PODMAN_FAILED');
  }

  /** Starts podman with its stdout as a stream, for commands that produce bytes. */
  spawn(args: readonly string[], options: RunOptions = {}): ResultPromise<{ stdout: 'pipe'; buffer: false }> {
    return execa(this.options.binary, this.args(args), {
      cancelSignal: options.signal,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      stdin: 'ignore',
      buffer: false,
      env: { ...QUIET, ...options.env },
    }) as ResultPromise<{ stdout: 'pipe'; buffer: false }>;
  }

  async runJson<T>(args: readonly string[], options: RunOptions = {}): Promise<T> {
    const out = await this.run(args, options);
    try {
      return JSON.parse(out) as T;
    } catch (cause) {
      throw new FerryError('PODMAN_FAILED', `podman ${args[0] ?? ''} printed output that is not JSON`, {
        cause,
        details: [out.slice(0, 500)],
      });
    }
  }
}

interface FailedResult {
  exitCode?: number | undefined;
  signal?: string | undefined;
  timedOut: boolean;
  isCanceled: boolean;
  stderr: unknown;
  shortMessage?: string | undefined;
}

function podmanError(args: readonly string[], result: FailedResult, code: ErrorCode): FerryError {
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const command = `podman ${args.join(' ')}`;
  if (result.isCanceled) return new FerryError('CANCELLED', `${command} was cancelled`);
  const why = result.timedOut
    ? 'timed out'
    : result.signal
      ? `was killed by ${result.signal}`
      : `exited with code ${result.exitCode ?? '?'}`;
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? '';
  return new FerryError(code, `${command} ${why}${last ? `: ${stripPodmanPrefix(last)}` : ''}`, {
    details: lines.slice(-STDERR_EXCERPT_LINES),
    cause: new Error(result.shortMessage ?? command),
  });
}

/** podman prefixes errors with `Error: `; the message reads better without it. */
export function stripPodmanPrefix(line: string): string {
  return line.replace(/^Error:\s*/, '');
}
