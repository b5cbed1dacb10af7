// Bringing the container back on the source after a failed or cut-off migration, and proving it:
// "podman says running" is not enough. A dump cut off half-way (CRIU killed with the agent's
// process group) leaves the processes alive behind CRIU's network lock, so the container is
// repaired where it runs; one whose processes are gone is restored from the kept checkpoint.
// Either way it counts as resumed only once its published TCP ports answer on this host again.
import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../../common/errors.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { PortMapping__Output as PortMapping } from '../../proto/gen/ferry/v1/PortMapping.ts';
import { reachedOn, silentTcpPorts } from '../../common/tcp.ts';
import { removeNetworkLock, thawCgroup } from '../criu/leftovers.ts';
import type { SourceRecord } from '../journal.ts';
import type { Logger } from '../log.ts';
import { restoreImport, restoreInPlace } from '../podman/restore.ts';
import { putPagesBack } from './pages.ts';
import { findContainer } from '../podman/inspect.ts';
import type { Podman } from '../podman/podman.ts';

/** How long a resumed container's ports get to answer: a restored process may take a moment. */
const ANSWER_WITHIN_MS = 15_000;
/** How long podman's clean-up gets to remove a --rm container after its checkpoint. */
const REMOVAL_WAIT_MS = 10_000;

export interface ResumeContext {
  podman: Podman;
  /** This agent's host name, for messages. */
  host: string;
  /** Where this host's published ports are reached: the agent's own address. */
  address: string;
  log: Logger;
}

/** Resumes the migration's container here; resolves with what was done, once it answers. */
export async function resumeOnSource(ctx: ResumeContext, record: SourceRecord): Promise<string> {
  const { podman } = ctx;
  const current = record.autoRemove ? await removedByPodman(podman, record.containerId) : await findContainer(podman, record.containerId);
  if (!current) {
    if (!record.autoRemove || !(await exists(record.archivePath))) {
      throw new FerryError('ROLLBACK_FAILED', `container ${record.container} no longer exists on ${ctx.host}`, { phase: 'rollback', host: ctx.host });
    }
    // Run with --rm, it went with its checkpoint once podman exported it: the archive kept
    // here (pages and all, see checkpoint-and-send.ts) brings it back, from this host's disk.
    const { container, stats } = await restoreImport(podman, { archivePath: record.archivePath, name: record.container, fileLocks: record.fileLocks }, { errorCode: 'ROLLBACK_FAILED' });
    const runc = stats.runtimeMs !== undefined ? `, runc ${stats.runtimeMs} ms` : '';
    return answering(ctx, record, container.ports, `restored the container on the source from the archive it kept (run with --rm, podman removed it after the checkpoint; podman ${stats.podmanMs} ms${runc})`);
  }
  let outcome: string;
  if (current.state === 'running' || current.state === 'paused') {
    // Still running (the dump never finished): whatever was asked of CRIU's script goes.
    if (record.pagesDir) await putPagesBack(record.pagesDir).catch(() => []);
    const repaired = await repairInPlace(ctx, record.containerId, current.cgroupPath);
    if (current.state === 'paused') await podman.run(['unpause', record.containerId], { errorCode: 'ROLLBACK_FAILED' });
    outcome = repaired.length
      ? `container kept running on the source; removed what the cut-off checkpoint left: ${repaired.join(', ')}`
      : 'container still running on the source';
    if (repaired.length) ctx.log.warn({ migrationId: record.id, repaired }, 'removed what a cut-off checkpoint left in the container');
  } else {
    // From the checkpoint on this host's disk: a rollback needs nothing back from the network.
    // The pages Ferry's CRIU script moved out of it go back first.
    if (record.pagesDir) {
      const back = await putPagesBack(record.pagesDir);
      if (back.length) ctx.log.info({ migrationId: record.id, pages: back }, 'moved the pages back into the checkpoint');
    }
    const stats = await restoreInPlace(podman, record.containerId, { fileLocks: record.fileLocks });
    const runc = stats.runtimeMs !== undefined ? `, runc ${stats.runtimeMs} ms` : '';
    outcome = `restored the container on the source from its local checkpoint (podman ${stats.podmanMs} ms${runc})`;
  }
  return answering(ctx, record, current.ports, outcome);
}

/**
 * A container run with --rm, once its checkpoint is over: podman's clean-up (conmon's exit
 * command, which waits for the checkpoint to let go of the container) removes it. Waits for that
 * rather than restore it in place under the clean-up's feet. Still there after a while: podman
 * kept it (a checkpoint that failed), and it is resumed in place.
 */
async function removedByPodman(podman: Podman, id: string): Promise<ContainerInfo | undefined> {
  const until = performance.now() + REMOVAL_WAIT_MS;
  for (;;) {
    const current = await findContainer(podman, id);
    if (!current || current.state === 'running' || current.state === 'paused' || performance.now() > until) return current;
    await sleep(200);
  }
}

/** The outcome, once the container's published ports answer on this host; NOT_ANSWERING otherwise. */
async function answering(ctx: ResumeContext, record: SourceRecord, ports: PortMapping[], outcome: string): Promise<string> {
  // A port bound to one address of this host is reached there; the others at the agent's address.
  const dead = await silentTcpPorts(ports, reachedOn(ctx.address), ANSWER_WITHIN_MS);
  if (dead.length) {
    ctx.log.error({ migrationId: record.id, container: record.container, dead }, 'the container runs on the source but does not answer');
    throw new FerryError('NOT_ANSWERING', `${record.container} runs on ${ctx.host} but its published ports do not answer: ${dead.join(', ')}`, {
      phase: 'rollback',
      host: ctx.host,
      details: [`what was done: ${outcome}`],
    });
  }
  return outcome;
}

/** CRIU's network lock and a frozen cgroup, removed from a container whose processes still run. */
async function repairInPlace(ctx: ResumeContext, containerId: string, cgroupPath: string): Promise<string[]> {
  const repaired: string[] = [];
  if (cgroupPath && (await thawCgroup(cgroupPath))) repaired.push('a frozen cgroup');
  const pid = Number((await ctx.podman.run(['inspect', '--format', '{{.State.Pid}}', containerId])).trim());
  if (Number.isSafeInteger(pid) && pid > 0) repaired.push(...(await removeNetworkLock(pid)));
  return repaired;
}

const exists = (path: string) => access(path).then(() => true, () => false);
