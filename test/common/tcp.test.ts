import { describe, expect, it } from 'vitest';
import { hostAddress } from '../../common/tcp.ts';

describe('hostAddress', () => {
  it("is the agent's address or name, and loopback for an agent that listens everywhere", () => {
    expect(hostAddress('172.31.78.11:7070')).toBe('172.31.78.11');
    expect(hostAddress('hostb.example:7070')).toBe('hostb.example');
    expect(hostAddress('[fd00::2]:7070')).toBe('fd00::2');
    expect(hostAddress('0.0.0.0:7070')).toBe('127.0.0.1');
    expect(hostAddress('[::]:7070')).toBe('127.0.0.1');
  });
});
