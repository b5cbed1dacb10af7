// What a move does to a container's systemd unit (docs/systemd.md), each step safe to repeat:
//
// - hold (source, before the freeze): the unit may neither remove the checkpointed container
//   when conmon exits (ExecStop, ExecStopPost) nor start another copy (Restart, and the boot:
//   it is disabled). The drop-in is in /run: a reboot drops it, but the unit stays disabled.
// - adopt (destination after the commit; source after a rollback): systemd takes the running,
//   restored container as the unit's service. A start with a drop-in of our own whose ExecStart
//   does nothing and whose PIDFile is conmon's (conmon, daemonized, is a child of systemd) makes
//   conmon the main PID; the drop-in then goes, and the unit is what its file says again: a stop
//   stops the container, a crash restarts the unit, a boot starts it.
// - set aside (source, after the commit): disabled, its file moved into the agent's state
//   directory, never deleted.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../common/errors.ts';
import type { UnitKind } from '../../common/wire.ts';
import type { Podman } from '../podman/podman.ts';
import { systemctl, UNIT_DIR, unitProperties } from './unit.ts';

/** What the journal keeps of a migration's unit. */
export interface UnitRecord {
  name: string;
  kind: UnitKind;
  /** Started at boot where it came from. */
  enabled: boolean;
  /** Destination: the unit file to install. */
  content?: string | undefined;
}

const DROP_INS = '/run/systemd/system';
const HOLD = '50-ferry-hold.conf';
const ADOPT = '60-ferry-adopt.conf';

const dropIn = (unit: string, name: string) => join(DROP_INS, `${unit}.d`, name);

async function writeDropIn(unit: string, name: string, text: string): Promise<void> {
  await mkdir(join(DROP_INS, `${unit}.d`), { recursive: true });
  await writeFile(dropIn(unit, name), text);
}

/** Source, before the freeze: nothing of the unit acts on the container until the move is settled. */
export async function holdUnit(unit: UnitRecord): Promise<void> {
  await writeDropIn(unit.name, HOLD, '# Ferry: a move of this container is under way (agent/systemd/control.ts)\n[Service]\nExecStop=\nExecStopPost=\nRestart=no\n');
  await systemctl(['daemon-reload']);
  if (unit.enabled) await systemctl(['disable', '--quiet', unit.name]);
}

/** The hold's drop-in gone (the unit is what its file says again). */
async function releaseHold(unit: UnitRecord): Promise<void> {
  await rm(dropIn(unit.name, HOLD), { force: true });
  await systemctl(['daemon-reload']);
}

/** Source, after a rollback: the unit runs the container again, enabled as it was. */
export async function restoreUnit(podman: Podman, unit: UnitRecord, containerId: string): Promise<string> {
  const state = (await unitProperties(unit.name, ['ActiveState'])).get('ActiveState');
  // Frozen and resumed without conmon exiting (the dump never ended): still the unit's service.
  const outcome = state === 'active' ? 'still its service' : await adopt(podman, unit, containerId);
  await releaseHold(unit);
  if (unit.enabled) await systemctl(['enable', '--quiet', unit.name]);
  return `${unit.name} ${outcome}${unit.enabled ? ', enabled' : ''}`;
}

/** Destination, after the commit: the unit installed, running the restored container, enabled as it was. */
export async function installUnit(podman: Podman, unit: UnitRecord, containerId: string): Promise<string> {
  if (!unit.content) throw new FerryError('INTERNAL', `no file for ${unit.name} to install`, { phase: 'commit' });
  const path = join(UNIT_DIR, unit.name);
  if ((await readFile(path, 'utf8').catch(() => undefined)) !== unit.content) {
    await writeFile(`${path}.ferry-new`, unit.content, { mode: 0o644 });
    await rename(`${path}.ferry-new`, path);
  }
  await systemctl(['daemon-reload']);
  const state = (await unitProperties(unit.name, ['ActiveState'])).get('ActiveState');
  const outcome = state === 'active' ? 'already its service' : await adopt(podman, unit, containerId);
  if (unit.enabled) await systemctl(['enable', '--quiet', unit.name]);
  return `installed ${unit.name}, ${outcome}${unit.enabled ? ', enabled' : ''}`;
}

/** Source, after the commit: the unit off and its file kept in `asideDir`. Returns where. */
export async function setUnitAside(unit: UnitRecord, asideDir: string, migrationId: string): Promise<string> {
  await systemctl(['disable', '--quiet', unit.name], { reject: false });
  await rm(dropIn(unit.name, HOLD), { force: true });
  const aside = join(asideDir, `${unit.name}.${migrationId}`);
  const path = join(UNIT_DIR, unit.name);
  await mkdir(asideDir, { recursive: true, mode: 0o700 });
  // Copied, then removed (the state directory may be another file system): moved already, a
  // commit done again finds no file.
  const content = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    return undefined;
  });
  if (content !== undefined) {
    await writeFile(aside, content, { mode: 0o600 });
    await rm(path);
  }
  await systemctl(['daemon-reload']);
  await systemctl(['reset-failed', unit.name], { reject: false });
  return aside;
}

/** The unit started around the running container: conmon becomes its main PID. */
async function adopt(podman: Podman, unit: UnitRecord, containerId: string): Promise<string> {
  const [pidFile, conmonPid] = (await podman.run(['container', 'inspect', '--format', '{{.ConmonPidFile}} {{.State.ConmonPid}}', containerId])).trim().split(' ');
  if (!pidFile || !conmonPid) throw new FerryError('INTERNAL', `podman gave no conmon PID file for ${containerId}`, { phase: 'commit' });
  if (unit.kind === 'new') {
    // Its ExecStop and ExecStopPost name the container by the ID in its --cidfile.
    const cidfile = /--cidfile=?(\S+)/.exec((await unitProperties(unit.name, ['ExecStart'])).get('ExecStart') ?? '')?.[1];
    if (cidfile) await writeFile(cidfile, containerId);
  }
  await writeDropIn(unit.name, ADOPT, `# Ferry: the container runs already; systemd takes it as this service (agent/systemd/control.ts)\n[Service]\nType=forking\nPIDFile=${pidFile}\nExecStartPre=\nExecStart=\nExecStart=/bin/true\n`);
  try {
    await systemctl(['daemon-reload']);
    await systemctl(['reset-failed', unit.name], { reject: false });
    await systemctl(['start', unit.name]);
    const mainPid = (await unitProperties(unit.name, ['MainPID'])).get('MainPID');
    if (mainPid !== conmonPid) {
      throw new FerryError('INTERNAL', `${unit.name} started with main PID ${mainPid}, not the container's conmon ${conmonPid}`, { phase: 'commit' });
    }
  } finally {
    await rm(dropIn(unit.name, ADOPT), { force: true });
    await systemctl(['daemon-reload']);
  }
  return `runs the container (main PID ${conmonPid}, its conmon)`;
}
