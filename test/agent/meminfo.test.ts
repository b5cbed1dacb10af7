// The memory a host can give restored containers, as its agent reports it in Info.
import { describe, expect, it } from 'vitest';
import { memAvailableBytes, parseMemAvailable } from '../../agent/meminfo.ts';

describe('MemAvailable', () => {
  it('reads /proc/meminfo in bytes; 0 when it is not there', async () => {
    expect(parseMemAvailable('MemTotal:        8029148 kB\nMemFree:          523004 kB\nMemAvailable:    6170356 kB\nBuffers:  1 kB\n')).toBe(6170356 * 1024);
    expect(parseMemAvailable('MemTotal:        8029148 kB\n')).toBe(0);
    expect(await memAvailableBytes()).toBeGreaterThan(0);
    expect(await memAvailableBytes('/nonexistent/meminfo')).toBe(0);
  });
});
