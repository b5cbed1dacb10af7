import { describe, expect, it } from 'vitest';
import { decide, MIN_SAMPLE_BYTES } from '../../../agent/source/compression.ts';
import { withoutZeroPages } from '../../../agent/source/memory-sample.ts';

const MiB = 1024 * 1024;

describe('--compress auto', () => {
  it('keeps a fast LAN uncompressed, even for memory that compresses well', () => {
    expect(decide(256 * MiB, { sampledBytes: 16 * MiB, ratio: 0.1, compressBytesPerSecond: 300 * MiB, linkBytesPerSecond: 150 * MiB }).compression).toBe('none');
  });

  it('compresses on a slow link when the memory compresses', () => {
    const choice = decide(256 * MiB, { sampledBytes: 16 * MiB, ratio: 0.1, compressBytesPerSecond: 300 * MiB, linkBytesPerSecond: 12 * MiB });
    expect(choice.compression).toBe('zstd');
    expect(choice.reason).toMatch(/compresses to 10% at 300\.0 MiB\/s; the link moves 12\.0 MiB\/s/);
  });

  it('does not compress a small container for a saving of milliseconds, whatever the ratio', () => {
    // CI once saw the probe rate the LAN at 140 MiB/s: for 4 MiB that is 28 ms against 16 ms.
    const choice = decide(4 * MiB, { sampledBytes: 16 * MiB, ratio: 0.02, compressBytesPerSecond: 667 * MiB, linkBytesPerSecond: 140 * MiB });
    expect(choice.compression, choice.reason).toBe('none');
    expect(decide(64 * MiB, { sampledBytes: 16 * MiB, ratio: 0.02, compressBytesPerSecond: 667 * MiB, linkBytesPerSecond: 12 * MiB }).compression).toBe('zstd');
  });

  it('keeps a LAN uncompressed when the whole-file import would cost more than the smaller archive saves', () => {
    // A bench on a slower machine: a 1 GB Redis (1314 MiB of archive), its memory compressing to
    // 36% at 101 MiB/s, the probe rating the link at 54 MiB/s. zstd was chosen, and its import
    // took the outage from 13 s to 40 s.
    const choice = decide(1314 * MiB, { sampledBytes: 16 * MiB, ratio: 0.36, compressBytesPerSecond: 101 * MiB, linkBytesPerSecond: 54 * MiB });
    expect(choice.compression, choice.reason).toBe('none');
  });

  it('does not compress random memory, however slow the link', () => {
    expect(decide(256 * MiB, { sampledBytes: 16 * MiB, ratio: 1.0, compressBytesPerSecond: 900 * MiB, linkBytesPerSecond: 2 * MiB }).compression).toBe('none');
  });

  it('keeps the archive uncompressed when the sample was mostly zero pages, and says why', () => {
    // MariaDB's untouched buffer pool read as zeros "compressed to 0%" on a 100 Mbit/s link.
    const choice = decide(512 * MiB, { sampledBytes: MIN_SAMPLE_BYTES - 4096, ratio: 0.001, compressBytesPerSecond: 2000 * MiB, linkBytesPerSecond: 12 * MiB });
    expect(choice.compression).toBe('none');
    expect(choice.reason).toMatch(/too little to tell how the memory compresses/);
    expect(decide(512 * MiB, { sampledBytes: MIN_SAMPLE_BYTES, ratio: 0.1, compressBytesPerSecond: 300 * MiB, linkBytesPerSecond: 12 * MiB }).compression).toBe('zstd');
  });

  it('samples only the pages that hold something', () => {
    const piece = Buffer.alloc(4 * 4096);
    piece.fill(7, 4096, 8192);
    piece[3 * 4096 + 100] = 1;
    const kept = withoutZeroPages(piece);
    expect(kept.length).toBe(2 * 4096);
    expect(kept[0]).toBe(7);
    expect(kept[4096 + 100]).toBe(1);
    expect(withoutZeroPages(Buffer.alloc(3 * 4096)).length).toBe(0);
  });
});
