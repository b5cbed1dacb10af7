// The destination's look through a checkpoint archive before podman imports it: what podman's
// export writes passes; links, escapes, unknown names and extended headers are refused, plain,
// gzip'd or zstd'd.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

type Entry = Partial<Header> & { name: string; body?: string };
import { describe, expect, it } from 'vitest';
import { checkArchiveFile } from '../../../agent/destination/archive-policy.ts';

async function tarOf(entries: Array<Entry>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const { body, ...header } of entries) p.entry(header, body ?? '');
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const exportLike: Array<Entry> = [
  { name: 'artifacts/', type: 'directory' },
  { name: 'config.dump', body: '{}' },
  { name: 'spec.dump', body: '{}' },
  { name: 'network.status', body: '{}' },
  { name: 'checkpoint/', type: 'directory' },
  { name: 'checkpoint/pages-1.img', body: 'x'.repeat(5000) },
  { name: 'rootfs-diff.tar', body: '' },
];

async function check(entries: Array<Entry>, compress: 'none' | 'gzip' | 'zstd' = 'none'): Promise<void> {
  const tar = await tarOf(entries);
  const file = join(mkdtempSync(join(tmpdir(), 'ferry-policy-')), 'archive');
  writeFileSync(file, compress === 'gzip' ? gzipSync(tar) : compress === 'zstd' ? zstdCompressSync(tar) : tar);
  await checkArchiveFile(file);
}

describe('what a checkpoint archive may hold', () => {
  it("takes what podman's export writes", async () => {
    await expect(check(exportLike)).resolves.toBeUndefined();
    await expect(check(exportLike, 'zstd')).resolves.toBeUndefined();
  });

  const bad: Array<[string, Entry, RegExp]> = [
    ['an absolute symlink', { name: 'checkpoint/x', type: 'symlink', linkname: '/etc' }, /tar type "2"/],
    ['a hard link', { name: 'checkpoint/y', type: 'link', linkname: 'config.dump' }, /tar type "1"/],
    ['a climb out', { name: 'checkpoint/../../../../etc/cron.d/x', body: 'boom' }, /climbs out/],
    ['an absolute path', { name: '/etc/cron.d/x', body: 'boom' }, /absolute path|not one of the names/],
    ['an unknown name', { name: 'etc/shadow', body: 'boom' }, /not one of the names/],
    ['a pax header', { name: 'checkpoint/z', body: 'z', pax: { path: '../../z' } }, /extended header/],
  ];
  for (const [what, entry, message] of bad) {
    for (const compress of ['none', 'gzip', 'zstd'] as const) {
      it(`refuses ${what} (${compress})`, async () => {
        await expect(check([...exportLike.slice(0, 3), entry, ...exportLike.slice(3)], compress)).rejects.toMatchObject({ code: 'ARCHIVE_REFUSED', message });
      });
    }
  }
});
