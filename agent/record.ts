// What the journal (journal.ts) keeps of each migration, one record per migration and role: its
// own module so that what reads records (the metrics, recovery) need not import the journal.
import type { DestinationPhase, SourcePhase } from '../common/phases.ts';
import type { Flow__Output as Flow } from '../proto/gen/ferry/v1/Flow.ts';
import type { PortMapping__Output as PortMapping } from '../proto/gen/ferry/v1/PortMapping.ts';
import type { UnitRecord } from './systemd/control.ts';

export type Role = 'source' | 'destination';
export type JournalPhase = SourcePhase | DestinationPhase;

export interface MigrationRecord {
  id: string;
  role: Role;
  /** Container name and ID as the source knows them. */
  container: string;
  containerId: string;
  /** The other host of the migration, and its agent's address. */
  peer: string;
  peerAddress?: string | undefined;
  /** The SSH login that reaches the peer when its agent port does not answer (no key: this agent's own). */
  peerSsh?: { host: string; port: number; user: string } | undefined;
  /** The peer host's own address, where its published ports answer (peerAddress's host when absent). */
  peerHostAddress?: string | undefined;
  phase: JournalPhase;
  archivePath: string;
  /** Whether this side has changed anything a rollback must undo. */
  touched: boolean;
  createdAt: string;
  updatedAt: string;
  /** Destination: the host an evacuation moves the container from (ferry evacuate); its origin once committed. */
  evacuatedFrom?: string | undefined;
  /** Destination: the archive must arrive before this time. */
  expiresAt?: string | undefined;
  outcome?: string | undefined;
  /** Destination: the bind-mount paths this migration may write (its grant), and what it did with them. */
  dataPaths?: string[] | undefined;
  promoted?: string[] | undefined;
  needsImage?: boolean | undefined;
  /** Destination: the whole archive arrived and checked out (phase received and after). */
  received?: { bytes: number; sha256: string } | undefined;
  /** Destination: the last round of bind-mounted data fully in staging. */
  dataRound?: number | undefined;
  /** The container's service address (io.ferry.service-address), when it has one. */
  serviceAddress?: string | undefined;
  /**
   * The flows of the service address: on the source, those it gave up at the freeze (a rollback
   * recreates them); on the destination, those it recreated (a rollback forgets them).
   */
  flows?: Flow[] | undefined;
  /** Destination: this host took the service address for the migration (a rollback gives it up). */
  addressTaken?: boolean | undefined;
  /** Destination: the restored container's published ports, checked before it counts as verified. */
  ports?: PortMapping[] | undefined;
  /**
   * Destination: this host cannot hold the container's IP and the migration allows a new one
   * (--new-address): podman restores it with an IP of this host's network, its TCP connections closed.
   */
  newAddress?: boolean | undefined;
  /** The checkpoint was made with --file-locks: every restore of it (the destination's, the source's rollback) needs the flag too. */
  fileLocks?: boolean | undefined;
  /**
   * Source: the container's directory, whose memory pages Ferry's CRIU action script moves aside
   * for this checkpoint (source/pages.ts); a rollback moves them back before restoring.
   */
  pagesDir?: string | undefined;
  /**
   * Source: the container runs with --rm, so podman removes it once its checkpoint is exported;
   * a rollback then restores it from the archive kept here (which carries its pages).
   */
  autoRemove?: boolean | undefined;
  /**
   * The systemd unit that runs the container (systemd/control.ts). Source: held from before the
   * freeze until the move is settled. Destination: installed and running it after the commit.
   */
  unit?: UnitRecord | undefined;
  /** Destination: where the pages stream lands, and its size and SHA-256 once whole and checked. */
  pagesPath?: string | undefined;
  pagesReceived?: { bytes: number; sha256: string } | undefined;
  /**
   * Every phase this host entered, with when: phase durations for the metrics, and `ferry status`.
   * Absent in records written before it was kept.
   */
  phases?: PhaseEntry[] | undefined;
  /** Why the migration was rolled back here: the outcome it entered rollback with (the outcome then says what the rollback did). */
  reason?: string | undefined;
  /** How long the service was gone, as the coordinator measured it and passed it in Commit. */
  downtimeMs?: number | undefined;
}

export interface PhaseEntry {
  phase: JournalPhase;
  /** ISO 8601. */
  at: string;
}
