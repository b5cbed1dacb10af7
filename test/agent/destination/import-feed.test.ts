// The import feeder against a reader that opens the archive three times as podman 4.3 does (two
// passes for the config, one that extracts everything), while the archive is still arriving.
// This is the feeding protocol only; that podman itself restores from it is the e2e tests' job.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { candidateOfArchive, denied, judge } from '../../../agent/admission/judge.ts';
import { DEFAULT_POLICY } from '../../../agent/admission/policy.ts';
import { ArchiveSink } from '../../../agent/destination/archive-sink.ts';
import { ImportFeeder, NotStreamable } from '../../../agent/destination/import-feed.ts';
import { GATE_ENTRY, releaseOrphanedImport } from '../../../agent/destination/import-fifos.ts';
import { Inbox } from '../../../agent/destination/inbox.ts';
import { BLOCK, TarWalker } from '../../../agent/transfer/tar-walk.ts';
import { fileTarget } from '../../../agent/transfer/targets.ts';

const NODE = new URL('../../../node_modules/node/bin/node', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ferry-feed-'));

/** The archive's target as the destination's streams make it. */
const archiveTarget = (path: string, inbox: Inbox, from: number) =>
  fileTarget(path, { resumable: true, resumeFrom: from, sink: (file, at) => new ArchiveSink(file, inbox, at) });

// Reads the link to its end three times, noting when each pass ended.
const READER = `
const fs = require('node:fs');
const [link, out] = process.argv.slice(2);
for (const pass of [1, 2, 3]) {
  const bytes = fs.readFileSync(link);
  fs.writeFileSync(out + '/pass' + pass, bytes);
  fs.writeFileSync(out + '/pass' + pass + '.at', String(Date.now()));
}
`;

async function podmanLikeArchive(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'artifacts/', type: 'directory' });
  pack.entry({ name: 'devshm-checkpoint.tar' }, Buffer.alloc(1536));
  pack.entry({ name: 'config.dump' }, '{"ID":"c0ffee","OCIRuntime":"runc"}');
  pack.entry({ name: 'spec.dump' }, '{"ociVersion":"1.0.2"}');
  pack.entry({ name: 'checkpoint/pages-1.img' }, randomBytes(3 * 1024 * 1024));
  pack.entry({ name: 'stats-dump' }, 'stats');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function names(archive: Buffer): string[] {
  const found: string[] = [];
  const walker = new TarWalker((e) => found.push(e.name));
  walker.push(archive);
  return found;
}

/**
 * What podman's extraction pass read is the archive with one more empty entry, the gate's, just
 * before its end marker: every other byte as it came.
 */
function expectFedWhole(read: Buffer, archive: Buffer): void {
  const walker = new TarWalker(() => undefined);
  walker.push(archive);
  const end = walker.zeroBlockAt as number;
  expect(read.subarray(0, end).equals(archive.subarray(0, end))).toBe(true);
  expect(names(read)).toEqual([...names(archive), GATE_ENTRY]);
  expect(read.subarray(end + BLOCK).equals(archive.subarray(end))).toBe(true);
}

/** Lands the archive in pieces, as the receiver would, telling the inbox after each. */
async function arrive(path: string, archive: Buffer, inbox: Inbox, piece = 256 * 1024): Promise<void> {
  await writeFile(path, '');
  for (let i = 0; i < archive.length; i += piece) {
    await appendFile(path, archive.subarray(i, i + piece));
    inbox.wrote(Math.min(i + piece, archive.length));
    await sleep(5);
  }
}

/** The archive's sink as a stream would fill it from `from` on; `put` resolves once a piece is taken. */
async function sinkFor(path: string, inbox: Inbox, from: number) {
  const target = await archiveTarget(path, inbox, from);
  target.writable.on('error', () => {}); // the pipeline's job in the agent
  const put = (bytes: Buffer) => new Promise<void>((resolve, reject) => target.writable.write(bytes, (e?: Error | null) => (e ? reject(e) : resolve())));
  return { target, put };
}

