// Turns migration events into what a person reads, or into JSON lines for scripts.
import type { FerryError } from '../common/errors.ts';
import type { EvacuationEvent, EvacuationResult, MigrationEvent } from './events.ts';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : 'n/a';
}

export function formatError(error: FerryError): string {
  const lines = [`error ${error.code}: ${error.describe()}`];
  for (const detail of error.details) lines.push(`  | ${detail}`);
  lines.push(`  hint: ${error.hint}`);
  return lines.join('\n');
}

const pad = (phase: string) => phase.padEnd(10);

/** Text for one event, or undefined for events that only update the progress line. */
export function formatEvent(event: MigrationEvent): string | undefined {
  switch (event.kind) {
    case 'checks':
      return event.checks.map((c) => `${pad('preflight')} ${event.host}: ${c.ok ? (c.warning ? 'WARN' : 'ok  ') : 'FAIL'} ${c.name}: ${c.detail}`).join('\n');
    case 'preflight-ok':
      return `${pad('preflight')} every check passed: ${event.container} can move from ${event.from} to ${event.to} (dry run: nothing was changed)`;
    case 'phase':
      return `${pad(event.phase)} ${event.message}`;
    case 'dumped':
      return `${pad('checkpoint')} CRIU's dump is done after ${formatMs(event.ms)}; the archive streams as podman writes it`;
    case 'checkpointed':
      return `${pad('checkpoint')} podman's checkpoint done in ${formatMs(event.checkpointMs)} (runc ${formatMs(event.runtimeMs)}, frozen ${formatMs(event.frozenMs)}), archive ${formatBytes(event.archiveBytes)}`;
    case 'progress':
      return formatProgress(event);
    case 'retrying':
      return event.resumeFrom
        ? `${pad('transfer')} resuming the ${event.stream} transfer at ${formatBytes(event.resumeFrom)} (attempt ${event.attempt})`
        : `${pad('transfer')} ${event.stream} transfer attempt ${event.attempt} failed: ${event.error}; retrying`;
    case 'image-sent':
      return `${pad('transfer')} image ${event.image} sent: ${formatBytes(event.bytes)} in ${formatMs(event.ms)}`;
    case 'data-synced':
      return event.round === 0
        ? `${pad('transfer')} data ${event.paths.join(', ')}: ${event.entries} entries, ${formatBytes(event.bytes)} in ${formatMs(event.ms)} while the container runs`
        : `${pad('transfer')} data after the freeze: ${event.entries} changed entries (${formatBytes(event.bytes)}), ${event.removed} removed, in ${formatMs(event.ms)}`;
    case 'compression':
      return `${pad('checkpoint')} --compress auto chose ${event.compression}: ${event.reason}`;
    case 'address-moved':
      return `${pad('restore')} service address ${event.address} moved to ${event.host} with ${event.flows} established connection${event.flows === 1 ? '' : 's'}`;
    case 'transferred':
      return `${pad('transfer')} ${formatBytes(event.bytes)} in ${formatMs(event.transferMs)} (${formatRate(event.bytes, event.transferMs)}), sha256 ${event.sha256.slice(0, 16)}… verified`;
    case 'restored':
      return (event.streamed
        ? `${pad('restore')} done on ${event.host} ${formatMs(event.restoreMs)} after the last byte (runc ${formatMs(event.runtimeMs)}); podman imported the archive while it arrived` +
            (event.relayedBytes ? `, ${formatBytes(event.relayedBytes)} of it fed from memory` : '')
        : `${pad('restore')} done in ${formatMs(event.restoreMs)} on ${event.host} (runc ${formatMs(event.runtimeMs)})${event.fallback ? `; imported the whole archive: ${event.fallback}` : ''}`) +
        (event.newAddress ? `; new IP ${event.ipAddresses.join(', ') || 'none'}` : '');
    case 'verified': {
      const ports = event.ports.map((p) => `${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ') || 'no published ports';
      return `${pad('verify')} ${ports} answer on ${event.address}`;
    }
    case 'rollback':
      return `${pad('rollback')} ${event.host}: ${event.ok ? '' : 'FAILED: '}${event.outcome}`;
    case 'warning':
      return `warning    ${formatError(event.error)}`;
    case 'done': {
      const s = event.summary;
      return [
        `${pad('done')} ${s.container} moved from ${s.from} to ${s.to}`,
        `  service gone ${formatMs(s.downtimeMs)} (CRIU's freeze to the first answer on ${s.to}; runc's checkpoint + restore alone: ${formatMs(s.floorMs)})`,
        `  checkpoint ${formatMs(s.checkpointMs)} | archive ${formatBytes(s.archiveBytes)} streamed in ${formatMs(s.transferMs)} (${formatRate(s.archiveBytes, s.transferMs)})` +
          ` | restore ${formatMs(s.restoreMs)} after the last byte${s.streamedRestore ? '' : ' (whole-file import)'} | verify ${formatMs(s.verifyMs)} | total ${formatMs(s.totalMs)}`,
        ...(s.dataBytesLive || s.dataBytesFrozen
          ? [`  data ${formatBytes(s.dataBytesLive)} sent while running, ${formatBytes(s.dataBytesFrozen)} after the freeze`]
          : []),
        ...(s.imageBytes ? [`  image ${formatBytes(s.imageBytes)} sent`] : []),
        ...(s.newAddress
          ? [`  new address: ${s.ipAddresses.join(', ') || 'none'} on ${s.to} (was ${s.sourceIpAddresses.join(', ') || 'none'} on ${s.from}); its established TCP connections were closed`]
          : []),
        ...(s.leftToClean ?? []).map((left) => `  left to clean up: ${left}`),
      ].join('\n');
    }
    case 'failed':
      return `${pad('failed')} ${outcome(event.error, event.rolledBack)}\n${formatError(event.error)}`;
  }
}

/** The archive's transfer: bytes, share, rate and time left (a line of its own, or the live one on a terminal). */
export function formatProgress(event: Extract<MigrationEvent, { kind: 'progress' }>): string {
  const rate = event.bytesPerSecond > 0 ? `, ${formatBytes(event.bytesPerSecond)}/s` : '';
  const left = event.etaMs > 0 ? `, ${event.estimated ? 'about ' : ''}${formatMs(event.etaMs)} left` : '';
  return event.totalBytes > 0
    ? `${pad('transfer')} ${formatBytes(event.bytes)} of ${formatBytes(event.totalBytes)} (${Math.floor((100 * event.bytes) / event.totalBytes)}%)${rate}${left}`
    : `${pad('transfer')} ${formatBytes(event.bytes)} received by the destination${rate}${left}`;
}

/** JSON line for one event: plain data, errors as {code, message, phase, host, hint, details}. */
export function eventJson(event: MigrationEvent, extra: Record<string, unknown> = {}): string {
  const { kind, ...rest } = event;
  return JSON.stringify({ event: kind, time: new Date().toISOString(), ...extra, ...rest });
}

/** Each line of a migration's text with its container's name first: an evacuation moves several at once. */
export function tagged(container: string, text: string): string {
  return text
    .split('\n')
    .map((line) => `[${container}] ${line}`)
    .join('\n');
}

/** Text for one event of an evacuation, or undefined for those only the live lines show. */
export function formatEvacuationEvent(event: EvacuationEvent): string | undefined {
  switch (event.kind) {
    case 'evacuation': {
      const verb = event.action ?? 'evacuate';
      const unasked = (event.unasked ?? []).map((u) => `\n${pad(verb)} ${u.host} could not be asked what it holds of ${event.host}'s: ${u.error}`).join('');
      if (!event.containers.length) {
        return `${pad(verb)} ${event.host}: ${verb === 'return' ? 'no container evacuated from it runs elsewhere' : 'it runs no container'}: nothing to move${unasked}`;
      }
      const bytes = event.containers.reduce((sum, c) => sum + c.estimatedBytes, 0);
      const destinations = event.destinations.map((d) =>
        d.unreachable !== undefined
          ? `${d.host} (not answering, left out: ${d.unreachable})`
          : d.cordoned !== undefined
            ? `${d.host} (cordoned ${d.cordoned}, left out)`
            : `${d.host} (${d.freeMemoryBytes > 0 ? `${formatBytes(d.freeMemoryBytes)} memory, ` : ''}${formatBytes(d.freeDiskBytes)} disk free)`,
      );
      const count = event.containers.length;
      const pace = event.parallel === 1 ? 'one at a time' : `up to ${event.parallel} at a time`;
      if (verb === 'return') {
        const sources = [...new Set(event.containers.map((c) => c.from ?? ''))].map((h) => `${h} (${event.containers.filter((c) => c.from === h).length})`);
        return `${pad(verb)} ${event.host}: ${count} container${count === 1 ? '' : 's'} evacuated from it (about ${formatBytes(bytes)}), on ${sources.join(', ')}, ${pace}, to ${destinations.join(', ')}${unasked}`;
      }
      return `${pad(verb)} ${event.host}: ${count} running container${count === 1 ? '' : 's'} (about ${formatBytes(bytes)}), ${pace}, to ${destinations.join(', ')}${unasked}`;
    }
    case 'placed':
      return tagged(event.container, `${pad('placed')} on ${event.host}: the most room left (${formatBytes(Math.max(0, event.roomBytes))} of free memory and disk; about ${formatBytes(event.estimatedBytes)} needed)`);
    case 'refused':
      return tagged(
        event.container,
        `${pad('refused')} by ${event.host} at preflight, nothing changed: ${event.error.code}: ${event.error.message}; ${event.next ? `trying ${event.next}` : 'no other destination left'}`,
      );
    case 'migration': {
      const text = formatEvent(event.event);
      return text === undefined ? undefined : tagged(event.container, text);
    }
    case 'evacuation-progress':
      return formatEvacuationStatus(event);
    case 'evacuated':
      return formatEvacuated(event);
  }
}

/** "N of M done, which are in flight": the evacuation's live line, or a plain line when that changes. */
export function formatEvacuationStatus(event: Extract<EvacuationEvent, { kind: 'evacuation-progress' }>): string {
  const done = event.moved + event.failed;
  const flying = event.inFlight.map((f) => {
    const share = f.totalBytes > 0 ? ` ${Math.floor((100 * f.bytes) / f.totalBytes)}%` : f.bytes > 0 ? ` ${formatBytes(f.bytes)}` : '';
    return `${f.container} -> ${f.to} ${f.phase}${f.phase === 'transfer' ? share : ''}`;
  });
  return `${pad(event.action ?? 'evacuate')} ${event.host}: ${done} of ${event.total} done${event.failed ? ` (${event.failed} failed)` : ''}; ${flying.length ? `in flight: ${flying.join(', ')}` : 'none in flight'}`;
}

function resultText(r: EvacuationResult, evacuated: string): string {
  const source = r.from ?? evacuated;
  const refused = r.refusedBy.length ? ` (refused by ${r.refusedBy.join(', ')})` : '';
  switch (r.result) {
    case 'moved':
      return `moved${refused}`;
    case 'checked':
      return `preflight passed (dry run)${refused}`;
    case 'failed':
      return `failed: ${r.error?.code ?? 'INTERNAL'}, runs on ${source}`;
    case 'rollback-failed':
      return `ROLLBACK FAILED: ${r.error?.code ?? 'INTERNAL'}; read its lines above`;
    case 'not-started':
      return `not started (interrupted), runs on ${source}`;
    case 'skipped':
      return `skipped: ${r.reason ?? ''}`;
  }
}

/** The table that ends an evacuation, then one line that counts. */
export function formatEvacuated(event: Extract<EvacuationEvent, { kind: 'evacuated' }>): string {
  const returning = event.action === 'return';
  const rows = [
    returning ? ['container', 'from', 'result', 'downtime'] : ['container', 'destination', 'result', 'downtime'],
    ...event.results.map((r) => [r.container, (returning ? r.from : r.to) || '-', resultText(r, event.host), r.downtimeMs === undefined ? '-' : formatMs(r.downtimeMs)]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const table = event.results.length ? rows.map((row) => row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ').trimEnd()) : [];
  const verb = event.results.some((r) => r.result === 'checked') ? 'passed the preflight' : returning ? 'moved back' : 'moved';
  const line =
    `${pad(event.action ?? 'evacuate')} ${event.host}: ${event.moved} of ${event.total} ${returning ? 'containers' : 'running containers'} ${verb}` +
    (event.failed ? `, ${event.failed} failed and stayed` : '') +
    (event.notStarted ? `, ${event.notStarted} not started (interrupted)` : '') +
    (event.skipped ? `, ${event.skipped} skipped` : '');
  return [...table, line].join('\n');
}

/** JSON line for one event of an evacuation; a migration's events as in `migrate --json`, with their container. */
export function evacuationEventJson(event: EvacuationEvent): string {
  if (event.kind === 'migration') return eventJson(event.event, { container: event.container });
  const { kind, ...rest } = event;
  return JSON.stringify({ event: kind, time: new Date().toISOString(), ...rest });
}

function outcome(error: FerryError, rolledBack: boolean): string {
  if (error.code === 'NOT_ANSWERING') return 'ROLLBACK INCOMPLETE: the container runs on the source but does not answer there';
  if (!rolledBack) return 'ROLLBACK INCOMPLETE: read the error and the rollback lines above';
  return error.phase === 'preflight' ? 'nothing was changed' : 'rolled back: the container runs on the source';
}
