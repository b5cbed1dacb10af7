// What CRIU cannot checkpoint is found by the preflight while the container runs: each known cause
// refuses the move with its own code, the process and file it found and the fix, and the container
// was never frozen (same process, never checkpointed, still answering on hostA, nothing on hostB).
// File locks are the cause Ferry handles itself: held locks move with the container, both ways
// (but a POSIX lock on a file the process also maps would be lost by CRIU's restore: refused).
// The causes are set up for real by test/fixtures/obstacles.c, built here and run in busybox.
import { execa } from 'execa';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, ferry, inventoryPath, lab, podman, removeEverywhere, ROOT, runningOn } from './lab.ts';

let fixtures: string;

/** Runs the fixture in a busybox container on hostA and waits for it to say it is ready. */
async function start(name: string, podmanArgs: string[], mode: string[]): Promise<void> {
  await removeEverywhere(name);
  await podman('hostA', ['run', '-d', '--name', name, '-v', `${fixtures}:/fx:ro`, ...podmanArgs, BUSYBOX_IMAGE, '/fx/obstacles', ...mode]);
  const deadline = Date.now() + 20_000;
  while (!(await podman('hostA', ['logs', name], { reject: false })).includes('ready')) {
    if (Date.now() > deadline) throw new Error(`${name} never got ready: ${await podman('hostA', ['logs', name], { reject: false })}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What would change if the container had been frozen: its host PID, and podman's checkpoint mark. */
async function untouched(name: string): Promise<string> {
  return podman('hostA', ['container', 'inspect', '--format', '{{.State.Pid}} {{.State.Status}} checkpointed={{.State.Checkpointed}}', name]);
}

async function expectRefused(name: string, code: string, found: RegExp): Promise<void> {
  const before = await untouched(name);
  expect(before).toMatch(/ running checkpointed=false$/);
  const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  const failed = r.events.find((e) => e.event === 'failed') as { error: { code: string; phase: string; host: string; hint: string; details: string[] } } | undefined;
  expect(failed?.error).toMatchObject({ code, phase: 'preflight', host: 'hostA' });
  expect(failed?.error.details.join('\n')).toMatch(found);
  expect(failed?.error.hint).not.toBe('');
  expect(r.events.some((e) => e.event === 'phase' && e.phase === 'checkpoint'), 'nothing may be frozen').toBe(false);
  expect(await untouched(name)).toBe(before);
  expect(await runningOn(name)).toEqual(['hostA']);
  expect(await podman('hostB', ['ps', '-a', '--format', '{{.Names}}'])).not.toMatch(new RegExp(`^${name}$`, 'm'));
}

beforeAll(async () => {
  fixtures = await mkdtemp(join(tmpdir(), 'ferry-obstacles-'));
  await execa('gcc', ['-static', '-O2', '-o', join(fixtures, 'obstacles'), `${ROOT}test/fixtures/obstacles.c`]);
});

afterAll(async () => {
  await Promise.all(['e2e-uring', 'e2e-hostnet', 'e2e-shm', 'e2e-sockd', 'e2e-sockc', 'e2e-inotify', 'e2e-dev', 'e2e-systemd', 'e2e-lockmap', 'e2e-etcwatch', 'e2e-lock', 'e2e-privileged', 'e2e-hostetc'].map((n) => removeEverywhere(n)));
  await lab(['exec', 'hostA', 'rm', '-rf', '/srv/e2e-sock'], { reject: false });
  await rm(fixtures, { recursive: true, force: true });
});

describe('the preflight refuses what CRIU cannot checkpoint, before anything is frozen', () => {
  it('io_uring, with seccomp off (podman\'s default profile refuses it): IO_URING_IN_USE', async () => {
    await start('e2e-uring', ['--security-opt', 'seccomp=unconfined'], ['io_uring']);
    await expectRefused('e2e-uring', 'IO_URING_IN_USE', /obstacles \(pid 1\), fd \d+ \(anon_inode:\[io_uring\]\)/);
  });

  it("the host's network namespace: HOST_NAMESPACE", async () => {
    await start('e2e-hostnet', ['--network', 'host'], ['inotify', '/fx']);
    await expectRefused('e2e-hostnet', 'HOST_NAMESPACE', /--network=host/);
  });

  it("the host's SysV shared memory (--ipc=host): HOST_IPC_SHARED_MEMORY", async () => {
    await start('e2e-shm', ['--ipc', 'host'], ['shm']);
    await expectRefused('e2e-shm', 'HOST_IPC_SHARED_MEMORY', /obstacles \(pid 1\), \/SYSV/);
  });

  it('a Unix socket connected to a server outside the container: EXTERNAL_UNIX_SOCKET', async () => {
    await lab(['exec', 'hostA', 'mkdir', '-p', '/srv/e2e-sock']);
    await start('e2e-sockd', ['-v', '/srv/e2e-sock:/sock'], ['listen', '/sock/s']);
    await start('e2e-sockc', ['-v', '/srv/e2e-sock:/sock'], ['connect', '/sock/s']);
    await expectRefused('e2e-sockc', 'EXTERNAL_UNIX_SOCKET', /obstacles \(pid 1\), socket:\[\d+\] to \/sock\/s/);
  });

  it("an inotify watch on a file of the container's own root, outside CRIU's hint folders: INOTIFY_ON_OVERLAY", async () => {
    await start('e2e-inotify', [], ['inotify', '/tmp/watched']);
    await expectRefused('e2e-inotify', 'INOTIFY_ON_OVERLAY', /obstacles \(pid 1\), inotify watch \d+ on inode \d+ of the container's root/);
  });

  it('a device passed in and held open: DEVICE_PASSED_IN', async () => {
    await start('e2e-dev', ['--device', '/dev/fuse'], ['open', '/dev/fuse']);
    await expectRefused('e2e-dev', 'DEVICE_PASSED_IN', /obstacles \(pid 1\), fd \d+ \(\/dev\/fuse\)/);
  });

  it('a POSIX lock on a file the process also maps (SQLite\'s WAL index): LOCK_ON_MAPPED_FILE', async () => {
    // CRIU restores such a process without its lock, and says nothing (seen here with --file-locks on both sides).
    await start('e2e-lockmap', [], ['lockmap', '/tmp/index']);
    await expectRefused('e2e-lockmap', 'LOCK_ON_MAPPED_FILE', /obstacles \(pid 1\), \/tmp\/index: .*POSIX lock/);
  });

  it("podman's systemd mode (--systemd=always): SYSTEMD_INIT", async () => {
    await start('e2e-systemd', ['--systemd', 'always'], ['inotify', '/fx']);
    await expectRefused('e2e-systemd', 'SYSTEMD_INIT', /podman --systemd mode/);
  });
});

/** Runs `work` with hostB's admission policy (its agent reads policy.json in its state dir at each check). */
async function withPolicyOnB<T>(policy: object, work: () => Promise<T>): Promise<T> {
  const state = JSON.parse(readFileSync(await inventoryPath(), 'utf8')).hosts.hostB.stateDir as string;
  writeFileSync(`${state}/policy.json`, JSON.stringify(policy));
  try {
    return await work();
  } finally {
    rmSync(`${state}/policy.json`, { force: true });
  }
}

describe("the destination's admission policy refuses what would give the container its host, before anything is frozen", () => {
  for (const [name, args, rule] of [
    ['e2e-privileged', ['--privileged'], 'privileged: it runs privileged (--privileged)'],
    ['e2e-hostetc', ['-v', '/etc:/hostetc:ro'], 'bind-mounts: it binds /etc (under /etc) into /hostetc'],
  ] as const) {
    it(`${args.join(' ')}: POLICY_DENIED by hostB, the container untouched on hostA`, async () => {
      await start(name, [...args], ['lock', '/tmp/held']);
      const before = await untouched(name);
      const r = await ferry(['migrate', '--from', 'hostA', '--to', 'hostB', name, '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const failed = r.events.find((e) => e.event === 'failed') as { error: { code: string; phase: string; host: string; details: string[] } } | undefined;
      expect(failed?.error).toMatchObject({ code: 'POLICY_DENIED', phase: 'preflight', host: 'hostB' });
      expect(failed?.error.details).toContain(rule);
      expect(r.events.some((e) => e.event === 'phase' && e.phase === 'checkpoint'), 'nothing may be frozen').toBe(false);
      expect(await untouched(name)).toBe(before);
      expect(await runningOn(name)).toEqual(['hostA']);
    });
  }

  it('a host whose policy allows it takes a privileged container', async () => {
    const r = await withPolicyOnB({ allow: { privileged: true } }, () => ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-privileged', '--ignore-bind-mounts', '--json']));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await runningOn('e2e-privileged')).toEqual(['hostB']);
    expect(await podman('hostB', ['container', 'inspect', '--format', '{{.HostConfig.Privileged}}', 'e2e-privileged'])).toBe('true');
  });
});

describe('what CRIU can move is not refused', () => {
  it("an inotify watch in /etc (a folder CRIU searches) and a device given but not open: moved, the watch kept", async () => {
    await start('e2e-etcwatch', ['--device', '/dev/fuse'], ['inotify', '/etc/passwd']);
    // A device given is refused by the default admission policy: hostB's allows them.
    const r = await withPolicyOnB({ allow: { devices: true } }, () => ferry(['migrate', '--from', 'hostA', '--to', 'hostB', 'e2e-etcwatch', '--ignore-bind-mounts', '--json']));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await runningOn('e2e-etcwatch')).toEqual(['hostB']);
    const pid = (await podman('hostB', ['container', 'inspect', '--format', '{{.State.Pid}}', 'e2e-etcwatch'])).trim();
    const fds = String((await lab(['exec', 'hostB', 'sh', '-c', `for f in /proc/${pid}/fd/*; do readlink $f; done`])).stdout);
    expect(fds).toContain('anon_inode:inotify');
  });
});

describe('file locks move with the container', () => {
  it('a POSIX lock is seen, checkpointed and restored with --file-locks, and held on hostB, then back on hostA', async () => {
    await start('e2e-lock', [], ['lock', '/tmp/held']);
    for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
      // The fixture's folder is the same on both hosts: shared storage, not data to move.
      const r = await ferry(['migrate', '--from', from, '--to', to, 'e2e-lock', '--ignore-bind-mounts', '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const checks = r.events.filter((e) => e.event === 'checks').flatMap((e) => e.checks as Array<{ name: string; detail: string }>);
      expect(checks.find((c) => c.name === 'file locks')?.detail).toMatch(/^1 held \(obstacles \(pid 1\): \/tmp\/held\): checkpointed and restored with --file-locks$/);
      expect(await runningOn('e2e-lock')).toEqual([to]);
      const pid = (await podman(to, ['container', 'inspect', '--format', '{{.State.Pid}}', 'e2e-lock'])).trim();
      const locks = String((await lab(['exec', to, 'cat', '/proc/locks'])).stdout);
      expect(locks).toMatch(new RegExp(`POSIX\\s+ADVISORY\\s+WRITE\\s+${pid}\\s`));
    }
  });
});
