// One-time stream grants. Over the control plane (OpenStream), the destination gives the source
// that a migration names a token for exactly one byte stream of that migration; the source
// presents it on the data port. A token is good once, for a short while, and only in the hands
// of the host it was issued to: a wrong, expired or reused one is refused.
import { randomBytes } from 'node:crypto';
import { FerryError } from '../../common/errors.ts';
import type { Caller } from '../../common/rpc.ts';
import type { StreamKind } from '../../common/wire.ts';

export interface Grant {
  token: string;
  migrationId: string;
  kind: StreamKind;
  round: number;
  /** The host the migration names as its source: the only one that may redeem it. */
  peer: string;
  /** Checkpoint: the bytes the destination kept, from which the sender continues. */
  resumeFrom: number;
  totalBytes: number;
  expiresAt: number;
}

export const DEFAULT_GRANT_TTL_MS = 60_000;

function refused(message: string): FerryError {
  return new FerryError('GRANT_INVALID', message, { phase: 'transfer' });
}

export class Grants {
  readonly ttlMs: number;
  readonly #byToken = new Map<string, Grant>();
  readonly #now: () => number;

  constructor(ttlMs = DEFAULT_GRANT_TTL_MS, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.#now = now;
  }

  issue(grant: Omit<Grant, 'token' | 'expiresAt'>): Grant {
    this.#sweep();
    const full = { ...grant, token: randomBytes(24).toString('base64url'), expiresAt: this.#now() + this.ttlMs };
    this.#byToken.set(full.token, full);
    return full;
  }

  /**
   * Takes the grant out, whoever presents it: a token that was shown once is spent, so one that
   * leaked is worth nothing afterwards. With TLS, the presenter must be the granted host.
   */
  redeem(token: unknown, caller: Caller | undefined): Grant {
    if (typeof token !== 'string' || !token) throw refused('the data connection presented no stream grant');
    const grant = this.#byToken.get(token);
    this.#byToken.delete(token);
    if (!grant) throw refused('the stream grant is unknown or was already used');
    if (grant.expiresAt < this.#now()) throw refused(`the stream grant for migration ${grant.migrationId} expired`);
    if (caller && (caller.role !== 'agent' || caller.name !== grant.peer)) {
      throw new FerryError('UNAUTHORIZED', `${caller.name} (${caller.role}) may not send for migration ${grant.migrationId}: it names ${grant.peer}`, {
        phase: 'transfer',
      });
    }
    return grant;
  }

  /** A migration that is over takes its unredeemed grants with it. */
  revoke(migrationId: string): void {
    for (const [token, grant] of this.#byToken) if (grant.migrationId === migrationId) this.#byToken.delete(token);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [token, grant] of this.#byToken) if (grant.expiresAt < now) this.#byToken.delete(token);
  }
}
