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
  const [podmanV, runcV, criuV, check, dirty, runtime] = await Promise.all([
    firstLine(podman.options.binary, ['--version']),
    firstLine('runc', ['--version']),
    firstLine('criu', ['--version']),
    firstLine('criu', ['check']),
    firstLine('criu', ['check', '--feature', 'mem_dirty_track']),
    podman.run(['info', '--format', '{{.Host.OCIRuntime.Name}}']).catch(() => ''),
  ]);
  return {
    podmanVersion: /version\s+(\S+)/.exec(podmanV.text)?.[1] ?? '',
    runcVersion: /version\s+(\S+)/.exec(runcV.text)?.[1] ?? '',
    criuVersion: parseCriuVersion(criuV.text),
    criuCheckOk: check.ok && /Looks good/.test(check.text),
    criuCheckOutput: check.text.split('\n').slice(-5).join('\n'),
    ociRuntime: runtime,
    dirtyTracking: dirty.ok && !/not supported|UNSUPP/i.test(dirty.text),
  };
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

