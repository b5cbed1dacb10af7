// The live lines at the bottom of a terminal: rewritten in place, lines printed above them, cut
// to the terminal's width, at most a redraw per interval.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveArea } from '../../coordinator/progress.ts';
import { playBack } from './terminal.ts';

describe('live lines', () => {
  let raw = '';
  const terminal = (columns = 80) => ({ write: (text: string) => (raw += text), columns: () => columns });
  beforeEach(() => {
    raw = '';
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => vi.useRealTimers());

  it('rewrites the same lines in place, prints others above them, and leaves nothing when closed', () => {
    const area = new LiveArea(terminal(), 100);
    area.update(['transfer 10%', 'evacuate 0 of 2 done']);
    vi.advanceTimersByTime(150);
    area.update(['transfer 50%', 'evacuate 0 of 2 done']);
    expect(playBack(raw)).toEqual(['transfer 50%', 'evacuate 0 of 2 done']);
    area.above(() => (raw += 'done r1\n'));
    area.update(['evacuate 1 of 2 done']);
    vi.advanceTimersByTime(150);
    expect(playBack(raw)).toEqual(['done r1', 'evacuate 1 of 2 done']);
    area.close();
    expect(playBack(raw)).toEqual(['done r1']);
  });

  it('redraws at most once per interval; the last update is drawn when the interval ends', () => {
    const area = new LiveArea(terminal(), 100);
    area.update(['1%']);
    const writes = raw.length;
    area.update(['2%']);
    area.update(['3%']);
    expect(raw.length).toBe(writes);
    vi.advanceTimersByTime(100);
    expect(playBack(raw)).toEqual(['3%']);
  });

  it('cuts a line to the width of the terminal, so that it never wraps', () => {
    const area = new LiveArea(terminal(30), 100);
    area.update(['x'.repeat(100)]);
    const [line] = playBack(raw);
    expect(line).toHaveLength(29);
    expect(line?.endsWith('…')).toBe(true);
  });
});
