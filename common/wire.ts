// The proto's enums as the code says them. On the wire each value carries its type as a prefix
// (COMPRESSION_ZSTD); in the code, on the command line and in the journal it is the lower-case
// word after it (zstd). The words are derived from the generated types, so an enum value added
// to the .proto is a word here at once, and the phase machines must match the JournalPhase enum.
import type { Compression__Output } from '../proto/gen/ferry/v1/Compression.ts';
import type { JournalPhase__Output } from '../proto/gen/ferry/v1/JournalPhase.ts';
import type { OriginState__Output } from '../proto/gen/ferry/v1/OriginState.ts';
import type { Role__Output } from '../proto/gen/ferry/v1/Role.ts';
import type { StreamKind__Output } from '../proto/gen/ferry/v1/StreamKind.ts';
import type { UnitKind__Output } from '../proto/gen/ferry/v1/UnitKind.ts';
import { DESTINATION_PHASES, SOURCE_PHASES, type DestinationPhase, type SourcePhase } from './phases.ts';

/** `PREFIX_WORD` -> `word`, for every name of the enum but `PREFIX_UNSPECIFIED`. */
type Words<Name extends string, Prefix extends string> = Name extends `${Prefix}_UNSPECIFIED` ? never : Name extends `${Prefix}_${infer Word}` ? Lowercase<Word> : never;

export type Compression = Words<Compression__Output, 'COMPRESSION'>;
export type StreamKind = Words<StreamKind__Output, 'STREAM_KIND'>;
export type AgentRole = Words<Role__Output, 'ROLE'>;
export type JournalPhase = Words<JournalPhase__Output, 'JOURNAL_PHASE'>;
export type UnitKind = Words<UnitKind__Output, 'UNIT_KIND'>;
export type OriginState = Words<OriginState__Output, 'ORIGIN_STATE'>;

// Fails to compile when the JournalPhase enum and the phase machines name different phases.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const phasesMatch: Same<JournalPhase, SourcePhase | DestinationPhase> = true;
void phasesMatch;

export const COMPRESSIONS: readonly Compression[] = ['auto', 'none', 'zstd', 'gzip'];
/** What podman's checkpoint can write: every compression but auto, which the source resolves first. */
export type ArchiveCompression = Exclude<Compression, 'auto'>;
export const STREAM_KINDS: readonly StreamKind[] = ['checkpoint', 'image', 'data', 'probe', 'pages'];

/** One enum of the proto: its words, and their names on the wire. */
class WireEnum<Word extends string, Name extends string> {
  readonly #prefix: string;
  readonly #words: readonly Word[];

  constructor(prefix: string, words: readonly Word[]) {
    this.#prefix = prefix;
    this.#words = words;
  }

  toWire(word: Word): Name {
    return `${this.#prefix}_${word.toUpperCase()}` as Name;
  }

  /** The word for a name off the wire; undefined for UNSPECIFIED, a number grpc-js did not know, or garbage. */
  fromWire(name: unknown): Word | undefined {
    if (typeof name !== 'string' || !name.startsWith(`${this.#prefix}_`)) return undefined;
    const word = name.slice(this.#prefix.length + 1).toLowerCase();
    return this.has(word) ? word : undefined;
  }

  has(word: unknown): word is Word {
    return typeof word === 'string' && (this.#words as readonly string[]).includes(word);
  }
}

export const COMPRESSION = new WireEnum<Compression, Compression__Output>('COMPRESSION', COMPRESSIONS);
export const STREAM_KIND = new WireEnum<StreamKind, StreamKind__Output>('STREAM_KIND', STREAM_KINDS);
export const UNIT_KIND = new WireEnum<UnitKind, UnitKind__Output>('UNIT_KIND', ['new', 'existing', 'quadlet', 'other']);
export const ORIGIN_STATE = new WireEnum<OriginState, OriginState__Output>('ORIGIN_STATE', ['here', 'moved', 'gone']);
export const ROLE = new WireEnum<AgentRole, Role__Output>('ROLE', ['source', 'destination']);
export const JOURNAL_PHASE = new WireEnum<JournalPhase, JournalPhase__Output>('JOURNAL_PHASE', [...new Set([...SOURCE_PHASES, ...DESTINATION_PHASES])]);
