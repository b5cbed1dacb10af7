// The preflight of a migration: every check on both hosts (their CRIU, runtime and podman
// versions; the container and what in it CRIU could not move; its published ports; the
// destination's own checks, which make it expect the archive). Nothing is changed on either host
// until all have passed; a dry run stops after it.
import { fileLocksCheck, refusal } from '../../common/readiness.ts';
import { FerryError } from '../../common/errors.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { PrepareReceiveReply__Output } from '../../proto/gen/ferry/v1/PrepareReceiveReply.ts';
import type { PrepareReceiveRequest } from '../../proto/gen/ferry/v1/PrepareReceiveRequest.ts';
import type { MigrationDriver } from './driver.ts';
import { sshWire } from '../../common/dial.ts';
import { deadPorts } from './verify.ts';
import { versionsCheck } from '../versions.ts';

/** What a passed preflight found: the container as the source sees it, and the destination's word. */
export interface Checked {
  container: ContainerInfo;
  prepared: PrepareReceiveReply__Output;
}

export async function preflight(m: Pick<MigrationDriver, 'id' | 'options' | 'source' | 'destination' | 'emit' | 'enter' | 'move'>): Promise<Checked | undefined> {
  const { signal } = m.options;
  const from = m.source.host;
  const to = m.destination.host;
  m.enter('preflight', from.name, `checking ${m.options.container} on ${from.name} and room for it on ${to.name}`);
  // The hosts and the container are looked at together (each answer waits on podman or CRIU);
  // a failure of the hosts' checks is still the one reported when both fail.
  const [hosts, inspected] = await Promise.allSettled([bothHosts(m), m.source.inspect(m.options.container, { signal, examine: true })]);
  if (hosts.status === 'rejected') throw hosts.reason;
  const { sourceInfo, versions } = hosts.value;
  if (inspected.status === 'rejected') throw FerryError.from(inspected.reason).at('preflight', from.name);
  const container = inspected.value;
  if (container.state !== 'running') {
    throw new FerryError('CONTAINER_NOT_RUNNING', `container ${container.name} is ${container.state} on ${from.name}, not running`, {
      phase: 'preflight',
      host: from.name,
    });
  }
  // What CRIU could not dump or restore is found now, while the container runs, not by a freeze
  // that fails and rolls back.
  const obstacles = container.readiness?.obstacles ?? [];
  if (obstacles.length) throw refusal(container.name, obstacles, { phase: 'preflight', host: from.name });
  // A port that is dead before the move would fail verification after it, with the container
  // frozen for nothing: find out now.
  const dead = await deadPorts(from.address, container.ports);
  if (dead.length) {
    throw new FerryError('PREFLIGHT_FAILED', `published port ${dead.join(', ')} of ${container.name} does not answer on ${from.name} (${from.address})`, {
      phase: 'preflight',
      host: from.name,
      hint: 'Ferry verifies every published TCP port after the move; start the service inside the container, or check the inventory address of the host.',
    });
  }
  const prepared = await m.destination
    .prepareReceive(receiveRequest(m, container, sourceInfo.cpuinfo), { signal })
    .catch((e: unknown) => { throw FerryError.from(e).at('preflight', to.name); });
  m.emit({
    kind: 'checks',
    migrationId: m.id,
    host: from.name,
    checks: [
      versions,
      { name: 'criu', ok: true, detail: `criu ${sourceInfo.criuVersion} check passes on ${from.name}` },
      { name: 'runtime', ok: true, detail: `${sourceInfo.ociRuntime} on both hosts` },
      { name: 'container', ok: true, detail: `${container.name} (${container.id.slice(0, 12)}) runs on ${from.name}` },
      { name: 'ports', ok: true, detail: container.ports.length ? `published ports answer on ${from.address}` : 'no published ports' },
      { name: 'processes', ok: true, detail: 'nothing CRIU cannot move: no io_uring, outside Unix socket, host namespace or SysV memory, open device, inotify watch it cannot find, systemd mode, or lock on a mapped file' },
      fileLocksCheck(container.readiness?.fileLocks ?? []),
    ],
  });
  m.emit({ kind: 'checks', migrationId: m.id, host: to.name, checks: prepared.checks });
  if (m.options.dryRun) {
    m.emit({ kind: 'preflight-ok', migrationId: m.id, container: container.name, from: from.name, to: to.name });
    m.move('done');
    return undefined;
  }
  return { container, prepared };
}


/** Both agents answer, CRIU works on both, and they run the same OCI runtime. */
async function bothHosts(m: Pick<MigrationDriver, 'options' | 'source' | 'destination'>) {
  const { signal } = m.options;
  const from = m.source.host;
  const to = m.destination.host;
  const [sourceInfo, destinationInfo] = await Promise.all([
    m.source.info({ signal }).catch((e: unknown) => { throw FerryError.from(e).at('preflight', from.name); }),
    m.destination.info({ signal }).catch((e: unknown) => { throw FerryError.from(e).at('preflight', to.name); }),
  ]);
  for (const [info, host] of [[sourceInfo, from.name], [destinationInfo, to.name]] as const) {
    if (!info.criuCheckOk) {
      throw new FerryError('CRIU_UNAVAILABLE', `criu check fails on ${host}: ${info.criuCheckOutput}`, { phase: 'preflight', host });
    }
  }
  const versions = versionsCheck(from.name, sourceInfo, to.name, destinationInfo);
  if (sourceInfo.ociRuntime !== destinationInfo.ociRuntime) {
    throw new FerryError('PREFLIGHT_FAILED', `OCI runtimes differ: ${from.name} uses ${sourceInfo.ociRuntime}, ${to.name} uses ${destinationInfo.ociRuntime}`, {
      phase: 'preflight',
      hint: 'Run both agents with the same --runtime (runc on these machines).',
    });
  }
  return { sourceInfo, versions };
}

/** What the destination is asked to check and, unless this is a dry run, to expect. */
function receiveRequest(m: Pick<MigrationDriver, 'id' | 'options' | 'source'>, container: ContainerInfo, sourceCpuinfo: Buffer): PrepareReceiveRequest {
  const from = m.source.host;
  return {
    migrationId: m.id,
    sourceHost: from.name,
    container,
    ttlMs: 30 * 60_000,
    replaceData: m.options.replaceData ?? false,
    ignoreBindMounts: m.options.ignoreBindMounts ?? false,
    sourceCpuinfo,
    sourceAddress: from.agent,
    sourceSsh: from.ssh ? sshWire(from.ssh) : null,
    sourceHostAddress: from.address,
    archiveBytesEstimate: Number(container.estimatedBytes),
    dryRun: m.options.dryRun ?? false,
    newAddress: m.options.newAddress ?? false,
    allowCordoned: m.options.force ?? false,
    evacuatedFrom: m.options.evacuatedFrom ?? '',
  };
}
