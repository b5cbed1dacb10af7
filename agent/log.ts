// A small structured logger: one JSON object a line on stderr, with bindings inherited by
// children ({migrationId, phase, host}). Library code logs through an injected Logger only.
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const at =
    (level: Level) =>
    (fields: Record<string, unknown>, message: string): void => {
      if (ORDER[level] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, ...bindings, ...fields, msg: message })}\n`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => createLogger({ ...bindings, ...more }, options),
  };
}

/** For tests and library users who want silence. */
export const silentLogger: Logger = createLogger({}, { write: () => {} });
