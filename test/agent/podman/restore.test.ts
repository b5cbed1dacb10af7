// The flags of `podman container restore`: a container that keeps its IP keeps its TCP
// connections; one restored with --new-address gets a new IP and MAC and its connections closed,
// by podman's --tcp-close where podman has it, else by a CRIU config that only this restore reads.
// A scripted podman records what it was given (parsing and flags only: e2e runs real restores).
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Podman } from '../../../agent/podman/podman.ts';
import { restoreImport } from '../../../agent/podman/restore.ts';

const inspect = new URL('../../fixtures/podman-inspect-redis.json', import.meta.url).pathname;

/** A podman whose restore --help has --tcp-close or not; it records its arguments and the CRIU user config its children would read. */
function scriptedPodman(withTcpClose: boolean): { podman: Podman; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-restore-'));
  const binary = join(dir, 'podman');
  writeFileSync(
    binary,
    `#!/bin/sh
printf '%s\\n' "$*" >> '${dir}/args'
case "$*" in
  *"restore --help"*) echo '      --tcp-established          Restore a container with established TCP connections'
    ${withTcpClose ? "echo '      --tcp-close                Restore a container but close all established TCP connections'" : ':'} ;;
  *"container restore"*) [ -f "$HOME/.criu/default.conf" ] && cp "$HOME/.criu/default.conf" '${dir}/criu.conf'; printf '%s' "$HOME" > '${dir}/home'
    echo '{"podman_restore_duration": 812000, "container_statistics": [{"runtime_restore_duration": 312000}]}' ;;
  *"container inspect"*) cat '${inspect}' ;;
esac
`,
  );
  chmodSync(binary, 0o755);
  return { podman: new Podman({ binary, globalArgs: ['--root', '/r'] }), dir };
}

const restoreArgs = (dir: string) => readFileSync(join(dir, 'args'), 'utf8').split('\n').filter((l) => l.includes('container restore') && !l.includes('--help'));

describe('restoreImport', () => {
  it('keeps the IP and the established TCP connections by default', async () => {
    const { podman, dir } = scriptedPodman(false);
    const { container, stats } = await restoreImport(podman, { archivePath: '/a/m.tar', name: 'fixture-redis' });
    expect(restoreArgs(dir)).toEqual(['--root /r container restore --tcp-established --print-stats --import /a/m.tar']);
    expect(existsSync(join(dir, 'criu.conf'))).toBe(false);
    expect(container.name).toBe('fixture-redis');
    expect(stats).toEqual({ podmanMs: 812, runtimeMs: 312 });
  });

  it('--new-address on a podman with --tcp-close: a new IP and MAC, connections closed by podman', async () => {
    const { podman, dir } = scriptedPodman(true);
    await restoreImport(podman, { archivePath: '/a/m.tar', name: 'fixture-redis', newAddress: true });
    expect(restoreArgs(dir)).toEqual(['--root /r container restore --ignore-static-ip --ignore-static-mac --tcp-close --print-stats --import /a/m.tar']);
    expect(existsSync(join(dir, 'criu.conf'))).toBe(false);
  });

  it('--new-address on podman 4.3 (no --tcp-close): CRIU closes them, told by a config of this restore only, removed after', async () => {
    const { podman, dir } = scriptedPodman(false);
    await restoreImport(podman, { archivePath: '/a/m.tar', name: 'fixture-redis', newAddress: true });
    expect(restoreArgs(dir)).toEqual(['--root /r container restore --ignore-static-ip --ignore-static-mac --print-stats --import /a/m.tar']);
    expect(readFileSync(join(dir, 'criu.conf'), 'utf8').split('\n')).toContain('tcp-close');
    const home = readFileSync(join(dir, 'home'), 'utf8');
    expect(home).toMatch(/ferry-restore-home-/);
    expect(existsSync(home)).toBe(false);
  });
});
