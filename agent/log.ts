// The agent's structured log: pino, one JSON object a line on stderr (journald keeps each line as
// one entry of the agent's unit), with what a child is bound to ({migrationId, phase, host}) on
// every line it writes. Library code logs through an injected Logger only.
import pino from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function createLogger(
  bindings: Record<string, unknown> = {},
  options: { level?: Level; write?: (line: string) => void } = {},
): Logger {
  // Written as each line is made: the line before a crash is the one that says why.
  const destination = options.write ? { write: options.write } : pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level: options.level ?? 'info',
      base: bindings,
      // ISO time and the level's name, as journalctl -o cat and people read them.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** For tests and library users who want silence. */
export const silentLogger: Logger = pino({ level: 'silent' });
