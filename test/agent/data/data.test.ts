import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { extractData, type Resolve } from '../../../agent/data/extract.ts';
import { packEntries } from '../../../agent/data/pack.ts';
import { delta, scan } from '../../../agent/data/scan.ts';

/** Source tree at `${src}/data`, copied to `${dst}/data`: the mapping a destination uses. */
function mapping(src: string, dst: string): Resolve {
  return (hostPath) => (hostPath === `${src}/data` || hostPath.startsWith(`${src}/data/`) ? { root: `${dst}/data`, target: dst + hostPath.slice(src.length) } : undefined);
}

async function copy(roots: string[], entries: Parameters<typeof packEntries>[0], removals: string[], resolve: Resolve, rechunk?: number) {
  const packed = packEntries(entries, removals);
  const stream = rechunk ? inPiecesOf(rechunk, packed.stream) : packed.stream;
  const [stats, dirty] = await Promise.all([extractData(stream, resolve), packed.done]);
  return { stats, dirty, roots };
}

/** The stream cut into pieces of `size` bytes, as a network might deliver it. */
async function* inPiecesOf(size: number, stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of stream) for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, at + size);
}

function makeTree(root: string) {
  const data = join(root, 'data');
  mkdirSync(join(data, 'sub/deeper'), { recursive: true });
  writeFileSync(join(data, 'plain.txt'), 'hello');
  writeFileSync(join(data, 'empty'), '');
  chmodSync(join(data, 'plain.txt'), 0o640);
  chownSync(join(data, 'plain.txt'), 999, 998);
  writeFileSync(join(data, 'sub/deeper/pg_control'), Buffer.alloc(8192, 7));
  linkSync(join(data, 'plain.txt'), join(data, 'sub/hardlink.txt'));
  symlinkSync('../plain.txt', join(data, 'sub/symlink'));
  symlinkSync('/nonexistent/elsewhere', join(data, 'dangling'));
  // 8 MiB sparse file with 4 KiB of data in the middle.
  const fd = openSync(join(data, 'sparse.img'), 'w');
  writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 4 * 1024 * 1024);
  closeSync(fd);
  truncateSync(join(data, 'sparse.img'), 8 * 1024 * 1024);
  chmodSync(join(data, 'sub'), 0o700);
  utimesSync(join(data, 'sub'), 1_600_000_000.123456, 1_600_000_000.123456);
  return data;
}

