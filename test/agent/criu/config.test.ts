import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureCriuConfig, withSettings } from '../../../agent/criu/config.ts';

describe('CRIU configuration', () => {
  it('sets ghost-limit and skip-in-flight and keeps the other lines', () => {
    expect(withSettings('tcp-established\nghost-limit 1000\n', { ghostLimit: 40_000_000, skipInFlight: true })).toBe(
      'tcp-established\nghost-limit 40000000\nskip-in-flight\n',
    );
  });

  it('writes both files once, then leaves them alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-criu-'));
    writeFileSync(join(dir, 'runc.conf'), 'log-file /tmp/x.log\n');
    expect(await ensureCriuConfig({ ghostLimit: 50_000_000, skipInFlight: false }, dir)).toEqual([join(dir, 'default.conf'), join(dir, 'runc.conf')]);
    expect(readFileSync(join(dir, 'runc.conf'), 'utf8')).toBe('log-file /tmp/x.log\nghost-limit 50000000\n');
    expect(await ensureCriuConfig({ ghostLimit: 50_000_000, skipInFlight: false }, dir)).toEqual([]);
  });

  it("puts Ferry's action script in runc.conf alone, replacing its old place and keeping anyone else's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-criu-'));
    writeFileSync(join(dir, 'runc.conf'), 'action-script /opt/other/hook\naction-script /old/place/ferry-criu-action\n');
    await ensureCriuConfig({ ghostLimit: 50_000_000, skipInFlight: true, actionScript: '/etc/criu/ferry-criu-action' }, dir);
    expect(readFileSync(join(dir, 'runc.conf'), 'utf8')).toBe('action-script /opt/other/hook\nghost-limit 50000000\nskip-in-flight\naction-script /etc/criu/ferry-criu-action\n');
    expect(readFileSync(join(dir, 'default.conf'), 'utf8')).toBe('ghost-limit 50000000\nskip-in-flight\n');
  });
});
