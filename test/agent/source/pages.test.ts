// The pages stream's two ends without a network: the source follows pages-1.img while a writer
// (CRIU's stand-in) appends to it, the real action script moves the pages aside, and the stream
// ends with its manifest; the destination reads that manifest back and writes the pages as tar
// entries that GNU tar extracts byte for byte, or links the first into the container's directory. A resumed stream starts at its offset in the same
// layout; a dump whose pages were never moved aside says so; a rollback moves them back.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installActionScript, PAGES_REQUEST } from '../../../agent/criu/action-script.ts';
import { stagedPages, writePageEntries } from '../../../agent/destination/pages.ts';
import { fileHeader } from '../../../agent/transfer/tar-header.ts';
import { followPages, hashLayoutPrefix, pagesAside, PagesInArchive, putPagesBack, requestPagesAside } from '../../../agent/source/pages.ts';
import { TarWalker } from '../../../agent/transfer/tar-walk.ts';

const scripts = mkdtempSync(join(tmpdir(), 'ferry-pages-action-'));

async function postDump(dir: string): Promise<void> {
  const script = await installActionScript(scripts);
  const images = await open(join(dir, 'checkpoint'), 'r');
  try {
    execFileSync('sh', [script], { env: { PATH: process.env.PATH, CRTOOLS_SCRIPT_ACTION: 'post-dump', CRTOOLS_IMAGE_DIR: `/proc/${process.pid}/fd/${images.fd}` } });
  } finally {
    await images.close();
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** A container directory, asked to keep its pages aside, with a stale checkpoint of an earlier move. */
async function container(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-pages-'));
  mkdirSync(join(dir, 'checkpoint'));
  writeFileSync(join(dir, 'checkpoint', 'pages-1.img'), 'STALE PAGES OF AN EARLIER CHECKPOINT');
  await requestPagesAside(dir, 'm-pages');
  mkdirSync(join(dir, 'checkpoint'));
  return dir;
}

describe('the pages stream', () => {
  it('carries pages-1.img as CRIU writes it, then the rest, then a manifest the destination reads back', async () => {
    const dir = await container();
    const first = randomBytes(3 * 1024 * 1024 + 100);
    const second = randomBytes(70_000);
    let dumped!: () => void;
    const dumpOver = new Promise<void>((resolve) => (dumped = resolve));
    let files: unknown;
    const streamed = collect(followPages({ userdata: dir, dumpOver, onFiles: (f) => (files = f) }));
    // CRIU's stand-in: pages-1.img in pieces, with pauses the follower must wait through.
    for (let at = 0; at < first.length; at += 1024 * 1024) {
      appendFileSync(join(dir, 'checkpoint', 'pages-1.img'), first.subarray(at, at + 1024 * 1024));
      await new Promise((r) => setTimeout(r, 20));
    }
    writeFileSync(join(dir, 'checkpoint', 'pages-2.img'), second);
    writeFileSync(join(dir, 'checkpoint', 'pagemap-1.img'), 'not a page');
    await postDump(dir);
    dumped();
    const stream = await streamed;
    expect(files).toEqual([
      { name: 'pages-1.img', size: first.length },
      { name: 'pages-2.img', size: second.length },
    ]);
    expect(stream.subarray(0, first.length).equals(first)).toBe(true);
    expect(stream.subarray(first.length, first.length + second.length).equals(second)).toBe(true);

    // The destination's side: the manifest, then the pages as tar entries GNU tar extracts.
    const staged = join(dir, 'staged.pages');
    writeFileSync(staged, stream);
    const pages = await stagedPages(staged, stream.length);
    expect(pages).toEqual([
      { name: 'pages-1.img', offset: 0, size: first.length },
      { name: 'pages-2.img', offset: first.length, size: second.length },
    ]);
    const tar: Buffer[] = [];
    await writePageEntries(staged, pages, async (chunks) => void tar.push(...chunks.map((c) => Buffer.from(c))));
    tar.push(Buffer.alloc(1024));
    writeFileSync(join(dir, 'pages.tar'), Buffer.concat(tar));
    const out = join(dir, 'extracted');
    mkdirSync(out);
    execFileSync('tar', ['-xf', join(dir, 'pages.tar'), '-C', out]);
    expect(readFileSync(join(out, 'checkpoint', 'pages-1.img')).equals(first)).toBe(true);
    expect(readFileSync(join(out, 'checkpoint', 'pages-2.img')).equals(second)).toBe(true);

    // Into a container's directory: the first file linked (not copied), the others copied.
    const linkInto = join(dir, 'userdata');
    mkdirSync(linkInto);
    const linkedTar: Buffer[] = [];
    expect(await writePageEntries(staged, pages, async (chunks) => void linkedTar.push(...chunks.map((c) => Buffer.from(c))), { linkInto })).toEqual({ copied: second.length, linked: first.length });
    linkedTar.push(Buffer.alloc(1024));
    writeFileSync(join(dir, 'linked.tar'), Buffer.concat(linkedTar));
    expect(Buffer.concat(linkedTar).length).toBeLessThan(second.length + 4096);
    execFileSync('tar', ['-xf', join(dir, 'linked.tar'), '-C', linkInto]);
    expect(statSync(join(linkInto, 'checkpoint', 'pages-1.img')).ino).toBe(statSync(staged).ino);
    expect(readFileSync(join(linkInto, 'checkpoint', 'pages-1.img')).subarray(0, first.length).equals(first)).toBe(true);
    expect(readFileSync(join(linkInto, 'checkpoint', 'pages-2.img')).equals(second)).toBe(true);

    // A resumed stream picks up at its offset in the same layout, and its hash prefix matches.
    const from = first.length - 5000;
    const rest = await collect(followPages({ userdata: dir, dumpOver, from }));
    expect(rest.equals(stream.subarray(from))).toBe(true);
    const files2 = (await pagesAside(dir)) ?? [];
    expect((await hashLayoutPrefix(dir, files2, from)).digest('hex')).toBe(createHash('sha256').update(stream.subarray(0, from)).digest('hex'));

    // A rollback: the pages go back where CRIU wrote them, and the request is gone.
    expect(await putPagesBack(dir)).toEqual(['pages-1.img', 'pages-2.img']);
    expect(readdirSync(join(dir, 'checkpoint')).sort()).toEqual(['pagemap-1.img', 'pages-1.img', 'pages-2.img']);
    expect(readdirSync(dir)).not.toContain(PAGES_REQUEST);
  });

  it('says so when the dump ended with the pages still in the checkpoint (podman exported them)', async () => {
    const dir = await container();
    writeFileSync(join(dir, 'checkpoint', 'pages-1.img'), randomBytes(10_000));
    const stream = collect(followPages({ userdata: dir, dumpOver: Promise.resolve() }));
    await expect(stream).rejects.toBeInstanceOf(PagesInArchive);
  });

  it('refuses a manifest that does not account for the stream, or names anything but pages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-pages-bad-'));
    const staged = join(dir, 'bad.pages');
    const stream = (files: unknown, body = Buffer.alloc(10)) => {
      const json = Buffer.from(JSON.stringify({ files }));
      const length = Buffer.alloc(8);
      length.writeBigUInt64BE(BigInt(json.length));
      const all = Buffer.concat([body, json, length]);
      writeFileSync(staged, all);
      return all.length;
    };
    await expect(stagedPages(staged, stream([{ name: 'pages-1.img', size: 11 }]))).rejects.toThrow(/accounts for/);
    await expect(stagedPages(staged, stream([{ name: '../../etc/passwd', size: 10 }]))).rejects.toThrow(/names a file/);
    await expect(stagedPages(staged, stream([{ name: 'pages-1.img', size: 5 }, { name: 'pages-1.img', size: 5 }]))).rejects.toThrow(/names a file/);
    expect(await stagedPages(staged, stream([{ name: 'pages-1.img', size: 10 }]))).toEqual([{ name: 'pages-1.img', offset: 0, size: 10 }]);
  });

  it('writes sizes past 8 GiB in the base-256 form tar readers take', () => {
    const size = 9 * 1024 ** 3 + 7;
    let seen = 0;
    new TarWalker((entry) => (seen = entry.size)).push(fileHeader('checkpoint/pages-1.img', size, Date.now()));
    expect(seen).toBe(size);
  });
});
