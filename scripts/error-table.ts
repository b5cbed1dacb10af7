// Writes docs/errors.md from common/error-codes.ts (npm run docs:errors); a unit test fails when the
// two drift apart.
import { writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../common/error-codes.ts';

export function renderErrorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.meaning} | ${spec.hint} | ${spec.retryable ? 'yes' : 'no'} |`,
  );
  return [
    '# Ferry error codes',
    '',
    'Every failure carries one of these codes (match on the code, never on the message), the phase',
    'it happened in and the host it happened on. The CLI prints `error CODE: [phase@host] message`',
    'and the hint; `--json` gives them as fields. Generated from `common/error-codes.ts` by',
    '`npm run docs:errors`; a test keeps this file in sync.',
    '',
    '| code | meaning | how to solve | retryable |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.main) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorTable());
}
