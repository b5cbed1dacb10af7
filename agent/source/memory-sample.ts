// A sample of a container's memory, compressed to see how well it compresses (--compress auto).
// It runs in a process of its own: the sample's buffers and zstd's output (tens of MB) are
// garbage the moment the answer is known. Left in the agent's heap they were collected in the
// freeze that follows (measured: a move with `auto` that chose none took 7% longer than `none`);
// in a worker thread the agent kept the thread's memory for good (RSS 44 -> 100 MB after three).
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { zstdCompressSync } from 'node:zlib';

/** How much memory is sampled, at most, and in pieces of what size. */
const SAMPLE_BYTES = 16 * 1024 * 1024;
const PIECE_BYTES = 1024 * 1024;
const PAGE_BYTES = 4096;

export interface Sampled {
  /** Bytes of non-zero pages sampled, and their size compressed with zstd. */
  original: number;
  compressed: number;
  compressSeconds: number;
}

/** The pages of `piece` that hold something: zero pages would make any memory look compressible. */
export function withoutZeroPages(piece: Buffer): Buffer {
  const kept: Buffer[] = [];
  for (let at = 0; at < piece.length; at += PAGE_BYTES) {
    const page = piece.subarray(at, at + PAGE_BYTES);
    if (!page.equals(ZERO_PAGE.subarray(0, page.length))) kept.push(page);
  }
  return Buffer.concat(kept);
}
const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);

/** Pieces of the process's private writable memory (heap and anonymous maps), up to SAMPLE_BYTES of non-zero pages. */
export async function memorySample(pid: number): Promise<Buffer[]> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  const regions = maps
    .split('\n')
    .map((line) => /^([0-9a-f]+)-([0-9a-f]+) rw-p \S+ \S+ \d+\s*(\S*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && (m[3] === '' || m[3] === '[heap]'))
    .map((m) => ({ start: BigInt(`0x${m[1]}`), size: Number(BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`)) }))
    .sort((a, b) => b.size - a.size);
  const pieces: Buffer[] = [];
  let taken = 0;
  const mem = await open(`/proc/${pid}/mem`, 'r');
  try {
    // A piece from the middle of each of the largest regions, until the sample is full.
    for (const region of regions) {
      if (taken >= SAMPLE_BYTES) break;
      const length = Math.min(PIECE_BYTES, region.size);
      const at = region.start + BigInt(Math.floor((region.size - length) / 2 / 4096) * 4096);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await mem.read(buffer, 0, length, at).catch(() => ({ bytesRead: 0 }));
      const kept = withoutZeroPages(buffer.subarray(0, bytesRead));
      if (kept.length > 0) {
        pieces.push(kept);
        taken += kept.length;
      }
    }
  } finally {
    await mem.close();
  }
  return pieces;
}

/** Samples the memory of process `pid` and compresses the sample, here. */
export async function sample(pid: number): Promise<Sampled> {
  const pieces = await memorySample(pid);
  const original = pieces.reduce((n, b) => n + b.length, 0);
  let compressed = 0;
  const started = performance.now();
  for (const piece of pieces) compressed += zstdCompressSync(piece).length;
  return { original, compressed, compressSeconds: Math.max((performance.now() - started) / 1000, 1e-3) };
}

/** The same, in a child process whose memory goes with it. */
export async function sampleApart(pid: number): Promise<Sampled> {
  const child = await execa(process.execPath, [fileURLToPath(new URL('./memory-sample-child.ts', import.meta.url)), String(pid)], { timeout: 30_000, stdin: 'ignore' });
  return JSON.parse(String(child.stdout)) as Sampled;
}
