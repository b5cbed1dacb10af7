// Setup file of the unit tests: the folders a test file makes with mkdtemp(tmpdir()) go into one
// folder of its own, removed once the file is done, whether its tests passed or not. os.tmpdir()
// reads TMPDIR, set here before the file is imported. Without it, every run of the suite left a
// few hundred folders in /tmp (journals, policies, fake podman stores) for good.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const before = process.env.TMPDIR;
const dir = mkdtempSync(join(tmpdir(), 'ferry-unit-'));
process.env.TMPDIR = dir;

afterAll(() => {
  if (before === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = before;
  // A child a test started may still be writing there as it exits: a few tries, not a failed file.
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});
