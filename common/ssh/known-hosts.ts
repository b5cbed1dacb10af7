// Host keys as OpenSSH keeps them: a known_hosts file, one "PATTERNS KEYTYPE BASE64" per line,
// where a host on a port other than 22 is written "[host]:port" and a hashed entry is
// "|1|SALT|HMAC-SHA1(SALT, host)". A key that is not there is unknown; a host that is there with
// other keys has changed key, which is refused whatever the user says, as ssh does.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FerryError } from '../errors.ts';

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

/** How known_hosts names a host: the bare name on port 22, "[name]:port" elsewhere. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key's type, the first string of the SSH wire encoding (e.g. "ssh-ed25519"). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** As `ssh-keygen -l` prints it: SHA256:base64 without padding. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function patternMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mine = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    const theirs = Buffer.from(hash, 'base64');
    return mine.length === theirs.length && timingSafeEqual(mine, theirs);
  }
  // Negated and wildcard patterns are left to OpenSSH: an entry Ferry cannot read counts as absent.
  return field.split(',').some((pattern) => pattern === name);
}

/** The keys known_hosts lists for HOST:PORT (lines with markers such as @revoked are skipped). */
export function keysFor(text: string, host: string, port: number): Buffer[] {
  const name = hostPattern(host, port);
  const keys: Buffer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [patterns, , key] = line.split(/\s+/);
    if (patterns && key && patternMatches(patterns, name)) keys.push(Buffer.from(key, 'base64'));
  }
  return keys;
}

export function judgeHostKey(text: string, host: string, port: number, blob: Buffer): HostKeyVerdict {
  const keys = keysFor(text, host, port);
  if (keys.some((key) => key.equals(blob))) return 'known';
  return keys.length ? 'changed' : 'unknown';
}

export interface HostKeyTrust {
  /** The known_hosts file keys are checked against (and new ones recorded in). */
  knownHosts: string;
  /** Record an unknown key and go on, as `ssh -o StrictHostKeyChecking=accept-new`. */
  acceptNew: boolean;
}

/**
 * The verdict on the key a host presented, acting on it: a known key passes, an unknown one is
 * recorded when the user accepts new keys, anything else is thrown as the error to report.
 */
export function checkHostKey(trust: HostKeyTrust, host: string, port: number, blob: Buffer): void {
  const text = existsSync(trust.knownHosts) ? readFileSync(trust.knownHosts, 'utf8') : '';
  const verdict = judgeHostKey(text, host, port, blob);
  if (verdict === 'known') return;
  const print = `${keyType(blob)} ${fingerprint(blob)}`;
  if (verdict === 'changed') {
    throw new FerryError('SSH_HOST_KEY_CHANGED', `the SSH host key of ${hostPattern(host, port)} is not the one in ${trust.knownHosts} (it now offers ${print})`, {
      hint: `Someone may be in the middle, or the host was reinstalled. Check the key on the host itself (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); if it is right, remove the old entry: ssh-keygen -R '${hostPattern(host, port)}' -f ${trust.knownHosts}.`,
    });
  }
  if (!trust.acceptNew) {
    throw new FerryError('SSH_HOST_KEY_UNKNOWN', `the SSH host key of ${hostPattern(host, port)} (${print}) is not in ${trust.knownHosts}`, {
      hint: `Check the fingerprint on the host itself (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then run again with --accept-new-host-keys to record it, or add it to ${trust.knownHosts} yourself.`,
    });
  }
  mkdirSync(dirname(trust.knownHosts), { recursive: true });
  const needsNewline = text.length > 0 && !text.endsWith('\n');
  appendFileSync(trust.knownHosts, `${needsNewline ? '\n' : ''}${hostPattern(host, port)} ${keyType(blob)} ${blob.toString('base64')}\n`, { mode: 0o644 });
}
