// The systemd unit that runs a container, when one does, and what kind it is (docs/systemd.md).
// A move that forgot it would leave the unit enabled on the source: its next boot would start a
// second copy there, from the image, beside the data Ferry set aside.
//
// The unit is found by the label podman gives a container its unit created (PODMAN_SYSTEMD_UNIT,
// `generate systemd --new`), else by the cgroup of the container's conmon, which a unit that
// starts an existing container (`generate systemd`) holds. Its kind comes from `systemctl show`:
// what its ExecStart runs, and where its file came from.
import { access, readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { SystemdUnit__Output as SystemdUnit } from '../../proto/gen/ferry/v1/SystemdUnit.ts';
import { ERROR_CODES } from '../../common/errors.ts';
import { UNIT_KIND, type UnitKind } from '../../common/wire.ts';
import type { Finding } from '../criu/judge.ts';
import type { Podman } from '../podman/podman.ts';

/** The label podman sets on a container a unit created: the unit's name. */
export const UNIT_LABEL = 'PODMAN_SYSTEMD_UNIT';
/** Where units Ferry moves live, and are installed. */
export const UNIT_DIR = '/etc/systemd/system';

/** Whether systemd runs this host (its own test: the directory exists only under systemd as PID 1). */
export function systemdRuns(): Promise<boolean> {
  return access('/run/systemd/system').then(
    () => true,
    () => false,
  );
}

/** `systemctl` with the arguments; its stdout. */
export async function systemctl(args: string[], options: { reject?: boolean } = {}): Promise<string> {
  const r = await execa('systemctl', args, { reject: options.reject ?? true, timeout: 60_000 });
  return String(r.stdout);
}

/** `systemctl show` as a map of the properties asked for. */
export async function unitProperties(name: string, properties: readonly string[]): Promise<Map<string, string>> {
  const out = await systemctl(['show', name, ...properties.map((p) => `--property=${p}`)]);
  const found = new Map<string, string>();
  for (const line of out.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) found.set(line.slice(0, at), line.slice(at + 1));
  }
  return found;
}

/** The unit named in a process's cgroup (`.../container-db.service`), if any. */
export function unitOfCgroup(cgroupFile: string): string | undefined {
  for (const line of cgroupFile.split('\n')) {
    // v2's line (0::/...) or v1's systemd hierarchy (N:name=systemd:/...): the one systemd keeps.
    const match = /^\d+:(?:name=systemd)?:(.*)$/.exec(line);
    const unit = match?.[1]?.split('/').reverse().find((part) => part.endsWith('.service'));
    if (unit) return unit;
  }
  return undefined;
}

/** What ExecStart and the unit's source say it is. */
export function unitKind(properties: Map<string, string>): UnitKind {
  const source = properties.get('SourcePath') ?? '';
  if (source.endsWith('.container')) return 'quadlet';
  const start = properties.get('ExecStart') ?? '';
  // `{ path=/usr/bin/podman ; argv[]=/usr/bin/podman ... run --cidfile=... --rm ... ; ... }`
  const argv = /argv\[\]=([^;]*)/.exec(start)?.[1]?.trim().split(/\s+/) ?? [];
  if (!argv[0]?.endsWith('podman')) return 'other';
  const words = argv.slice(1).filter((a) => !a.startsWith('-'));
  const cidfile = argv.some((a) => a.startsWith('--cidfile'));
  if (words.includes('run') && cidfile && argv.includes('--replace')) return 'new';
  if (words.includes('start') && properties.get('PIDFile')) return 'existing';
  return 'other';
}

/**
 * Why Ferry will not move this unit (empty: it can). The unit file is carried as it is, so it
 * must be one file Ferry can set aside and install: no drop-ins, under /etc/systemd/system.
 */
export function unitRefusal(name: string, kind: UnitKind, properties: Map<string, string>): string {
  const path = properties.get('FragmentPath') ?? '';
  if (kind === 'quadlet') return `${name} is made by Quadlet from ${properties.get('SourcePath')}: Ferry does not move Quadlet units yet`;
  if (kind === 'other') return `${name} does not run podman the way \`podman generate systemd\` writes it: Ferry cannot tell what its start and stop would do`;
  if (!path.startsWith(`${UNIT_DIR}/`)) return `${name}'s file is ${path || 'not on disk'}, not in ${UNIT_DIR}`;
  const dropIns = (properties.get('DropInPaths') ?? '').split(/\s+/).filter(Boolean);
  if (dropIns.length) return `${name} has drop-ins (${dropIns.join(', ')}), which Ferry would not carry`;
  return '';
}

