// CPU compatibility between hosts: CRIU restores a process only on a CPU with the features it
// was dumped with. The source dumps its cpuinfo image; the destination checks it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export async function cpuinfoDump(): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cpuinfo-'));
  try {
    await execa('criu', ['cpuinfo', 'dump', '-D', dir], { timeout: 30_000, stdin: 'ignore' });
    return await readFile(join(dir, 'cpuinfo.img'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether this host's CPU can run what was dumped on the host that made `image`; and why not. */
export async function cpuinfoCheck(image: Buffer): Promise<{ ok: boolean; detail: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-cpuinfo-'));
  try {
    await writeFile(join(dir, 'cpuinfo.img'), image);
    const r = await execa('criu', ['cpuinfo', 'check', '-D', dir], { reject: false, all: true, timeout: 30_000, stdin: 'ignore' });
    const errors = String(r.all ?? '').split('\n').filter((l) => /Error|mismatch|missing/i.test(l)).slice(-5);
    return { ok: !r.failed, detail: r.failed ? errors.join('; ') || `criu cpuinfo check exited ${r.exitCode}` : 'CPU compatible' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
