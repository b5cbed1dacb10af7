import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Podman } from '../../../agent/podman/podman.ts';
import { StateStamp } from '../../../agent/podman/state-stamp.ts';

/** A podman whose storage is `root` (all StateStamp asks of it is `podman info`). */
const podmanAt = (root: string) => ({ run: async () => `${root} overlay /run/x\n` }) as unknown as Podman;

describe("podman's state stamp", () => {
  it('says changed at first, then only when the database or the extra changes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-stamp-'));
    mkdirSync(join(root, 'libpod'));
    writeFileSync(join(root, 'libpod', 'bolt_state.db'), 'a');
    const stamp = new StateStamp(podmanAt(root));
    expect(await stamp.changed()).toBe(true);
    expect(await stamp.changed()).toBe(false);
    writeFileSync(join(root, 'libpod', 'bolt_state.db'), 'ab'); // a container started: podman wrote its state
    expect(await stamp.changed()).toBe(true);
    expect(await stamp.changed()).toBe(false);
    expect(await stamp.changed('m-1')).toBe(true); // a migration began
    expect(await stamp.changed('m-1')).toBe(false);
    stamp.reset();
    expect(await stamp.changed('m-1')).toBe(true);
  });

  it("reads podman 5's SQLite database and its write-ahead log", async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-stamp-'));
    writeFileSync(join(root, 'db.sql'), 'x');
    const stamp = new StateStamp(podmanAt(root));
    expect(await stamp.changed()).toBe(true);
    expect(await stamp.changed()).toBe(false);
    writeFileSync(join(root, 'db.sql-wal'), 'y');
    expect(await stamp.changed()).toBe(true);
  });

  it('without a database it cannot tell, so every look is a change', async () => {
    const stamp = new StateStamp(podmanAt(mkdtempSync(join(tmpdir(), 'ferry-stamp-'))));
    expect(await stamp.changed()).toBe(true);
    expect(await stamp.changed()).toBe(true);
  });
});
