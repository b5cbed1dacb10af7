// checkpoint, transfer and restore, overlapped: one call to the source, which freezes and streams
// to the destination; as it starts to freeze, the restore is asked of the destination, which
// imports the archive as it arrives. Either failing stops the other, and the caller rolls back.
import { DEFAULTS } from '../../common/defaults.ts';
import { FerryError } from '../../common/errors.ts';
import { sshWire } from '../../common/dial.ts';
import { COMPRESSION } from '../../common/wire.ts';
import type { ContainerInfo__Output as ContainerInfo } from '../../proto/gen/ferry/v1/ContainerInfo.ts';
import type { PrepareReceiveReply__Output } from '../../proto/gen/ferry/v1/PrepareReceiveReply.ts';
import type { RestoreReply__Output } from '../../proto/gen/ferry/v1/RestoreReply.ts';
import type { CheckpointAndSendRequest } from '../../proto/gen/ferry/v1/CheckpointAndSendRequest.ts';
import { throwIfCancelled, type MigrationDriver } from './driver.ts';
import { whileUnreachable } from './retry.ts';
import { translateSourceEvent, type Moved } from './source-events.ts';
import { firstAnswer } from './verify.ts';

/** What the source's events tell of the move before the restore's answer. */
type Measured = Omit<Moved, 'restored' | 'answered'>;

/**
 * The three stops of the overlap, each its own signal: the source's call, the destination's
 * restore, and the watch for the first answer. A failure anywhere aborts all three.
 */
class Stops {
  readonly source = new AbortController();
  readonly restore = new AbortController();
  readonly watch = new AbortController();

  all(): void {
    this.watch.abort();
    this.source.abort();
    this.restore.abort();
  }
}

export async function moveAndRestore(m: MigrationDriver, container: ContainerInfo, prepared: PrepareReceiveReply__Output): Promise<Moved> {
  const from = m.source.host;
  const to = m.destination.host;
  m.enter('checkpoint', from.name, `freezing ${container.name} (${container.id.slice(0, 12)}) with --tcp-established`);
  const stops = new Stops();
  const sourceSignal = m.options.signal ? AbortSignal.any([m.options.signal, stops.source.signal]) : stops.source.signal;
  const moved: Measured = {
    container,
    checkpointMs: 0,
    archiveBytes: 0,
    pagesBytes: 0,
    transferMs: 0,
    frozenMs: 0,
    runtimeCheckpointMs: 0,
    dataBytesLive: 0,
    dataBytesFrozen: 0,
    imageBytes: 0,
    freezeAt: performance.now(),
  };
  /** performance.now() when the archive began to stream (the freeze), for the rate. */
  let streamingSince = performance.now();
  let restoring: Promise<RestoreReply__Output> | undefined;
  /** Why the destination's side failed for good: the error to report, before the source's. */
  let restoreFailure: FerryError | undefined;
  let answered: Promise<number | undefined> = Promise.resolve(undefined);
  try {
    const events = m.source.checkpointAndSend(sendRequest(m, container, prepared), { signal: sourceSignal });
    for await (const event of events) {
      if (event.freezing) {
        streamingSince = performance.now();
        restoring = restoreWhileReachable(m, event.freezing.validation, event.freezing.fileLocks, stops.restore.signal);
        restoring.catch((error: unknown) => {
          // A restore that failed for good stops the source: it rolls back at once. An agent
          // out of reach is the source's business while it sends (it resumes, or gives up).
          const failure = FerryError.from(error).at('restore', to.name);
          // Stopped (by us, or by the source's own rollback when it failed first): the source's
          // error is the one to report, and it follows.
          if (failure.code === 'AGENT_UNREACHABLE' || failure.code === 'CANCELLED' || stops.restore.signal.aborted) return;
          restoreFailure = failure;
          stops.source.abort(restoreFailure);
        });
      } else if (event.addressReleased) {
        // The destination takes the service address and its flows before it restores (its
        // restore waits for them); failing that, the migration stops and rolls back.
        const { address, flows } = event.addressReleased;
        m.emit({ kind: 'address-moved', migrationId: m.id, address, flows: flows.length, host: to.name });
        await m.destination.takeAddress({ migrationId: m.id, address, flows }, { signal: sourceSignal }).catch((error: unknown) => {
          const failure = FerryError.from(error).at('restore', to.name);
          restoreFailure ??= failure;
          throw failure;
        });
      } else if (event.transferred && restoring) {
        translateSourceEvent(m, event, moved, streamingSince);
        // The whole archive is there: from now on the destination may hold a running copy. It
        // cannot answer before; from now on, off the critical path, watch for its first answer.
        m.enter('restore', to.name, `restoring ${container.name} on ${to.name}`);
        answered = firstAnswer(to.address, container.ports, stops.watch.signal);
      } else {
        translateSourceEvent(m, event, moved, streamingSince);
      }
    }
    throwIfCancelled(m);
    if (!restoring || m.phase !== 'restore') throw new FerryError('INTERNAL', `${from.name} finished without freezing the container and sending its archive`, { phase: 'checkpoint' });
    const restored = await restoring;
    sayRestored(m, container, restored);
    return { ...moved, restored, answered };
  } catch (error) {
    // The destination's restore waits for an archive that may not come: stop it; the rollback
    // that follows removes whatever it made.
    stops.all();
    await restoring?.catch(() => undefined);
    throw restoreFailure ?? error;
  }
}