/** A feeder for the archive at `path`, a podman-like reader of its link, and the feeding under way. */
async function feeding(work: string, path: string, inbox: Inbox) {
  const feeder = new ImportFeeder({ archivePath: path, dir: join(work, 'm.import'), inbox });
  const controller = new AbortController();
  await feeder.prepare(controller.signal);
  writeFileSync(join(work, 'reader.cjs'), READER);
  const reader = execa(NODE, [join(work, 'reader.cjs'), feeder.link, work]);
  const running = feeder.run(() => inbox.until(() => inbox.verified !== undefined), controller.signal);
  // Once the feeder is in podman's extraction pass and has read all the file holds.
  const caughtUp = () => inbox.until(() => inbox.relay !== undefined && inbox.relay.position === inbox.written);
  return { feeder, reader, running, caughtUp };
}

/**
 * The first `bytes` of a podman-like archive on disk (all of it by default), and a feeder for it,
 * prepared; `read()` starts a podman-like reader of its link.
 */
async function landed(name: string, bytes?: number) {
  const work = mkdtempSync(join(dir, `${name}-`));
  const archive = await podmanLikeArchive();
  const path = join(work, 'm.tar');
  const inbox = new Inbox();
  const part = archive.subarray(0, bytes ?? archive.length);
  await writeFile(path, part);
  inbox.wrote(part.length);
  const feeder = new ImportFeeder({ archivePath: path, dir: join(work, 'm.import'), inbox });
  const controller = new AbortController();
  await feeder.prepare(controller.signal);
  const read = () => {
    writeFileSync(join(work, 'reader.cjs'), READER);
    return execa(NODE, [join(work, 'reader.cjs'), feeder.link, work], { reject: false });
  };
  return { work, archive, inbox, feeder, controller, read };
}