describe('bind-mount data: pack and extract', () => {
  it('keeps holes however the stream was cut on the way', async () => {
    const src = mkdtempSync(join(tmpdir(), 'ferry-src-'));
    const data = makeTree(src);
    const manifest = await scan([data]);
    for (const size of [1000, 16 * 1024 + 5]) {
      const dst = mkdtempSync(join(tmpdir(), 'ferry-dst-'));
      await copy([data], [...manifest.values()], [], mapping(src, dst), size);
      const sparse = statSync(join(dst, 'data/sparse.img'));
      expect(sparse.size).toBe(8 * 1024 * 1024);
      expect(sparse.blocks * 512, `pieces of ${size} bytes`).toBeLessThan(256 * 1024);
      expect(readFileSync(join(dst, 'data/sparse.img')).subarray(4 * 1024 * 1024, 4 * 1024 * 1024 + 4096).equals(Buffer.alloc(4096, 1))).toBe(true);
    }
  });

  it('recreates files, directories, links, modes, owners, mtimes and holes', async () => {
    const src = mkdtempSync(join(tmpdir(), 'ferry-src-'));
    const dst = mkdtempSync(join(tmpdir(), 'ferry-dst-'));
    const data = makeTree(src);
    const manifest = await scan([data]);
    await copy([data], [...manifest.values()], [], mapping(src, dst));
    const out = join(dst, 'data');
    expect(readFileSync(join(out, 'plain.txt'), 'utf8')).toBe('hello');
    expect(statSync(join(out, 'plain.txt')).mode & 0o7777).toBe(0o640);
    expect(statSync(join(out, 'plain.txt'))).toMatchObject({ uid: 999, gid: 998 });
    expect(statSync(join(out, 'sub/hardlink.txt')).ino).toBe(statSync(join(out, 'plain.txt')).ino);
    expect(readlinkSync(join(out, 'sub/symlink'))).toBe('../plain.txt');
    expect(readlinkSync(join(out, 'dangling'))).toBe('/nonexistent/elsewhere');
    expect(statSync(join(out, 'empty')).size).toBe(0);
    expect(readFileSync(join(out, 'sub/deeper/pg_control')).equals(Buffer.alloc(8192, 7))).toBe(true);
    const sparse = statSync(join(out, 'sparse.img'));
    expect(sparse.size).toBe(8 * 1024 * 1024);
    expect(sparse.blocks * 512).toBeLessThan(256 * 1024); // still sparse
    expect(readFileSync(join(out, 'sparse.img')).subarray(4 * 1024 * 1024, 4 * 1024 * 1024 + 4096).equals(Buffer.alloc(4096, 1))).toBe(true);
    expect(statSync(join(out, 'sub')).mode & 0o7777).toBe(0o700);
    // To the microsecond, in nanoseconds: mtimeMs, a double of milliseconds, is itself rounded to
    // about half a microsecond at today's dates and cannot say.
    for (const path of ['sub', 'plain.txt']) {
      const drift = lstatSync(join(out, path), { bigint: true }).mtimeNs - lstatSync(join(data, path), { bigint: true }).mtimeNs;
      expect(drift < 0n ? -drift : drift, path).toBeLessThanOrEqual(1000n);
    }
  });

  it('sends only what changed after the first round, and removes what was deleted', async () => {
    const src = mkdtempSync(join(tmpdir(), 'ferry-src-'));
    const dst = mkdtempSync(join(tmpdir(), 'ferry-dst-'));
    const data = makeTree(src);
    const first = await scan([data]);
    await copy([data], [...first.values()], [], mapping(src, dst));
    writeFileSync(join(data, 'sub/deeper/pg_control'), Buffer.alloc(100, 9));
    writeFileSync(join(data, 'new.wal'), 'fresh');
    rmSync(join(data, 'empty'));
    rmSync(join(data, 'sub/symlink'));
    const second = await scan([data]);
    const change = delta(first, second);
    expect(change.send.map((e) => e.path.slice(data.length)).sort()).toEqual(['', '/new.wal', '/sub', '/sub/deeper/pg_control'].sort());
    expect(change.remove.map((p) => p.slice(data.length)).sort()).toEqual(['/empty', '/sub/symlink']);
    const { stats } = await copy([data], change.send, change.remove, mapping(src, dst));
    expect(stats.bytes).toBe(105);
    const out = join(dst, 'data');
    expect(readFileSync(join(out, 'sub/deeper/pg_control')).equals(Buffer.alloc(100, 9))).toBe(true);
    expect(readFileSync(join(out, 'new.wal'), 'utf8')).toBe('fresh');
    expect(existsSync(join(out, 'empty'))).toBe(false);
    expect(existsSync(join(out, 'sub/symlink'))).toBe(false);
    expect(readFileSync(join(out, 'plain.txt'), 'utf8')).toBe('hello');
  });
});

describe('bind-mount data: a live tree', () => {
  it('skips a file that vanished between the scan and the read, and marks it for the next round', async () => {
    const src = mkdtempSync(join(tmpdir(), 'ferry-src-'));
    const dst = mkdtempSync(join(tmpdir(), 'ferry-dst-'));
    const data = join(src, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'hot.tmp'), 'about to be renamed');
    writeFileSync(join(data, 'stays'), 'here');
    const manifest = await scan([data]);
    rmSync(join(data, 'hot.tmp')); // the container renamed it away after the scan
    const { dirty } = await copy([data], [...manifest.values()], [], mapping(src, dst));
    expect(dirty.has(join(data, 'hot.tmp'))).toBe(true);
    expect(existsSync(join(dst, 'data/hot.tmp'))).toBe(false);
    expect(readFileSync(join(dst, 'data/stays'), 'utf8')).toBe('here');
  });
});

