// --compress auto: zstd or none, decided before the freeze from what the source measures, not by
// guess. It reads a sample of the container's memory and compresses it (how much smaller, how
// fast), and times a few MiB sent to the destination agent on a data connection, the way the
// archive will go (how fast the link is). Then it
// compares the two ways the archive can travel:
//   none: the destination's podman imports the archive while it arrives, so the move takes about
//         size / link;
//   zstd: podman compresses as it exports, the smaller archive travels, and the destination can
//         only import it once it is whole: about max(size / compression, size * ratio / link) plus
//         size / extraction.
// On a fast LAN none wins (compressing costs more at both ends than it saves); on a slow link
// zstd wins when the memory compresses.
import { randomBytes } from 'node:crypto';
import type { ArchiveCompression } from '../../common/wire.ts';
import type { Podman } from '../podman/podman.ts';
import { sampleApart } from './memory-sample.ts';
import type { Sender } from './sender.ts';

/** The link probe's pieces. */
const PIECE_BYTES = 1024 * 1024;
/**
 * The link is timed with at most this many pieces, sent for at most PROBE_MS: enough for TCP's
 * slow start to be a small part of it on a LAN or over 100 ms, and little time on a slow link.
 */
const PROBE_PIECES = 8;
const PROBE_MS = 1_000;
/**
 * How fast the destination's podman imports an archive it must take whole, in bytes of memory:
 * 0.3-0.6 GB/s on one machine, but 82 MiB/s on another of the same kind (a 1 GB Redis: 543 MiB
 * of zstd took 16 s from its arrival to runc's restore), where auto, reckoning with the first
 * figure, chose zstd on the LAN and the move's outage went from 13 s to 40 s. The slower figure:
 * a wrong none costs a slow link some seconds, a wrong zstd costs a LAN the whole import.
 */
const EXTRACT_BYTES_PER_SECOND = 80 * 1024 * 1024;
/**
 * zstd must save this much: a close call is not worth losing the import that overlaps the
 * transfer, and a short probe, partly in TCP's slow start, rates a long link a little low.
 */
const MARGIN = 0.7;
/**
 * ...and at least this much time: a small archive moves in a blink either way, and a few
 * milliseconds' estimate, swayed by a probe's noise, is not worth the import during the transfer.
 */
const MIN_SAVING_SECONDS = 0.5;
/**
 * A sample with less than this of non-zero pages tells nothing of how the memory compresses: a
 * server that reserved a large pool and touched little of it (MariaDB's buffer pool) reads as
 * pages of zeros, which compress "to 0%" while CRIU dumps only the pages that hold something.
 */
export const MIN_SAMPLE_BYTES = 1024 * 1024;

export interface Measured {
  /** Compressed size over original size of the memory sample (1: nothing gained). */
  ratio: number;
  /** The bytes of non-zero pages the ratio was measured on. */
  sampledBytes: number;
  compressBytesPerSecond: number;
  linkBytesPerSecond: number;
}

export interface Choice {
  compression: ArchiveCompression;
  reason: string;
}

/** The decision alone, from the measurements: unit-tested. */
export function decide(sizeBytes: number, m: Measured): Choice {
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB/s`;
  if (m.sampledBytes < MIN_SAMPLE_BYTES) {
    return {
      compression: 'none',
      reason: `the memory sample held only ${Math.round(m.sampledBytes / 1024)} KiB that were not zero pages, too little to tell how the memory compresses: kept uncompressed, so the destination imports it while it arrives`,
    };
  }
  const plain = sizeBytes / m.linkBytesPerSecond;
  const zstd = Math.max(sizeBytes / m.compressBytesPerSecond, (sizeBytes * m.ratio) / m.linkBytesPerSecond) + sizeBytes / EXTRACT_BYTES_PER_SECOND;
  const what = `memory compresses to ${Math.round(m.ratio * 100)}% at ${mb(m.compressBytesPerSecond)}; the link moves ${mb(m.linkBytesPerSecond)}`;
  return zstd < plain * MARGIN && plain - zstd >= MIN_SAVING_SECONDS
    ? { compression: 'zstd', reason: `${what}: about ${plain.toFixed(1)} s uncompressed, ${zstd.toFixed(1)} s with zstd` }
    : { compression: 'none', reason: `${what}: compressing would not pay (about ${plain.toFixed(1)} s uncompressed, ${zstd.toFixed(1)} s with zstd)` };
}

export async function measure(podman: Podman, containerId: string, sender: Sender, signal: AbortSignal): Promise<Measured> {
  const pid = Number((await podman.run(['inspect', '--format', '{{.State.Pid}}', containerId], { signal })).trim());
  const { original, compressed, compressSeconds } = await sampleApart(pid);
  // The link: incompressible pieces on a data connection of their own (a probe stream, which the
  // destination checks and drops), under the migration's rate cap; timed to the destination's
  // word that it has them all.
  const piece = randomBytes(PIECE_BYTES);
  async function* pieces(): AsyncGenerator<Buffer> {
    const first = performance.now();
    for (let i = 0; i < PROBE_PIECES && (i === 0 || performance.now() - first < PROBE_MS); i += 1) yield piece;
  }
  const connection = await sender.opener.connection('probe', 0);
  const sent = await connection.send({ source: pieces(), bytesPerSecond: sender.bytesPerSecond, signal });
  return {
    ratio: original ? compressed / original : 1,
    sampledBytes: original,
    compressBytesPerSecond: original / compressSeconds,
    linkBytesPerSecond: sent.bytes / Math.max(sent.ms / 1000, 1e-3),
  };
}