describe('ImportFeeder', () => {
  it('serves two config passes and the growing archive, holding its end back until the gate passes', async () => {
    const work = mkdtempSync(join(dir, 'ok-'));
    const archive = await podmanLikeArchive();
    const path = join(work, 'm.tar');
    const inbox = new Inbox();
    const feeder = new ImportFeeder({ archivePath: path, dir: join(work, 'm.import'), inbox });
    const controller = new AbortController();
    const arriving = arrive(path, archive, inbox);
    await feeder.prepare(controller.signal);
    writeFileSync(join(work, 'reader.cjs'), READER);
    const reader = execa(NODE, [join(work, 'reader.cjs'), feeder.link, work]);
    let released = 0;
    const gate = async () => {
      await arriving;
      await sleep(300); // the archive is whole, but not yet checked: the reader must still wait
      expect(feeder.released).toBe(false);
      inbox.verify({ bytes: archive.length, sha256: 'checked elsewhere' });
      released = Date.now();
    };
    await feeder.run(gate, controller.signal);
    await reader;
    for (const pass of [1, 2]) {
      const mini = readFileSync(join(work, `pass${pass}`));
      expect(names(mini), `pass ${pass}`).toEqual(['config.dump', 'spec.dump']);
      expect(mini.includes('{"ID":"c0ffee","OCIRuntime":"runc"}')).toBe(true);
    }
    expectFedWhole(readFileSync(join(work, 'pass3')), archive);
    expect(Number(readFileSync(join(work, 'pass3.at'), 'utf8'))).toBeGreaterThanOrEqual(released);
    expect(feeder.opens).toBe(3);
    expect(feeder.released).toBe(true);
    await feeder.dispose();
  });

  it('once podman has read the file, takes the rest from the stream\'s memory: the file still gets every byte', async () => {
    const work = mkdtempSync(join(dir, 'relay-'));
    const archive = await podmanLikeArchive();
    const path = join(work, 'm.tar');
    const inbox = new Inbox();
    const sink = await sinkFor(path, inbox, 0);
    await sink.put(archive.subarray(0, 64 * 1024)); // config.dump and spec.dump are in here
    const { feeder, reader, running, caughtUp } = await feeding(work, path, inbox);
    await caughtUp();
    for (let i = 64 * 1024; i < archive.length; i += 256 * 1024) await sink.put(archive.subarray(i, i + 256 * 1024));
    sink.target.writable.end();
    await sink.target.settled();
    inbox.verify({ bytes: archive.length, sha256: 'checked by the verifier' });
    await running;
    await reader;
    expectFedWhole(readFileSync(join(work, 'pass3')), archive);
    expect(feeder.relayedBytes).toBe(archive.length - 64 * 1024); // none of it read back from the file
    expect(readFileSync(path).equals(archive)).toBe(true); // what a resumed stream builds on
    await feeder.dispose();
  });

  it('a stream cut while podman takes from its memory: podman reads on from the file, and a resumed stream completes the import', async () => {
    const work = mkdtempSync(join(dir, 'cut-'));
    const archive = await podmanLikeArchive();
    const path = join(work, 'm.tar');
    const inbox = new Inbox();
    const first = await sinkFor(path, inbox, 0);
    await first.put(archive.subarray(0, 64 * 1024));
    const { feeder, reader, running, caughtUp } = await feeding(work, path, inbox);
    await caughtUp();
    await first.put(archive.subarray(64 * 1024, 512 * 1024));
    expect(feeder.relayedBytes).toBe(448 * 1024); // podman took those from memory
    // The connection breaks while the next batch is being written: that one podman reads from the file.
    first.put(archive.subarray(512 * 1024, 1024 * 1024)).catch(() => undefined);
    await first.target.abort();
    const kept = inbox.written;
    expect(readFileSync(path).equals(archive.subarray(0, kept))).toBe(true);
    const resumed = await sinkFor(path, inbox, kept); // the source resumes from the last byte kept
    for (let i = kept; i < archive.length; i += 256 * 1024) await resumed.put(archive.subarray(i, Math.min(i + 256 * 1024, archive.length)));
    resumed.target.writable.end();
    await resumed.target.settled();
    inbox.verify({ bytes: archive.length, sha256: 'checked by the verifier' });
    await running;
    await reader;
    expectFedWhole(readFileSync(join(work, 'pass3')), archive);
    expect(readFileSync(path).equals(archive)).toBe(true);
    await feeder.dispose();
  });

  it('will not feed a compressed archive: that one is imported whole', async () => {
    const work = mkdtempSync(join(dir, 'zip-'));
    const path = join(work, 'm.tar.gz');
    const compressed = gzipSync(await podmanLikeArchive());
    const inbox = new Inbox();
    await writeFile(path, compressed);
    inbox.wrote(compressed.length);
    inbox.verify({ bytes: compressed.length, sha256: '' });
    const feeder = new ImportFeeder({ archivePath: path, dir: join(work, 'm.import'), inbox });
    await expect(feeder.prepare(new AbortController().signal)).rejects.toBeInstanceOf(NotStreamable);
  });

  it('stops waiting for podman when told to, without leaving anything blocked', async () => {
    const { feeder, controller } = await landed('stop');
    const running = feeder.run(async () => {}, controller.signal);
    setTimeout(() => controller.abort(new Error('podman exited')), 200);
    await expect(running).rejects.toThrow();
    expect(feeder.opens).toBe(0);
    await feeder.dispose();
  });

  it('stopped while podman extracts, it fails with CANCELLED and the agent lives on', async () => {
    const { work, archive, inbox, feeder, controller, read } = await landed('abort', 64 * 1024); // the rest is "still on its way"
    const reader = read();
    const running = feeder.run(() => inbox.until(() => inbox.verified !== undefined), controller.signal);
    running.catch(() => undefined);
    await inbox.until(() => feeder.opens === 3 && inbox.relay !== undefined); // waiting for bytes, no write in flight
    controller.abort(new Error('the coordinator cancelled'));
    // The pipe is destroyed with the reason; an 'error' nobody listens to would end this process.
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    await reader;
    // The reader saw its pipe end early: a cut tar, which podman's extraction refuses.
    expect(readFileSync(join(work, 'pass3')).length).toBeLessThan(archive.length);
    await feeder.dispose();
  });

  it('stopped while podman waits for the gate, podman is left inside a header: a cut archive to it, not a whole one', async () => {
    const { work, archive, feeder, controller, read: startReader } = await landed('gate');
    const reader = startReader();
    let waiting!: () => void;
    const atGate = new Promise<void>((resolve) => (waiting = resolve));
    const running = feeder.run(async () => {
      waiting();
      await new Promise((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason)));
    }, controller.signal);
    running.catch(() => undefined);
    await atGate;
    await sleep(100); // the reader has taken all it was given
    controller.abort(new Error('the coordinator cancelled'));
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    await reader;
    const read = readFileSync(join(work, 'pass3'));
    // Every entry of the archive, then all but the last byte of a header. Go's archive/tar (podman's
    // reader) reads a header with io.ReadFull: a pipe that ends at a block boundary is the end of
    // the archive to it, one that ends inside a block an unexpected EOF, and the extraction fails.
    expect(read.length % BLOCK).toBe(BLOCK - 1);
    const walker = new TarWalker(() => undefined);
    walker.push(archive);
    expect(read.length).toBe((walker.zeroBlockAt as number) + BLOCK - 1);
    expect(names(read.subarray(0, read.length - (BLOCK - 1)))).toEqual(names(archive));
    await feeder.dispose();
  });

  it('judges config.dump and spec.dump before podman is served a byte: an extra bind of / is refused, no FIFO made', async () => {
    const work = mkdtempSync(join(dir, 'admit-'));
    const spec = { linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })) }, mounts: [{ destination: '/host', type: 'bind', source: '/' }] };
    const pack = tar.pack();
    pack.entry({ name: 'config.dump' }, JSON.stringify({ id: 'c0ffee', name: 'c', rootfsImageName: 'img', privileged: false }));
    pack.entry({ name: 'spec.dump' }, JSON.stringify(spec));
    pack.entry({ name: 'checkpoint/pages-1.img' }, randomBytes(4096));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    const archive = Buffer.concat(chunks);
    const path = join(work, 'm.tar');
    await writeFile(path, archive);
    const inbox = new Inbox();
    inbox.wrote(archive.length);
    const host = { graphRoot: '/var/lib/containers/storage', runRoot: '/run/containers/storage', stateDir: '/var/lib/ferry/agent' };
    const feeder = new ImportFeeder({
      archivePath: path,
      dir: join(work, 'm.import'),
      inbox,
      admit: async (configDump, specDump) => {
        const candidate = candidateOfArchive(configDump, specDump);
        const violations = judge(candidate, DEFAULT_POLICY, host);
        if (violations.length) throw denied(candidate, violations, { host: 'hostB', phase: 'restore', policyPath: '/etc/ferry/policy.json' });
      },
    });
    await expect(feeder.prepare(new AbortController().signal)).rejects.toMatchObject({ code: 'POLICY_DENIED', details: ['bind-mounts: it binds / (under /) into /host'] });
    expect(existsSync(join(work, 'm.import'))).toBe(false); // no link, no FIFO: nothing for podman to open
  });

  it('stops when the migration is rolled back while it waits for bytes', async () => {
    const work = mkdtempSync(join(dir, 'fail-'));
    const inbox = new Inbox();
    await writeFile(join(work, 'm.tar'), '');
    const feeder = new ImportFeeder({ archivePath: join(work, 'm.tar'), dir: join(work, 'm.import'), inbox });
    const preparing = feeder.prepare(new AbortController().signal);
    const { FerryError } = await import('../../../common/errors.ts');
    inbox.fail(new FerryError('CANCELLED', 'rolled back'));
    await expect(preparing).rejects.toThrow('rolled back');
  });
});

