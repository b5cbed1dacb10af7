// CRIU failures are explained in its dump.log/restore.log, not in podman's message. Pull the
// relevant lines out so the user never has to go and find the log.
import { readFile } from 'node:fs/promises';

const LOG_PATH = /(\/[^\s"':]+\/(?:dump|restore)\.log)/;
const ERROR_LINE = /\bError \(|\(criu\/|^Error/;
export const MAX_CRIU_LINES = 20;

/** The CRIU log path mentioned in podman's output, if any. */
export function criuLogPath(text: string): string | undefined {
  return LOG_PATH.exec(text)?.[1];
}

/** The `Error (criu/...)` lines of a CRIU log, at most MAX_CRIU_LINES, the last ones kept. */
export function criuErrorLines(log: string): string[] {
  const lines = log.split('\n').filter((l) => /Error \(/.test(l) || (/^\(\d/.test(l.trim()) && /Error/.test(l)));
  const picked = lines.length ? lines : log.split('\n').filter((l) => ERROR_LINE.test(l));
  return picked.map((l) => l.trim()).slice(-MAX_CRIU_LINES);
}

/** Reads the log named in podman's stderr lines and returns its error lines; [] when unreadable. */
export async function criuErrorsFrom(stderrLines: readonly string[]): Promise<string[]> {
  const path = criuLogPath(stderrLines.join('\n'));
  if (!path) return [];
  try {
    return criuErrorLines(await readFile(path, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * The known causes of a failed dump or restore, told from CRIU's own lines: the preflight looks
 * for each before the freeze (obstacles.ts), so one seen here appeared after it looked, or slipped
 * past it. First match wins.
 */
const CAUSES: ReadonlyArray<{ test: RegExp; hint: string }> = [
  { test: /file locks are hold|file-lock\.c/i, hint: 'The processes took file locks after Ferry looked (it checkpoints with --file-locks when it sees them before the freeze): run the migration again.' },
  { test: /io_uring/i, hint: "A process uses io_uring, which CRIU cannot dump: keep podman's default seccomp profile (not --privileged or seccomp=unconfined) so it falls back, or turn io_uring off in the application." },
  { test: /sk-unix\.c.*(extern|peer|half|unix connection)|external unix|unix socket.*external/i, hint: 'A process is connected to a Unix socket outside the container (a bind-mounted host socket): close that connection, or reach the service over the network.' },
  { test: /doesn't live in IPC ns|ipc_sysv/i, hint: "A process has SysV shared memory attached that is not the container's own (--ipc=host): run the container with its own IPC namespace." },
  { test: /fsnotify\.c|inotify|fanotify/i, hint: "A process watches files with inotify that CRIU could not find again (files of the container's overlay root): watch files on a bind mount or volume instead." },
  { test: /in-flight connection/i, hint: 'Clients were opening connections at the freeze: add skip-in-flight to /etc/criu/runc.conf on the source (those half-open connections are dropped and the clients retry).' },
  { test: /files-ext\.c|tun\.c|tty|chrdev|of that type|devpts/i, hint: 'A process holds a device that CRIU cannot move; run the container without --device or -t.' },
];

/** A hint that names the cause of a CRIU failure from its error lines, or undefined when none is known. */
export function criuCauseHint(lines: readonly string[]): string | undefined {
  const text = lines.join('\n');
  return CAUSES.find((c) => c.test.test(text))?.hint;
}
