import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupMemoryBytes, dataBytes } from '../../../agent/podman/size.ts';

describe('what a migration will move', () => {
  it('reads the memory of a cgroup v1 or v2 container', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-cg-'));
    mkdirSync(join(root, 'memory/libpod_parent/libpod-abc'), { recursive: true });
    writeFileSync(join(root, 'memory/libpod_parent/libpod-abc/memory.usage_in_bytes'), '737280\n');
    mkdirSync(join(root, 'machine.slice/libpod-def.scope'), { recursive: true });
    writeFileSync(join(root, 'machine.slice/libpod-def.scope/memory.current'), '4096\n');
    expect(await cgroupMemoryBytes('/libpod_parent/libpod-abc', root)).toBe(737280);
    expect(await cgroupMemoryBytes('/machine.slice/libpod-def.scope', root)).toBe(4096);
    expect(await cgroupMemoryBytes('/nowhere', root)).toBe(0);
    expect(await cgroupMemoryBytes('', root)).toBe(0);
  });

  it('adds up the file bytes under bind mounts, a single file included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-du-'));
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'a/one'), Buffer.alloc(1000));
    writeFileSync(join(dir, 'a/b/two'), Buffer.alloc(234));
    writeFileSync(join(dir, 'single.conf'), 'x=1\n');
    expect(await dataBytes([join(dir, 'a'), join(dir, 'single.conf')])).toBe(1238);
    expect(await dataBytes([])).toBe(0);
  });
});