// What an agent killed between two of podman's passes leaves: podman (in a session of its own)
// blocked in open(2) on the next FIFO, which nobody will write. The next agent frees it at start.
describe('an import orphaned by a killed agent', () => {
  it('a reader blocked opening a pass FIFO gets a header cut short, and its end; a FIFO nobody reads is left alone', async () => {
    const work = mkdtempSync(join(dir, 'orphan-'));
    for (const n of [1, 2, 3]) await execa('mkfifo', ['-m', '600', join(work, `pass-${n}.fifo`)]);
    // `cat` stands for podman: blocked in open(2) on the third pass's FIFO until a writer comes.
    const reader = execa('cat', [join(work, 'pass-3.fifo')], { encoding: 'buffer', timeout: 10_000 });
    await sleep(200);
    expect(await releaseOrphanedImport(work)).toBe(1);
    const { stdout } = await reader;
    expect(stdout.length).toBe(BLOCK - 1);
    // A tar reader finds a header it cannot finish: an error to it, not an end of the archive.
    const walker = new TarWalker(() => undefined);
    walker.push(Buffer.from(stdout));
    expect(walker.zeroBlockAt).toBeUndefined();
    expect(Buffer.from(stdout).subarray(0, GATE_ENTRY.length).toString()).toBe(GATE_ENTRY);
    // Nobody waits any more: nothing is written, and nothing blocks.
    expect(await releaseOrphanedImport(work)).toBe(0);
    expect(await releaseOrphanedImport(join(work, 'no-such-dir'))).toBe(0);
  });
});
