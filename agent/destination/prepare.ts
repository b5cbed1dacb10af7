// The destination's half of the preflight: whether this host can take the container (checks.ts),
// and if so the journal record that makes it expect the archive.
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, type ErrorCode } from '../../common/errors.ts';
import type { PrepareReceiveRequest__Output as PrepareReceiveRequest } from '../../proto/gen/ferry/v1/PrepareReceiveRequest.ts';
import { cpuinfoCheck } from '../criu/cpuinfo.ts';
import { bindMountPaths } from '../data/bind-mounts.ts';
import type { HostInfo } from '../podman/info.ts';
import { requireMigrationId, requireText } from '../validate.ts';
import { addressChecks } from '../address/preflight.ts';
import { serviceAddressOf } from '../../common/service-address.ts';
import { sshOf } from '../../common/dial.ts';
import { hostAddress } from '../../common/tcp.ts';
import { destinationChecks, IMAGE_WILL_BE_SENT, needsNewAddress, type PreflightCheck } from './checks.ts';
import type { HostContext } from '../context.ts';
import type { DestinationRecord } from '../journal.ts';
import { UNIT_KIND } from '../../common/wire.ts';
import { unitPlaceCheck } from '../systemd/unit.ts';
import { admit } from '../admission/admit.ts';
import { removeRuntimeLeftover } from '../podman/restore.ts';
import { specsOfRuntime } from '../admission/judge.ts';
import { describeCordon, type CordonState } from '../../common/cordon.ts';

export interface PrepareContext extends HostContext {
  info: HostInfo;
  cordon: CordonState;
}

/** The error code of a failed destination check; other checks fail as PREFLIGHT_FAILED. */
const CODE_BY_CHECK: Record<string, ErrorCode> = {
  cordon: 'HOST_CORDONED',
  disk: 'DISK_FULL',
  data: 'DEST_DATA_EXISTS',
  port: 'DEST_PORT_BUSY',
  name: 'DEST_NAME_TAKEN',
  criu: 'CRIU_UNAVAILABLE',
  busy: 'MIGRATION_BUSY',
  ip: 'DEST_IP_UNAVAILABLE',
  address: 'ADDRESS_TAKEN',
  subnet: 'ADDRESS_TAKEN',
  'systemd unit': 'SYSTEMD_UNIT_CONFLICT',
};

/** How long a prepared destination waits for the archive when the request says nothing. */
const DEFAULT_RECEIVE_TTL_MS = 10 * 60_000;

