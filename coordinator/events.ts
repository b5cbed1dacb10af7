// What a migration tells the person (or script) watching it. The CLI renders these, one
// formatter per kind, as text or as JSON lines; nothing else in the coordinator prints.
import type { FerryError } from '../common/errors.ts';
import type { Phase } from '../common/phases.ts';

export interface PortView {
  hostPort: number;
  containerPort: number;
  protocol: string;
}

export interface MigrationSummary {
  migrationId: string;
  container: string;
  from: string;
  to: string;
  checkpointMs: number;
  archiveBytes: number;
  transferMs: number;
  restoreMs: number;
  verifyMs: number;
  totalMs: number;
  /** From CRIU's freeze on the source to the first answer on the destination's ports. */
  downtimeMs: number;
  /** How long CRIU kept the processes frozen on the source, as it said. */
  frozenMs: number;
  /** runc's own checkpoint and restore (podman --print-stats): their sum is the floor of a move. */
  runtimeCheckpointMs: number;
  runtimeRestoreMs: number;
  floorMs: number;
  /** Whether podman imported the archive while it arrived (false: the whole file, after it). */
  streamedRestore: boolean;
  /** Of the archive, what podman took from the stream's memory instead of reading it back from the destination's file. */
  relayedBytes: number;
  /** Of archiveBytes, the memory pages that went beside podman's archive on a stream of their own (docs/pages.md). */
  pagesBytes: number;
  /** Bind-mounted data: bytes sent while the container ran, and after the freeze. */
  dataBytesLive: number;
  dataBytesFrozen: number;
  imageBytes: number;
  /** Restored with a new IP (--new-address): its established TCP connections were closed. */
  newAddress: boolean;
  /** The container's IPs on the destination, and on the source before the move. */
  ipAddresses: string[];
  sourceIpAddresses: string[];
  /**
   * Past the destination's commit nothing rolls back: what the move could not finish, to be
   * cleaned up by hand (a source copy that could not be removed, ...). Empty when nothing is left.
   */
  leftToClean: string[];
}

export interface CheckView {
  name: string;
  ok: boolean;
  detail: string;
  /** Passes, but changes what the user gets (a new IP with --new-address). */
  warning?: boolean | undefined;
}

export type MigrationEvent =
  | { kind: 'checks'; migrationId: string; host: string; checks: CheckView[] }
  | { kind: 'preflight-ok'; migrationId: string; container: string; from: string; to: string }
  | { kind: 'phase'; migrationId: string; phase: Phase; host: string; message: string }
  | { kind: 'dumped'; migrationId: string; host: string; ms: number }
  | { kind: 'checkpointed'; migrationId: string; host: string; checkpointMs: number; archiveBytes: number; frozenMs: number; runtimeMs: number }
  /**
   * The archive's bytes the destination has acknowledged; totalBytes -1 while podman still writes
   * it, when the rate and the time left go by the container's estimated size (`estimated`).
   */
  | { kind: 'progress'; migrationId: string; bytes: number; totalBytes: number; bytesPerSecond: number; etaMs: number; estimated: boolean }
  | { kind: 'retrying'; migrationId: string; stream: string; attempt: number; error: string; resumeFrom: number }
  | { kind: 'image-sent'; migrationId: string; image: string; bytes: number; ms: number }
  | { kind: 'data-synced'; migrationId: string; round: number; bytes: number; entries: number; removed: number; ms: number; paths: string[] }
  | { kind: 'compression'; migrationId: string; host: string; compression: string; reason: string }
  | { kind: 'address-moved'; migrationId: string; address: string; flows: number; host: string }
  | { kind: 'transferred'; migrationId: string; bytes: number; transferMs: number; sha256: string }
  | { kind: 'restored'; migrationId: string; host: string; restoreMs: number; runtimeMs: number; streamed: boolean; fallback: string; relayedBytes: number; ipAddresses: string[]; newAddress: boolean }
  | { kind: 'verified'; migrationId: string; host: string; address: string; ports: PortView[] }
  | { kind: 'rollback'; migrationId: string; host: string; outcome: string; ok: boolean }
  | { kind: 'warning'; migrationId: string; error: FerryError }
  | { kind: 'done'; summary: MigrationSummary }
  | { kind: 'failed'; migrationId: string; error: FerryError; rolledBack: boolean };

export type Emit = (event: MigrationEvent) => void;

/** A destination of an evacuation as the evacuation saw it at the start. */
export interface DestinationView {
  host: string;
  freeMemoryBytes: number;
  freeDiskBytes: number;
  /** Why the evacuation could not ask it (it takes no container then). */
  unreachable?: string | undefined;
  /** Cordoned (ferry cordon): placement leaves it out; what it says of itself. */
  cordoned?: string | undefined;
}

/** A container under way in an evacuation: where it goes, its phase, and what of its archive arrived. */
export interface InFlightView {
  container: string;
  to: string;
  phase: Phase;
  bytes: number;
  totalBytes: number;
}

/** How one container of an evacuation ended. */
export interface EvacuationResult {
  container: string;
  /** Where it went, or was last tried; empty when it never started. */
  to: string;
  /** Where it runs before the move: the evacuated host, or for ferry return the host it was evacuated to. */
  from?: string | undefined;
  /**
   * moved; checked (--dry-run: its preflight passed there); failed (it runs on the source);
   * rollback-failed (read the error); not-started (Ctrl-C came first); skipped (ferry return: it
   * moved on or is gone, `reason` says which).
   */
  result: 'moved' | 'checked' | 'failed' | 'rollback-failed' | 'not-started' | 'skipped';
  reason?: string | undefined;
  downtimeMs?: number | undefined;
  /** Destinations that refused it at preflight before it went (or failed) elsewhere. */
  refusedBy: string[];
  error?: FerryError | undefined;
}

/**
 * What an evacuation tells whoever watches it: its own steps, and each container's migration
 * events, tagged with the container (`migration`).
 */
/** evacuate empties `host`; return brings back to `host` what an evacuation took from it. Absent: evacuate. */
export type BatchAction = 'evacuate' | 'return';

export type EvacuationEvent =
  | {
      kind: 'evacuation';
      action?: BatchAction | undefined;
      host: string;
      destinations: DestinationView[];
      parallel: number;
      containers: Array<{ name: string; estimatedBytes: number; from?: string | undefined }>;
      /** ferry return: hosts that could not be asked what they hold of `host`'s (name and why). */
      unasked?: Array<{ host: string; error: string }> | undefined;
    }
  /** The container goes to `host` next: the destination with the most room left for it. */
  | { kind: 'placed'; container: string; host: string; roomBytes: number; estimatedBytes: number }
  /** `host`'s preflight refused the container (nothing was changed); the next-best host is tried, if any. */
  | { kind: 'refused'; container: string; host: string; error: FerryError; next: string }
  | { kind: 'migration'; container: string; event: MigrationEvent }
  /** Said when a container starts, changes phase or ends. */
  | { kind: 'evacuation-progress'; action?: BatchAction | undefined; host: string; total: number; moved: number; failed: number; inFlight: InFlightView[] }
  | { kind: 'evacuated'; action?: BatchAction | undefined; host: string; total: number; moved: number; failed: number; notStarted: number; skipped?: number | undefined; interrupted: boolean; results: EvacuationResult[] };

export type EmitEvacuation = (event: EvacuationEvent) => void;
