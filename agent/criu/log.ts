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
