// Which podman versions the preflight lets through, and the line that shows both ends.
import { describe, expect, it } from 'vitest';
import { unsupportedPodman, versionsCheck } from '../../coordinator/versions.ts';
import type { InfoReply__Output as InfoReply } from '../../proto/gen/ferry/v1/InfoReply.ts';

const host = (podmanVersion: string, runcVersion = '1.1.5+ds1') => ({ podmanVersion, runcVersion, ociRuntime: 'runc', criuVersion: '4.2.1' }) as InfoReply;

describe('podman versions', () => {
  it('takes 4.3 to 5.x in either direction, and shows both ends', () => {
    for (const v of ['4.3.1', '4.9.4', '5.0.0', '5.8.6']) expect(unsupportedPodman(v), v).toBeUndefined();
    expect(versionsCheck('hostA', host('4.3.1'), 'hostB', host('5.8.6', '1.3.6+ds1'))).toEqual({
      name: 'versions',
      ok: true,
      detail: 'hostA podman 4.3.1, runc 1.1.5+ds1, criu 4.2.1 -> hostB podman 5.8.6, runc 1.3.6+ds1, criu 4.2.1',
    });
    expect(versionsCheck('hostB', host('5.8.6'), 'hostA', host('4.3.1')).ok).toBe(true);
  });

  it('refuses an older podman, a later major, or a version it cannot read, naming both ends', () => {
    expect(unsupportedPodman('4.2.0')).toMatch(/older than 4\.3/);
    expect(unsupportedPodman('3.4.4')).toMatch(/older than 4\.3/);
    expect(unsupportedPodman('6.0.0')).toMatch(/not measured with/);
    expect(unsupportedPodman('')).toMatch(/cannot read/);
    expect(() => versionsCheck('hostA', host('4.3.1'), 'hostB', host('6.1.0'))).toThrow(
      expect.objectContaining({ code: 'PODMAN_UNSUPPORTED', host: 'hostB', phase: 'preflight', message: expect.stringContaining('hostA podman 4.3.1') }),
    );
  });
});
