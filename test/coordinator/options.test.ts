import { describe, expect, it } from 'vitest';
import { migrationSettings, parseRate } from '../../coordinator/options.ts';

describe('--bwlimit', () => {
  it('takes bytes per second with binary units, or bits per second as links are rated', () => {
    expect(parseRate('100M')).toBe(100 * 1024 * 1024);
    expect(parseRate('512K')).toBe(512 * 1024);
    expect(parseRate('1.5GiB/s')).toBe(1.5 * 1024 ** 3);
    expect(parseRate('20mbit')).toBe(2_500_000);
    expect(parseRate('1gbit/s')).toBe(125_000_000);
    expect(parseRate(undefined)).toBeUndefined();
  });

  it('refuses a rate it cannot read, or one too small to move anything', () => {
    expect(() => parseRate('fast')).toThrow(/--bwlimit must be a rate of at least 64K/);
    expect(() => parseRate('100kbit')).toThrow(/at least 64K/); // 12,500 bytes per second
    expect(() => parseRate('20 mbit')).toThrow(/20mbit/);
  });
});

describe('--new-address', () => {
  const values = { compress: 'auto', 'verify-timeout': '5000', 'replace-data': false, 'ignore-bind-mounts': false, 'no-presync': false, 'dry-run': false, 'transfer-retry-ms': '30000' };

  it('is off unless given, and reaches the migration settings', () => {
    expect(migrationSettings(values).newAddress).toBe(false);
    expect(migrationSettings({ ...values, 'new-address': true }).newAddress).toBe(true);
  });
});
