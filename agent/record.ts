// What the journal (journal.ts) keeps of each migration, one record per migration and role: its
// own module so that what reads records (the metrics, recovery) need not import the journal.
// A source record and a destination record share what names the migration; each has its own
// phases (common/phases.ts) and what only its side knows. Where a record stands is its phase,
// and a sub-state the phase governs (a destination's service address), never a loose flag.
import type { DestinationPhase, SourcePhase } from '../common/phases.ts';
import type { Flow__Output as Flow } from '../proto/gen/ferry/v1/Flow.ts';
import type { PortMapping__Output as PortMapping } from '../proto/gen/ferry/v1/PortMapping.ts';
import type { UnitRecord } from './systemd/control.ts';

export type Role = 'source' | 'destination';
export type JournalPhase = SourcePhase | DestinationPhase;

/** The phases of each role's journal. */
export interface PhaseOf {
  source: SourcePhase;
  destination: DestinationPhase;
}

export interface PhaseEntry<P extends JournalPhase = JournalPhase> {
  phase: P;
  /** ISO 8601. */
  at: string;
}

/** A file that arrived whole and checked out: its size and SHA-256. */
export interface Arrival {
  bytes: number;
  sha256: string;
}

interface RecordOf<R extends Role> {
  id: string;
  role: R;
  phase: PhaseOf[R];
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
  archivePath: string;
  createdAt: string;
  updatedAt: string;
  outcome?: string | undefined;
  /** The bind-mount paths of the container: the source's to set aside, the destination's grant to write. */
  dataPaths?: string[] | undefined;
  /** The container's service address (io.ferry.service-address), when it has one. */
  serviceAddress?: string | undefined;
  /**
   * The flows of the service address: on the source, those it gave up at the freeze (a rollback
   * recreates them); on the destination, those it recreated (a rollback forgets them).
   */
  flows?: Flow[] | undefined;
  /** The checkpoint was made with --file-locks: every restore of it (the destination's, the source's rollback) needs the flag too. */
  fileLocks?: boolean | undefined;
  /**
   * The systemd unit that runs the container (systemd/control.ts). Source: held from before the
   * freeze until the move is settled. Destination: installed and running it after the commit.
   */
  unit?: UnitRecord | undefined;
  /**
   * Every phase this host entered, with when: phase durations for the metrics, and `ferry status`.
   * Absent in records written before it was kept.
   */
  phases?: PhaseEntry<PhaseOf[R]>[] | undefined;
  /** Why the migration was rolled back here: the outcome it entered rollback with (the outcome then says what the rollback did). */
  reason?: string | undefined;
  /** How long the service was gone, as the coordinator measured it and passed it in Commit. */
  downtimeMs?: number | undefined;
}

export interface SourceRecord extends RecordOf<'source'> {
  /**
   * The container's directory, whose memory pages Ferry's CRIU action script moves aside for
   * this checkpoint (source/pages.ts); a rollback moves them back before restoring.
   */
  pagesDir?: string | undefined;
  /**
   * The container runs with --rm, so podman removes it once its checkpoint is exported; a
   * rollback then restores it from the archive kept here (which carries its pages).
   */
  autoRemove?: boolean | undefined;
}

/**
 * Where a destination stands with the container's service address: `flows`, the source's flows
 * recreated here (TakeAddress); `taken`, the address itself is on this host (after the restore).
 * A rollback forgets the flows, and gives the address up only once it was taken.
 */
export type AddressHold = 'flows' | 'taken';

export interface DestinationRecord extends RecordOf<'destination'> {
  /** The host an evacuation moves the container from (ferry evacuate); its origin once committed. */
  evacuatedFrom?: string | undefined;
  /** The archive must arrive before this time. */
  expiresAt?: string | undefined;
  /** Of dataPaths, those the incoming copy was moved into at the restore (a rollback moves it out again). */
  promoted?: string[] | undefined;
  needsImage?: boolean | undefined;
  /** The archive, once it is whole here and checked out: phase received and after. */
  received?: Arrival | undefined;
  /** The last round of bind-mounted data fully in staging. */
  dataRound?: number | undefined;
  address?: AddressHold | undefined;
  /** The restored container's published ports, checked before it counts as verified. */
  ports?: PortMapping[] | undefined;
  /**
   * This host cannot hold the container's IP and the migration allows a new one (--new-address):
   * podman restores it with an IP of this host's network, its TCP connections closed.
   */
  newAddress?: boolean | undefined;
  /** Where the pages stream lands, and its size and SHA-256 once whole and checked. */
  pagesPath?: string | undefined;
  pagesReceived?: Arrival | undefined;
}

export type MigrationRecord = SourceRecord | DestinationRecord;

/** What a caller may change of a record of `R` without changing its phase (that is Journal.advance's). */
export type RecordChanges<R extends MigrationRecord> = Omit<Partial<R>, 'phase' | 'role' | 'id' | 'phases' | 'createdAt' | 'updatedAt'>;