/**
 * The unit whose cgroup holds a process of this container's: its conmon (a unit that keeps
 * conmon, as `--cgroups=no-conmon` does), or a podman client that runs or starts it attached (a
 * unit written by hand). Never the agent's own service, where conmon of a container it restored sits.
 */
async function unitHolding(container: Pick<ContainerInfo, 'id' | 'name'>, conmonPid: number, ownCgroup: string): Promise<string | undefined> {
  const own = unitOfCgroup(ownCgroup);
  const unitOf = async (pid: number | string) => {
    const unit = unitOfCgroup(await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''));
    return unit && unit !== own ? unit : undefined;
  };
  if (conmonPid > 0) {
    const unit = await unitOf(conmonPid);
    if (unit) return unit;
  }
  for (const pid of (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p))) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.endsWith('podman') || !argv.some((a) => a === 'run' || a === 'start')) continue;
    if (!argv.some((a) => a === container.name || a === `--name=${container.name}` || a === container.id)) continue;
    const unit = await unitOf(pid);
    if (unit) return unit;
  }
  return undefined;
}

/** The unit that runs the container here, described for the move; null when none does. */
export async function findUnit(container: Pick<ContainerInfo, 'id' | 'name' | 'labels'>, conmonPid: number, ownCgroup: string): Promise<SystemdUnit | null> {
  if (!(await systemdRuns())) return null;
  const name = container.labels[UNIT_LABEL] || (await unitHolding(container, conmonPid, ownCgroup));
  if (!name) return null;
  const properties = await unitProperties(name, ['LoadState', 'FragmentPath', 'SourcePath', 'DropInPaths', 'UnitFileState', 'ExecStart', 'PIDFile']);
  if (properties.get('LoadState') !== 'loaded') return null; // a label left from a unit since removed
  const kind = unitKind(properties);
  const path = properties.get('FragmentPath') ?? '';
  return {
    name,
    kind: UNIT_KIND.toWire(kind),
    path,
    content: path ? await readFile(path, 'utf8').catch(() => '') : '',
    enabled: properties.get('UnitFileState') === 'enabled',
    refusal: unitRefusal(name, kind, properties),
  };
}

/** The unit that runs this container here, if systemd runs the host and a unit the container. */
export async function containerUnit(podman: Podman, info: Pick<ContainerInfo, 'id' | 'name' | 'labels' | 'state'>): Promise<SystemdUnit | null> {
  if (!(await systemdRuns())) return null;
  const conmonPid = info.state === 'running' ? Number((await podman.run(['container', 'inspect', '--format', '{{.State.ConmonPid}}', info.id])).trim()) : 0;
  return findUnit(info, conmonPid, await readFile('/proc/self/cgroup', 'utf8').catch(() => ''));
}

/** A unit Ferry will not move, as a preflight finding (the move is refused before the freeze). */
export function unitObstacle(unit: SystemdUnit | null): Finding | undefined {
  if (!unit?.refusal) return undefined;
  return { code: 'SYSTEMD_UNIT_UNSUPPORTED', process: '', file: unit.path, detail: unit.refusal, fix: ERROR_CODES.SYSTEMD_UNIT_UNSUPPORTED.hint.replace(/\.$/, '') };
}

/** Destination: whether this host can take the unit (systemd runs it, and no unit of that name is here). */
export async function unitPlaceCheck(unit: Pick<SystemdUnit, 'name'>): Promise<{ name: string; ok: boolean; detail: string }> {
  const name = 'systemd unit';
  if (!/^[\w@.:-]+\.service$/.test(unit.name)) return { name, ok: false, detail: `"${unit.name}" is not a service unit's name` };
  if (!(await systemdRuns())) return { name, ok: false, detail: `${unit.name} runs the container, and systemd does not run this host: nothing here would run it after a reboot` };
  const here = await unitProperties(unit.name, ['LoadState', 'FragmentPath']);
  if (here.get('LoadState') !== 'not-found') return { name, ok: false, detail: `a unit ${unit.name} is here already (${here.get('FragmentPath') || here.get('LoadState')})` };
  return { name, ok: true, detail: `${unit.name} is installed and enabled here after the commit` };
}
