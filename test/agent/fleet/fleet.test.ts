// The cordon mark and the origins book: what they keep across a restart of the agent (a fresh
// object reading the same state directory), and how an origin follows its container.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cordon } from '../../../agent/fleet/cordon.ts';
import { Origins } from '../../../agent/fleet/origins.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'ferry-fleet-'));

describe('the cordon mark', () => {
  it('survives a restart, keeps its first date when cordoned again, and goes with uncordon', async () => {
    const dir = fresh();
    const cordon = new Cordon(dir);
    await cordon.open();
    expect(cordon.state.cordoned).toBe(false);
    const first = await cordon.set(true, 'podman upgrade');
    expect(first).toMatchObject({ cordoned: true, reason: 'podman upgrade' });
    expect(Date.parse(first.since)).toBeGreaterThan(0);

    const again = new Cordon(dir);
    await again.open();
    expect(again.state).toEqual(first);
    expect(await again.set(true, 'kernel')).toEqual({ cordoned: true, reason: 'kernel', since: first.since });
    expect(await again.set(false, '')).toEqual({ cordoned: false, reason: '', since: '' });

    const third = new Cordon(dir);
    await third.open();
    expect(third.state.cordoned).toBe(false);
  });
});

describe('the origins book', () => {
  const here = async (_id: string) => true;

  it('remembers what arrived, across a restart; forgets one that went home; marks one that moved on; finds one gone', async () => {
    const dir = fresh();
    const origins = new Origins(dir);
    await origins.open();
    await Promise.all([
      origins.arrived({ container: 'r1', containerId: 'id1', origin: 'hostA', migrationId: 'm-1' }),
      origins.arrived({ container: 'r2', containerId: 'id2', origin: 'hostA', migrationId: 'm-2' }),
      origins.arrived({ container: 'r3', containerId: 'id3', origin: 'hostA', migrationId: 'm-3' }),
      origins.arrived({ container: 'c1', containerId: 'id4', origin: 'hostC', migrationId: 'm-4' }),
    ]);
    // Written one after the other, whole: all four are on disk.
    expect(JSON.parse(readFileSync(join(dir, 'origins.json'), 'utf8')).entries).toHaveLength(4);

    const reopened = new Origins(dir);
    await reopened.open();
    expect((await reopened.list('hostA', here)).map((o) => [o.container, o.state])).toEqual([['r1', 'here'], ['r2', 'here'], ['r3', 'here']]);
    expect(await reopened.list('', here)).toHaveLength(4);

    await reopened.left('id1', 'hostA', 'm-5'); // back home: forgotten
    await reopened.left('id2', 'hostC', 'm-6'); // moved on
    const views = await reopened.list('hostA', async (id) => id !== 'id3'); // r3 removed by hand
    expect(views.map((o) => [o.container, o.state, o.detail])).toEqual([
      ['r2', 'moved', 'moved on to hostC by m-6'],
      ['r3', 'gone', 'it no longer exists here'],
    ]);
    // Listed with forgetEnded (a real return), the ended ones are said once more, then gone.
    expect((await reopened.list('hostA', async (id) => id !== 'id3', true)).map((o) => o.state)).toEqual(['moved', 'gone']);
    expect(await reopened.list('hostA', here)).toEqual([]);
    expect((await reopened.list('', here)).map((o) => o.container)).toEqual(['c1']);
    // A container that arrives here again by another evacuation replaces its old note.
    await reopened.arrived({ container: 'r2', containerId: 'id2', origin: 'hostB', migrationId: 'm-7' });
    expect((await reopened.list('', here)).filter((o) => o.containerId === 'id2').map((o) => [o.origin, o.state])).toEqual([['hostB', 'here']]);
  });
});