/** A hand-made tar, as a hostile peer would send. */
async function* hostile(entries: Array<{ header: tar.Header | Record<string, unknown>; body?: string }>): AsyncGenerator<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry(e.header as tar.Header & { name: string }, e.body ?? '');
  pack.finalize();
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) yield chunk;
}

describe('bind-mount data: what is refused', () => {
  const dst = mkdtempSync(join(tmpdir(), 'ferry-evil-'));
  const root = join(dst, 'srv/pg');
  const resolve: Resolve = (p) => (p === '/srv/pg' || p.startsWith('/srv/pg/') ? { root, target: dst + p } : undefined);
  const refused = async (entries: Parameters<typeof hostile>[0]) => {
    const error = await extractData(hostile(entries), resolve).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FerryError);
    return error as FerryError;
  };

  it('paths that climb out, absolute or undeclared', async () => {
    expect((await refused([{ header: { name: 'srv/pg/../../etc/passwd', type: 'file' }, body: 'x' }])).message).toMatch(/not a clean relative path/);
    expect((await refused([{ header: { name: 'etc/cron.d/evil', type: 'file' }, body: 'x' }])).message).toMatch(/outside the paths declared/);
    expect(existsSync(join(dst, 'etc'))).toBe(false);
  });

  it('writing through a symlink the tar itself planted', async () => {
    const error = await refused([
      { header: { name: 'srv/pg', type: 'directory', mode: 0o755 } },
      { header: { name: 'srv/pg/escape', type: 'symlink', linkname: '/tmp' } },
      { header: { name: 'srv/pg/escape/owned', type: 'file', mode: 0o644 }, body: 'x' },
    ]);
    expect(error.message).toMatch(/through the symlink/);
    expect(existsSync('/tmp/owned')).toBe(false);
  });

  it('absolute names, a huge declared size, and too many entries', async () => {
    expect((await refused([{ header: { name: '/srv/pg/x', type: 'file', mode: 0o644 }, body: 'x' }])).message).toMatch(/not a clean relative path/);
    const huge = await extractData(
      hostile([{ header: { name: 'srv/pg/huge', type: 'file', size: 5, mode: 0o644 }, body: 'small' }]),
      resolve,
      { maxBytes: 4, maxEntries: 100 },
    ).catch((e: unknown) => e as FerryError);
    expect((huge as FerryError).message).toMatch(/would take the data past 4 bytes/);
    expect(existsSync(join(dst, 'srv/pg/huge'))).toBe(false);
    const many = await extractData(
      hostile(Array.from({ length: 5 }, (_, i) => ({ header: { name: `srv/pg/f${i}`, type: 'file', mode: 0o644 }, body: '' }))),
      resolve,
      { maxBytes: 1000, maxEntries: 3 },
    ).catch((e: unknown) => e as FerryError);
    expect((many as FerryError).message).toBe('more than 3 data entries');
  });

  it('hard links to files outside, and device files', async () => {
    expect((await refused([{ header: { name: 'srv/pg/shadow', type: 'link', linkname: 'etc/shadow' } }])).message).toMatch(/outside the paths declared/);
    expect((await refused([{ header: { name: 'srv/pg/sda', type: 'block-device', devmajor: 8, devminor: 0 } }])).message).toMatch(/only files, directories and links/);
  });
});

describe('bind-mount data: a consumer that fails', () => {
  it('stops the packer: its promise settles and its files close', async () => {
    const src = mkdtempSync(join(tmpdir(), 'ferry-src-'));
    const data = join(src, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'big'), Buffer.alloc(8 * 1024 * 1024, 1));
    const packed = packEntries([...(await scan([data])).values()], []);
    // Read a little, then give up, as a broken send does.
    for await (const _chunk of packed.stream) break;
    packed.abort(new Error('the destination went away'));
    await expect(packed.done).rejects.toThrow();
  });
});
