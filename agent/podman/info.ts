// Versions and readiness of this host's podman, runc and CRIU.
import { execa } from 'execa';
import { FerryError } from '../../common/errors.ts';
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

type RuntimeSaid = { name?: string; path?: string; version?: string } | undefined;

const runtimes = new WeakMap<Podman, Promise<RuntimeSaid>>();

/**
 * `podman info`'s OCIRuntime, asked once per Podman for hostInfo and runtimeBinary both, and kept
 * once podman answered (a failed ask is asked again next time).
 */
function runtimeOf(podman: Podman): Promise<RuntimeSaid> {
  let said = runtimes.get(podman);
  if (!said) {
    said = podman
      .run(['info', '--format', '{{json .Host.OCIRuntime}}'], { timeoutMs: 30_000 })
      // One line of JSON.
      .then((out) => JSON.parse(lastLine(out)) as NonNullable<RuntimeSaid>)
      .catch(() => {
        runtimes.delete(podman);
        return undefined;
      });
    runtimes.set(podman, said);
  }
  return said;
}

/** The runtime binary podman runs (its path; `runc` when podman cannot say). */
export async function runtimeBinary(podman: Podman): Promise<string> {
  return (await runtimeOf(podman))?.path || 'runc';
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

/** The answer of a `podman info --format`: its last line (see parseStore for what may come before). */
function lastLine(out: string): string {
  return (out.trim().split('\n').at(-1) ?? '').trim();
}

/**
 * The answer is the last line: the first command of podman 5 over a store podman 4.3 made says
 * on stdout, before it, that it moved the old database ("Old database has been ..."), and a store
 * read from that line would be kept for the agent's life.
 */
export function parseStore(out: string): PodmanStore {
  const [graphRoot = '', driver = '', runRoot = ''] = lastLine(out).split(/\s+/);
  if (!graphRoot.startsWith('/') || !runRoot.startsWith('/')) throw new FerryError('PODMAN_FAILED', `podman info did not say where its storage is: ${out.trim().slice(0, 200)}`);
  return { graphRoot, driver, runRoot };
}

/** This podman's storage (asked once per Podman). */
export function podmanStore(podman: Podman): Promise<PodmanStore> {
  let store = stores.get(podman);
  if (!store) {
    store = podman.run(['info', '--format', '{{.Store.GraphRoot}} {{.Store.GraphDriverName}} {{.Store.RunRoot}}'], { timeoutMs: 30_000 }).then(parseStore);
    store.catch(() => stores.delete(podman));
    stores.set(podman, store);
  }
  return store;
}

