// known_hosts as OpenSSH writes it, read by Ferry: plain and hashed names, [host]:port for
// ports other than 22, and what happens to an unknown and to a changed key.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHostKey, fingerprint, judgeHostKey, keyType } from '../../../common/ssh/known-hosts.ts';
import { FerryError } from '../../../common/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ferry-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real host key made by ssh-keygen: its known_hosts fields and its wire blob. */
function hostKey(name: string): { line: string; blob: Buffer; printed: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  const [type, base64] = readFileSync(`${path}.pub`, 'utf8').split(' ');
  const printed = execFileSync('ssh-keygen', ['-l', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  return { line: `${type} ${base64}`, blob: Buffer.from(base64 ?? '', 'base64'), printed };
}

const a = hostKey('a');
const b = hostKey('b');

describe('known_hosts', () => {
  it('reads the key type and prints the fingerprint as ssh-keygen does', () => {
    expect(keyType(a.blob)).toBe('ssh-ed25519');
    expect(fingerprint(a.blob)).toBe(a.printed);
  });

  it('matches plain names, lists of names, and [host]:port for other ports', () => {
    const text = `# comment\n10.0.0.1,db1 ${a.line}\n[10.0.0.2]:2222 ${b.line}\n`;
    expect(judgeHostKey(text, '10.0.0.1', 22, a.blob)).toBe('known');
    expect(judgeHostKey(text, 'db1', 22, a.blob)).toBe('known');
    expect(judgeHostKey(text, '10.0.0.1', 22, b.blob)).toBe('changed');
    expect(judgeHostKey(text, '10.0.0.2', 2222, b.blob)).toBe('known');
    expect(judgeHostKey(text, '10.0.0.2', 22, b.blob)).toBe('unknown');
    expect(judgeHostKey(text, '10.0.0.9', 22, a.blob)).toBe('unknown');
  });

  it('matches names hashed by ssh-keygen -H', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `10.0.0.7 ${a.line}\n[10.0.0.8]:2200 ${b.line}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('10.0.0.7');
    expect(judgeHostKey(text, '10.0.0.7', 22, a.blob)).toBe('known');
    expect(judgeHostKey(text, '10.0.0.8', 2200, b.blob)).toBe('known');
    expect(judgeHostKey(text, '10.0.0.8', 2200, a.blob)).toBe('changed');
  });

  it('refuses an unknown key unless new keys are accepted, then records it where ssh-keygen finds it', () => {
    const file = join(dir, 'accept');
    const refusal = (() => {
      try {
        checkHostKey({ knownHosts: file, acceptNew: false }, '10.1.1.1', 2022, a.blob);
      } catch (error) {
        return FerryError.from(error);
      }
      return undefined;
    })();
    expect(refusal?.code).toBe('SSH_HOST_KEY_UNKNOWN');
    expect(refusal?.message).toContain(a.printed);

    checkHostKey({ knownHosts: file, acceptNew: true }, '10.1.1.1', 2022, a.blob);
    const found = execFileSync('ssh-keygen', ['-F', '[10.1.1.1]:2022', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(a.line);
    // Known now: passes without accepting anything.
    expect(() => checkHostKey({ knownHosts: file, acceptNew: false }, '10.1.1.1', 2022, a.blob)).not.toThrow();
  });

  it('refuses a changed key even when new keys are accepted, and leaves the file alone', () => {
    const file = join(dir, 'changed');
    writeFileSync(file, `10.2.2.2 ${a.line}\n`);
    expect(() => checkHostKey({ knownHosts: file, acceptNew: true }, '10.2.2.2', 22, b.blob)).toThrow(
      expect.objectContaining({ code: 'SSH_HOST_KEY_CHANGED' }),
    );
    expect(readFileSync(file, 'utf8')).toBe(`10.2.2.2 ${a.line}\n`);
  });
});
