// `podman container restore`: `--import` brings a received checkpoint back to life (podman leaves
// a `Created` container behind when that fails, so a failure removes it before reporting); in
// place, a source's rollback brings its container back from the checkpoint it kept.
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import { ms, statsJson, withCriuLines } from './checkpoint.ts';
import { findContainer, inspectContainer } from './inspect.ts';
import { runtimeBinary } from './info.ts';
import type { Podman, RunOptions } from './podman.ts';

export interface RestoreRequest {
  archivePath: string;
  /** The container's name: what to look for, and to clean up, after the restore. */
  name: string;
  /**
   * --new-address: an IP (and MAC) of this host's network instead of the checkpoint's, and the
   * established TCP connections closed; otherwise the container keeps its IP and connections.
   */
  newAddress?: boolean | undefined;
  /**
   * Close the checkpoint's established TCP connections but keep the IP: a container parked across
   * a reboot, whose peers forgot those connections long ago.
   */
  closeConnections?: boolean | undefined;
  /** The checkpoint was made with --file-locks: CRIU restores the locks only when told so too. */
  fileLocks?: boolean | undefined;
}

export interface RestoreStats {
  /** podman's whole restore, ms. */
  podmanMs: number;
  /** runc's restore (CRIU's inside it), ms, when podman reported it. */
  runtimeMs: number | undefined;
}

interface RawStats {
  podman_restore_duration?: number;
  container_statistics?: Array<{ runtime_restore_duration?: number }>;
}

export function parseRestoreStats(stdout: string): RestoreStats {
  const raw = statsJson<RawStats>(stdout);
  return { podmanMs: ms(raw.podman_restore_duration) ?? 0, runtimeMs: ms(raw.container_statistics?.[0]?.runtime_restore_duration) };
}

/** Restores the container from the checkpoint it kept on this host (no archive, no network); podman's and runc's times. */
export async function restoreInPlace(podman: Podman, container: string, options: RunOptions & { fileLocks?: boolean | undefined } = {}): Promise<RestoreStats> {
  const locks = options.fileLocks ? ['--file-locks'] : [];
  try {
    return parseRestoreStats(await podman.run(['container', 'restore', '--tcp-established', ...locks, '--keep', '--print-stats', container], { ...options, errorCode: 'ROLLBACK_FAILED', detached: true }));
  } catch (error) {
    throw await withCriuLines(error);
  }
}

/** Restores from an archive path (a file, or a link the import feeder serves) and inspects the result. */
export async function restoreImport(
  podman: Podman,
  request: RestoreRequest,
  options: RunOptions = {},
): Promise<{ container: ContainerInfo; stats: RestoreStats }> {
  let stats: RestoreStats;
  const tcp = request.newAddress || request.closeConnections
    ? await tcpClose(podman, request.newAddress ? NEW_ADDRESS_ARGS : [])
    : { args: ['--tcp-established'], dispose: async () => undefined };
  try {
    const locks = request.fileLocks ? ['--file-locks'] : [];
    const out = await podman.run(['container', 'restore', ...tcp.args, ...locks, '--print-stats', '--import', request.archivePath], {
      ...options,
      env: { ...options.env, ...tcp.env },
      errorCode: options.errorCode ?? 'RESTORE_FAILED',
      detached: true,
    });
    stats = parseRestoreStats(out);
  } catch (error) {
    const explained = await withCriuLines(error);
    await removeContainer(podman, request.name).catch(() => undefined);
    throw explained;
  } finally {
    await tcp.dispose();
  }
  return { container: await inspectContainer(podman, request.name, { timeoutMs: options.timeoutMs }), stats };
}

/** The restore flags of --new-address: an IP and a MAC from this host's network, not the checkpoint's. */
export const NEW_ADDRESS_ARGS = ['--ignore-static-ip', '--ignore-static-mac'] as const;

/** Whether this podman's restore has --tcp-close, per binary (it asks podman once). */
const tcpCloseFlag = new Map<string, Promise<boolean>>();

export function hasTcpClose(podman: Podman): Promise<boolean> {
  const binary = podman.options.binary;
  let known = tcpCloseFlag.get(binary);
  if (!known) {
    known = podman.run(['container', 'restore', '--help'], { timeoutMs: 30_000 }).then((help) => /--tcp-close\b/.test(help), () => false);
    tcpCloseFlag.set(binary, known);
  }
  return known;
}

/**
 * How a restore closes the checkpoint's established TCP connections (its sockets are bound to the
 * old IP). podman's --tcp-close where it has it; podman 4.3 has not, and passes conmon (so runc,
 * so CRIU) only a few variables of its environment, HOME among them: there CRIU gets `tcp-close`
 * from $HOME/.criu/default.conf, a HOME of this restore's own that keeps the user's CRIU options.
 */
async function tcpClose(podman: Podman, extra: readonly string[]): Promise<{ args: string[]; env?: Record<string, string>; dispose: () => Promise<void> }> {
  if (await hasTcpClose(podman)) return { args: [...extra, '--tcp-close'], dispose: async () => undefined };
  const home = await mkdtemp(join(tmpdir(), 'ferry-restore-home-'));
  const own = await readFile(join(homedir(), '.criu', 'default.conf'), 'utf8').catch(() => '');
  await mkdir(join(home, '.criu'));
  await writeFile(join(home, '.criu', 'default.conf'), `${own}${own && !own.endsWith('\n') ? '\n' : ''}tcp-close\n`);
  return { args: [...extra], env: { HOME: home }, dispose: () => rm(home, { recursive: true, force: true }) };
}

/**
 * Removes what container storage holds of a container podman itself does not know. podman killed
 * mid-import (with the agent that ran it) can leave just that: the container's storage made, the
 * container not yet recorded. Its next import of the same ID then fails with "creating container
 * storage: that ID is already in use", and `podman rm` does not see it. True when there was some.
 */
export async function removeStorageLeftover(podman: Podman, id: string, options: RunOptions = {}): Promise<boolean> {
  const listed = await podman.run(['ps', '--all', '--external', '--no-trunc', '--format', '{{.ID}}'], options);
  const known = listed.split('\n').map((line) => line.trim()).find((line) => line && (line.startsWith(id) || id.startsWith(line)));
  if (!known) return false;
  await podman.run(['rm', '--storage', known], options);
  return true;
}

/** Where podman's runc keeps its containers' state (rootful: runc's own default). */
export const RUNC_ROOT = '/run/runc';

/**
 * runc's state of a container podman does not know: a restore cut off (the agent killed with
 * podman, runc and CRIU) leaves runc's directory for its ID behind, and runc then refuses every
 * later container of that ID ("container with given ID already exists"), the same container
 * moved here again included. Only for an ID podman does not know (the caller's to make sure):
 * runc is asked to delete what it still holds, and the directory goes. True when there was one.
 */
export async function removeRuntimeLeftover(podman: Podman, id: string, root = RUNC_ROOT): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(id)) return false;
  const dir = join(root, id);
  if (!(await access(dir).then(() => true, () => false))) return false;
  // The runc that made the state: podman 5 may run its own, named by path, not the one on the PATH.
  await execa(await runtimeBinary(podman), ['--root', root, 'delete', '--force', id], { reject: false, timeout: 60_000 });
  await rm(dir, { recursive: true, force: true });
  return true;
}

/** Removes the container if it exists; true when there was one. */
export async function removeContainer(podman: Podman, container: string, options: RunOptions = {}): Promise<boolean> {
  if (!(await findContainer(podman, container, options))) return false;
  await podman.run(['rm', '--force', '--time', '0', container], options);
  return true;
}
