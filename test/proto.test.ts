import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('proto/gen', () => {
  it('is exactly what `npm run gen` makes of proto/*.proto', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ferry-gen-'));
    await execa(process.execPath, [join(root, 'scripts/proto-gen.ts'), '--out', out], { cwd: root });
    const generated = files(out);
    expect(files(join(root, 'proto/gen'))).toEqual(generated);
    for (const f of generated) expect(readFileSync(join(root, 'proto/gen', f), 'utf8'), f).toBe(readFileSync(join(out, f), 'utf8'));
  });
});
