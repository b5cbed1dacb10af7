import { describe, expect, it } from 'vitest';
import { criuErrorLines, criuLogPath, MAX_CRIU_LINES } from '../../../agent/criu/log.ts';

describe('CRIU log extraction', () => {
  it('finds the log podman names', () => {
    expect(
      criuLogPath('Error: CRIU restoring failed -52.  Please check CRIU logfile /var/lib/x/overlay-containers/abc/userdata/restore.log: ...'),
    ).toBe('/var/lib/x/overlay-containers/abc/userdata/restore.log');
    expect(criuLogPath('Error: no such container')).toBeUndefined();
  });

  it('keeps only Error lines, the last twenty', () => {
    const log = Array.from({ length: 30 }, (_, i) => `(00.${i}) Error (criu/x.c:${i}): failure ${i}`).join('\n') + '\n(01.0) Warn (criu/y.c:1): meh';
    const lines = criuErrorLines(log);
    expect(lines).toHaveLength(MAX_CRIU_LINES);
    expect(lines.at(-1)).toBe('(00.29) Error (criu/x.c:29): failure 29');
    expect(lines.some((l) => l.includes('Warn'))).toBe(false);
  });
});
