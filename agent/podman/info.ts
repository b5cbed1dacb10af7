// Versions and readiness of this host's podman, runc and CRIU.
import { execa } from 'execa';
import type { Podman } from './podman.ts';

export interface HostInfo {
  podmanVersion: string;
  runcVersion: string;
  criuVersion: string;
  criuCheckOk: boolean;
  criuCheckOutput: string;
  ociRuntime: string;
  dirtyTracking: boolean;
}

async function firstLine(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const r = await execa(command, args, { reject: false, all: true, timeout: 30_000, stdin: 'ignore' });
  return { ok: !r.failed, text: (r.all ?? '').trim() };
}

export function parseCriuVersion(text: string): string {
  return /^Version:\s*(\S+)/m.exec(text)?.[1] ?? '';
}

export async function hostInfo(podman: Podman): Promise<HostInfo> {
  const [podmanV, criuV, check, dirty, runtime] = await Promise.all([
    firstLine(podman.options.binary, ['--version']),
    firstLine('criu', ['--version']),
    firstLine('criu', ['check']),
    firstLine('criu', ['check', '--feature', 'mem_dirty_track']),
    ociRuntime(podman),
  ]);
  return {
    podmanVersion: /version\s+(\S+)/.exec(podmanV.text)?.[1] ?? '',
    runcVersion: runtime.version,
    criuVersion: parseCriuVersion(criuV.text),
    criuCheckOk: check.ok && /Looks good/.test(check.text),
    criuCheckOutput: check.text.split('\n').slice(-5).join('\n'),
    ociRuntime: runtime.name,
    dirtyTracking: dirty.ok && !/not supported|UNSUPP/i.test(dirty.text),
  };
}

/**
 * The OCI runtime podman runs containers with, and its version, as podman sees it: the `runc` on
 * the PATH need not be the one (podman 5 from another package names its own by path in
 * containers.conf). `runc --version` when podman cannot say.
 */
async function ociRuntime(podman: Podman): Promise<{ name: string; version: string }> {
  const said = await runtimeOf(podman);
  const version = said?.version ?? (await firstLine('runc', ['--version'])).text;
  return { name: said?.name ?? '', version: /version\s+(\S+)/.exec(version)?.[1] ?? '' };
}

function runtimeOf(podman: Podman): Promise<{ name?: string; path?: string; version?: string } | undefined> {
  return podman
    .run(['info', '--format', '{{json .Host.OCIRuntime}}'], { timeoutMs: 30_000 })
    .then((out) => JSON.parse(out) as { name?: string; path?: string; version?: string })
    .catch(() => undefined);
}

const runtimePaths = new WeakMap<Podman, Promise<string>>();

/** The runtime binary podman runs (its path; `runc` when podman cannot say), asked once per Podman. */
export function runtimeBinary(podman: Podman): Promise<string> {
  let path = runtimePaths.get(podman);
  if (!path) {
    path = runtimeOf(podman).then((said) => said?.path || 'runc');
    runtimePaths.set(podman, path);
  }
  return path;
}

export interface PodmanStore {
  /** Where podman keeps images and containers (`--root`). */
  graphRoot: string;
  /** Its storage driver: containers live in `<graphRoot>/<driver>-containers/<id>/userdata`. */
  driver: string;
  /** Where it keeps what lasts until a reboot (`--runroot`). */
  runRoot: string;
}

const stores = new WeakMap<Podman, Promise<PodmanStore>>();

/** This podman's storage (asked once per Podman). */
export function podmanStore(podman: Podman): Promise<PodmanStore> {
  let store = stores.get(podman);
  if (!store) {
    store = podman.run(['info', '--format', '{{.Store.GraphRoot}} {{.Store.GraphDriverName}} {{.Store.RunRoot}}'], { timeoutMs: 30_000 }).then((out) => {
      const [graphRoot = '', driver = '', runRoot = ''] = out.trim().split(/\s+/);
      return { graphRoot, driver, runRoot };
    });
    store.catch(() => stores.delete(podman));
    stores.set(podman, store);
  }
  return store;
}

