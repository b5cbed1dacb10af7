// The tar walker against real tars (tar-stream's pax, GNU tar's padded records), fed in pieces of
// every awkward size: it must find each entry and the end marker, and refuse what is not a tar.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { TarWalker, type TarEntry } from '../../../agent/transfer/tar-walk.ts';

async function packed(entries: Array<{ name: string; body?: string; type?: 'file' | 'directory' }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file' }, e.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function walk(archive: Buffer, piece: number): { walker: TarWalker; entries: TarEntry[] } {
  const entries: TarEntry[] = [];
  const walker = new TarWalker((e) => entries.push(e));
  for (let i = 0; i < archive.length; i += piece) walker.push(archive.subarray(i, i + piece));
  return { walker, entries };
}

describe('TarWalker', () => {
  it('finds every entry and the end marker, whatever the size of the pieces', async () => {
    const long = `${'d'.repeat(120)}/config.dump`; // too long for ustar: a pax header precedes it
    const archive = await packed([
      { name: 'artifacts/', type: 'directory' },
      { name: 'config.dump', body: '{"ID":"abc"}' },
      { name: 'spec.dump', body: 'x'.repeat(1500) },
      { name: long, body: 'y' },
      { name: 'empty' },
    ]);
    for (const piece of [1, 7, 511, 512, 513, 4096, archive.length]) {
      const { walker, entries } = walk(archive, piece);
      expect(entries.map((e) => [e.name.length > 100 ? 'long' : e.name, e.size]), `piece ${piece}`).toEqual([
        ['artifacts/', 0],
        ['config.dump', 12],
        ['spec.dump', 1500],
        ['long', 1],
        ['empty', 0],
      ]);
      expect(walker.length, `piece ${piece}`).toBe(archive.length);
      // Each entry's bytes, cut from the archive, start with its header and end where the next begins.
      expect(entries.map((e) => e.end)).toEqual([...entries.slice(1).map((e) => e.start), (walker.endAt ?? 0)]);
    }
    const config = walk(archive, 100).entries[1] as TarEntry;
    expect(archive.subarray(config.start + 512, config.start + 512 + 12).toString()).toBe('{"ID":"abc"}');
  });

  it("stops at the end marker and ignores a writer's padding after it (GNU tar pads records)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-tar-'));
    writeFileSync(join(dir, 'a'), 'hello');
    const archive = Buffer.from((await execa('tar', ['-C', dir, '-cf', '-', 'a'], { encoding: 'buffer' })).stdout as Uint8Array);
    expect(archive.length).toBe(10240); // one padded record
    const { walker, entries } = walk(archive, 333);
    expect(entries.map((e) => e.name)).toEqual(['a']);
    expect(walker.endAt).toBe(1024);
    expect(walker.length).toBe(2048);
    expect(walker.position).toBe(10240);
  });

  it('says where a zero block first sits at a header position, before the end is certain', async () => {
    const archive = await packed([{ name: 'a', body: 'x' }]);
    const walker = new TarWalker();
    walker.push(archive.subarray(0, archive.length - 512)); // the first zero block only
    expect(walker.zeroBlockAt).toBe(1024);
    expect(walker.endAt).toBeUndefined();
  });

  it('refuses what is not a plain tar: compressed, or a damaged header', async () => {
    const archive = await packed([{ name: 'config.dump', body: randomBytes(4000).toString('hex') }]);
    expect(() => walk(gzipSync(archive), 4096)).toThrow(/not a plain tar archive/);
    const damaged = Buffer.from(archive);
    damaged[10] = 0x41;
    expect(() => walk(damaged, 4096)).toThrow(/header checksum mismatch at 0/);
  });
});
