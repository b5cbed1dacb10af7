// Following an export while it is written, against a writer that behaves like podman: the file
// appears only after a while, grows in 32 KiB steps, and the writer exits well after the tar's end.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../common/errors.ts';
import { followExport } from '../../../agent/source/follow-export.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-follow-'));

async function archive(megabytes: number): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'config.dump' }, '{}');
  pack.entry({ name: 'checkpoint/pages-1.img' }, randomBytes(megabytes * 1024 * 1024));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A pretend podman: waits, creates the file, writes `bytes` in steps, lingers, exits (or fails). */
function writer(path: string, bytes: Buffer, options: { delayMs?: number; lingerMs?: number; fail?: Error; stopAt?: number } = {}) {
  const events: Record<string, number> = {};
  const exited = (async () => {
    await sleep(options.delayMs ?? 100);
    // Taken before the open: the file exists as soon as the kernel made it, which a follower can
    // see before this function runs again after the open.
    events.created = performance.now();
    const file = await open(path, 'w');
    const stop = options.stopAt ?? bytes.length;
    for (let i = 0; i < stop; i += 32 * 1024) {
      await file.write(bytes.subarray(i, Math.min(i + 32 * 1024, stop)));
      if (i % (512 * 1024) === 0) await sleep(1);
    }
    await file.close();
    events.written = performance.now();
    await sleep(options.lingerMs ?? 500); // podman's clean-up: network, mounts
    events.exited = performance.now();
    if (options.fail) throw options.fail;
  })();
  exited.catch(() => undefined);
  return { exited, events };
}

async function collect(iterable: AsyncIterable<Buffer>): Promise<{ bytes: Buffer; doneAt: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return { bytes: Buffer.concat(chunks), doneAt: performance.now() };
}

describe('followExport', () => {
  it('has every byte of a plain tar as soon as its end marker is written, before podman exits', async () => {
    const path = join(dir, 'a.tar');
    const bytes = await archive(4);
    const podman = writer(path, bytes, { lingerMs: 800 });
    let appeared = 0;
    const { bytes: got, doneAt } = await collect(followExport({ path, exited: podman.exited, plainTar: true, onAppeared: () => (appeared = performance.now()) }));
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(appeared).toBeGreaterThanOrEqual(podman.events.created ?? Infinity);
    expect(podman.events.exited).toBeUndefined(); // podman is still cleaning up
    expect(doneAt).toBeLessThan(performance.now());
    await podman.exited;
  });

  it('resumes from an offset with only the rest, still stopping at the end marker', async () => {
    const path = join(dir, 'b.tar');
    const bytes = await archive(2);
    const podman = writer(path, bytes, { lingerMs: 200 });
    const from = 1024 * 1024 + 3;
    const { bytes: got } = await collect(followExport({ path, exited: podman.exited, plainTar: true, from }));
    expect(got.equals(bytes.subarray(from))).toBe(true);
    await podman.exited;
  });

  it('reads a compressed export until podman has exited', async () => {
    const path = join(dir, 'c.zst');
    const bytes = randomBytes(700 * 1024); // no tar structure to go by
    const podman = writer(path, bytes, { lingerMs: 300 });
    const { bytes: got } = await collect(followExport({ path, exited: podman.exited, plainTar: false }));
    expect(got.equals(bytes)).toBe(true);
    expect(podman.events.exited).toBeDefined();
  });

  it("fails with podman's own error when podman fails before writing, or stops mid-way", async () => {
    const before = followExport({ path: join(dir, 'never.tar'), exited: Promise.reject(new FerryError('CHECKPOINT_FAILED', 'criu dump failed')), plainTar: true });
    await expect(collect(before)).rejects.toThrow('criu dump failed');
    const path = join(dir, 'd.tar');
    const bytes = await archive(1);
    const podman = writer(path, bytes, { stopAt: 300 * 1024, lingerMs: 10, fail: new FerryError('CHECKPOINT_FAILED', 'no space left on device') });
    await expect(collect(followExport({ path, exited: podman.exited, plainTar: true }))).rejects.toThrow('no space left on device');
  });

  it('refuses an export that ends without its end marker although podman said all was well', async () => {
    const path = join(dir, 'e.tar');
    const bytes = await archive(1);
    const podman = writer(path, bytes, { stopAt: bytes.length - 1024, lingerMs: 10 });
    const error = await collect(followExport({ path, exited: podman.exited, plainTar: true })).then(() => undefined, (e: unknown) => e);
    expect((error as FerryError).code).toBe('CHECKPOINT_FAILED');
    expect((error as FerryError).message).toMatch(/without the tar end marker/);
  });
});