/** What the source is asked to do: freeze the container and send it, as the options say. */
function sendRequest(m: MigrationDriver, container: ContainerInfo, prepared: PrepareReceiveReply__Output): CheckpointAndSendRequest {
  const to = m.destination.host;
  return {
    migrationId: m.id,
    container: container.id,
    destinationHost: to.name,
    destinationAddress: to.agent,
    destinationSsh: to.ssh ? sshWire(to.ssh) : null,
    compress: COMPRESSION.toWire(m.options.compress ?? 'auto'),
    timeoutMs: m.options.checkpointTimeoutMs ?? DEFAULTS.checkpointTimeoutMs,
    sendImage: prepared.needsImage,
    ignoreBindMounts: m.options.ignoreBindMounts ?? false,
    noPresync: m.options.noPresync ?? false,
    transferRetryMs: m.options.transferRetryMs ?? 0,
    bwlimitBytesPerSec: m.options.bwlimitBytesPerSec ?? 0,
  };
}

/**
 * The destination's restore, asked while the source freezes. An agent that cannot be reached
 * (it restarts, the link is down) is asked again until it has been out of reach for the
 * transfer's retry budget; any other failure is final.
 */
function restoreWhileReachable(m: MigrationDriver, validation: string, fileLocks: boolean, stop: AbortSignal): Promise<RestoreReply__Output> {
  const signal = m.options.signal ? AbortSignal.any([m.options.signal, stop]) : stop;
  const timeoutMs = m.options.restoreTimeoutMs ?? DEFAULTS.restoreTimeoutMs;
  const budgetMs = m.options.transferRetryMs || DEFAULTS.transferRetryMs;
  return whileUnreachable(() => m.destination.restore(m.id, validation, timeoutMs, { signal, fileLocks }), { retries: Number.POSITIVE_INFINITY, budgetMs, signal });
}

function sayRestored(m: MigrationDriver, container: ContainerInfo, restored: RestoreReply__Output): void {
  const to = m.destination.host.name;
  m.emit({
    kind: 'restored',
    migrationId: m.id,
    host: to,
    restoreMs: Number(restored.restoreMs),
    runtimeMs: Number(restored.runtimeMs),
    streamed: restored.streamed,
    fallback: restored.fallback,
    relayedBytes: Number(restored.relayedBytes),
    ipAddresses: restored.container?.ipAddresses ?? [],
    newAddress: restored.newAddress,
  });
  if (!restored.newAddress) return;
  const ips = restored.container?.ipAddresses.join(', ') || 'none';
  const message = `${container.name} has a new IP on ${to}, ${ips} (it had ${container.ipAddresses.join(', ') || 'none'} on ${m.source.host.name}): its established TCP connections were closed`;
  m.emit({ kind: 'warning', migrationId: m.id, error: new FerryError('CONNECTIONS_CLOSED', message, { phase: 'restore', host: to }) });
}