/** Checks that this host can take the container, then records the migration: from now on it expects the archive. */
export async function prepareReceive(ctx: PrepareContext, request: PrepareReceiveRequest): Promise<{ checks: PreflightCheck[]; needsImage: boolean }> {
  requireMigrationId(request.migrationId);
  requireText(request.sourceHost, 'source_host');
  const container = request.container;
  if (!container?.id || !container.name) throw new FerryError('BAD_REQUEST', 'container with id and name is required');
  const ttlMs = request.ttlMs > 0 ? Math.min(request.ttlMs, 60 * 60_000) : DEFAULT_RECEIVE_TTL_MS;

  // First: a container this host will not run is refused before anything else is looked at.
  await admit(ctx, { id: container.id, name: container.name, image: container.imageName, privileged: container.privileged, specs: specsOfRuntime(container.runtimeSpec) }, 'preflight');
  const dataPaths = request.ignoreBindMounts ? [] : bindMountPaths(container);
  for (const path of dataPaths) {
    if (!path.startsWith('/') || path.split('/').includes('..')) throw new FerryError('BAD_REQUEST', `bind-mount path "${path}" is not absolute and clean`);
  }
  const host = { name: ctx.host, podman: ctx.podman, info: ctx.info, active: ctx.journal.active() };
  const serviceAddress = serviceAddressOf(container.labels);
  const unit = container.unit && !container.unit.refusal ? container.unit : undefined;
  // Independent of each other, and each waits on processes (podman, criu): asked at once.
  const [destination, address, cpu, unitPlace] = await Promise.all([
    destinationChecks(host, container, dataPaths, request.replaceData, request.newAddress),
    addressChecks(serviceAddress, ctx.address, request.sourceHostAddress || hostAddress(request.sourceAddress)),
    request.sourceCpuinfo?.length ? cpuinfoCheck(request.sourceCpuinfo) : undefined,
    unit ? unitPlaceCheck(unit) : undefined,
  ]);
  const checks = [cordonCheck(ctx, request.allowCordoned), ...destination];
  // Only where this host cannot hold the container's IP: elsewhere --new-address changes nothing.
  const newAddress = needsNewAddress(checks);
  if (newAddress && serviceAddress) {
    // Refused rather than moved without its address: a service address exists so that clients
    // keep their connections, and those are carried by flows DNATed to the container's IP, which
    // a new IP breaks (and a host that cannot hold the IP is rarely on the address's subnet).
    checks.push({
      name: 'new-address',
      ok: false,
      detail: `${container.name} declares the service address ${serviceAddress} (io.ferry.service-address), whose clients keep their connections only with the container's IP; --new-address would close them. Move it to a host whose container network holds ${container.ipAddresses.join(', ')}, or remove the label`,
    });
  }
  checks.push(...address);
  if (cpu) checks.push({ name: 'cpu', ok: cpu.ok, detail: cpu.ok ? cpu.detail : `CPU of ${ctx.host} lacks features of ${request.sourceHost}'s: ${cpu.detail}` });
  if (unitPlace) checks.push(unitPlace);
  const fs = await statfs(ctx.archiveDir);
  const free = fs.bavail * fs.bsize;
  const needed = Math.max(0, request.archiveBytesEstimate ?? 0);
  checks.push({
    name: 'disk',
    ok: free > needed * 1.1,
    detail: `${Math.round(free / 1048576)} MiB free in ${ctx.archiveDir}${needed ? `, about ${Math.round(needed / 1048576)} MiB needed` : ''}`,
  });
  const needsImage = checks.some((c) => c.name === 'image' && c.detail.startsWith(IMAGE_WILL_BE_SENT));
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) {
    const code = CODE_BY_CHECK[failed[0]?.name ?? ''] ?? 'PREFLIGHT_FAILED';
    throw new FerryError(code, failed.map((c) => c.detail).join('; '), {
      phase: 'preflight',
      details: failed.map((c) => `${c.name}: ${c.detail}`),
    });
  }
  if (request.dryRun) return { checks, needsImage };
  // runc's state of this ID that a restore cut off here left (podman knows no such container,
  // the name check said): it would refuse the restore with "container with given ID already exists".
  if (await removeRuntimeLeftover(ctx.podman, container.id)) {
    checks.push({ name: 'leftovers', ok: true, detail: `removed runc's state of ${container.id.slice(0, 12)} that a cut-off restore had left here` });
  }
  await ctx.journal.create<DestinationRecord>({
    id: request.migrationId,
    role: 'destination',
    container: container.name,
    containerId: container.id,
    peer: request.sourceHost,
    evacuatedFrom: request.evacuatedFrom || undefined,
    peerAddress: request.sourceAddress || undefined,
    peerSsh: sshOf(request.sourceSsh),
    peerHostAddress: request.sourceHostAddress || undefined,
    serviceAddress,
    phase: 'preflight',
    archivePath: join(ctx.archiveDir, `${request.migrationId}.tar`),
    expiresAt: new Date(Date.now() + ttlMs).toISOString(),
    dataPaths,
    needsImage,
    newAddress: newAddress || undefined,
    unit: unit && { name: unit.name, kind: UNIT_KIND.fromWire(unit.kind) ?? 'other', enabled: unit.enabled, content: unit.content },
  });
  return { checks, needsImage };
}

/** First of the checks, so that its code is the refusal's: a cordoned host takes nothing unless forced. */
function cordonCheck(ctx: PrepareContext, force: boolean): PreflightCheck {
  if (!ctx.cordon.cordoned) return { name: 'cordon', ok: true, detail: `${ctx.host} is not cordoned` };
  if (force) return { name: 'cordon', ok: true, warning: true, detail: `${describeCordon(ctx.host, ctx.cordon)}: received anyway (--force)` };
  return { name: 'cordon', ok: false, detail: `${describeCordon(ctx.host, ctx.cordon)}: it takes no migration; uncordon it (ferry uncordon ${ctx.host}) or pass --force` };
}

export interface AbandonedContext extends HostContext {
  isBusy: (id: string) => boolean;
  /** Rolls the migration back here, busy while it does. */
  rollback: (id: string, reason: string) => Promise<unknown>;
}

/**
 * A receive of the same container that was prepared and never began (no stream came, nobody
 * works on it) was abandoned by its coordinator between preflight and checkpoint: the new
 * request replaces it rather than wait for its grant to expire. Should that coordinator go on
 * after all, its source finds the grant gone and resumes the container.
 */
export async function dropAbandoned(ctx: AbandonedContext, request: PrepareReceiveRequest): Promise<void> {
  const containerId = request.container?.id;
  if (!containerId) return;
  for (const old of ctx.journal.active()) {
    if (old.id === request.migrationId || old.role !== 'destination' || old.containerId !== containerId || old.phase !== 'preflight' || ctx.isBusy(old.id)) continue;
    await ctx.rollback(old.id, `replaced by migration ${request.migrationId} of the same container before any of it arrived`);
  }
}
