// What a cut-off CRIU dump leaves, as the tools print it: the commands that undo exactly that.
// (The real thing, a lock in a live container's network namespace, is in test/e2e/cut-off.test.ts.)
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iptablesUndo, nftablesUndo, removeNetworkLock, thawCgroup } from '../../../agent/criu/leftovers.ts';

// `iptables -S` in a container whose dump was killed mid-way (seen in the lab), plus one
// per-connection rule of --tcp-established and a rule of the container's own.
const LOCKED = `-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N CRIU
-A INPUT -j CRIU
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -s 10.88.0.5/32 -d 10.88.0.2/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 6379 --dport 40000 -j DROP
-A OUTPUT -j CRIU
-A CRIU -m mark --mark 0xc114 -j ACCEPT
-A CRIU -j DROP`;

describe("CRIU's leftovers", () => {
  it('undoes the iptables lock, and only it: jumps, per-connection drops, then the chain', () => {
    expect(iptablesUndo(LOCKED)).toEqual([
      ['-D', 'INPUT', '-j', 'CRIU'],
      ['-D', 'INPUT', '-s', '10.88.0.5/32', '-d', '10.88.0.2/32', '-p', 'tcp', '-m', 'mark', '!', '--mark', '0xc114', '-m', 'tcp', '--sport', '6379', '--dport', '40000', '-j', 'DROP'],
      ['-D', 'OUTPUT', '-j', 'CRIU'],
      ['-F', 'CRIU'],
      ['-X', 'CRIU'],
    ]);
    expect(iptablesUndo('-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT')).toEqual([]);
  });

  it("deletes CRIU's nftables tables, old name and new", () => {
    expect(nftablesUndo('table ip filter\ntable inet CRIU\ntable inet CRIU-4242\ntable inet netavark')).toEqual([
      ['delete', 'table', 'inet', 'CRIU'],
      ['delete', 'table', 'inet', 'CRIU-4242'],
    ]);
  });

  it('runs the undo in the container process\'s network namespace, for IPv4 and IPv6, and says what it removed', async () => {
    const ran: string[] = [];
    const run = async (pid: number, command: string[]) => {
      ran.push(`${pid}: ${command.join(' ')}`);
      if (command[1] === '-S') return command[0] === 'iptables' ? LOCKED : '-P INPUT ACCEPT';
      if (command[0] === 'nft' && command[1] === 'list') return 'table inet CRIU-7';
      return '';
    };
    expect(await removeNetworkLock(7, run)).toEqual(['iptables lock (5 changes)', 'nftables table inet CRIU-7']);
    expect(ran).toContain('7: iptables -X CRIU');
    expect(ran).toContain('7: nft delete table inet CRIU-7');
    expect(ran.filter((line) => line.startsWith('7: ip6tables')).length).toBe(1); // listed, nothing to undo
  });

  it('thaws a frozen cgroup (v1 freezer or v2), and leaves a thawed one alone', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-cgroup-'));
    mkdirSync(join(root, 'freezer', 'libpod-a'), { recursive: true });
    writeFileSync(join(root, 'freezer', 'libpod-a', 'freezer.state'), 'FROZEN\n');
    expect(await thawCgroup('/libpod-a', root)).toBe(true);
    expect(readFileSync(join(root, 'freezer', 'libpod-a', 'freezer.state'), 'utf8')).toBe('THAWED');
    expect(await thawCgroup('/libpod-a', root)).toBe(false);
    mkdirSync(join(root, 'libpod-b'), { recursive: true });
    writeFileSync(join(root, 'libpod-b', 'cgroup.freeze'), '1\n');
    expect(await thawCgroup('/libpod-b', root)).toBe(true);
    expect(readFileSync(join(root, 'libpod-b', 'cgroup.freeze'), 'utf8')).toBe('0');
  });
});
