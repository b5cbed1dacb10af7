// What a CRIU dump cut off half-way leaves in a container that goes on running. CRIU locks the
// container's network before it dumps (every packet not marked 0xC114 is dropped, in a chain or
// table called CRIU) and freezes its cgroup; it undoes both when it finishes or fails cleanly.
// Killed with the agent's process group, it undoes nothing: podman says the container is up, and
// no client reaches it. These are found and removed here, in the container's network namespace.
import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Runs a command inside the network namespace of `pid`; resolves with its stdout. */
export type NetnsRunner = (pid: number, command: string[]) => Promise<string>;

const inNetns: NetnsRunner = async (pid, command) => (await execa('nsenter', ['-t', String(pid), '-n', ...command])).stdout;

/** CRIU's packet mark (SOCCR_MARK): what CRIU's own traffic carries through its lock. */
const CRIU_MARK = /--mark 0xc114\b/i;

/**
 * The iptables commands that undo CRIU's lock, from `iptables -S`: the jumps to the CRIU chain,
 * the chain itself, and the per-connection DROP rules of --tcp-established (marked `! --mark
 * 0xc114`). Other rules are left alone.
 */
export function iptablesUndo(rules: string): string[][] {
  const undo: string[][] = [];
  const lines = rules.split('\n').map((line) => line.trim());
  for (const line of lines) {
    const words = line.split(/\s+/);
    if (words[0] !== '-A') continue;
    const chain = words[1];
    const jumpsToCriu = words.at(-2) === '-j' && words.at(-1) === 'CRIU';
    if (chain !== 'CRIU' && (jumpsToCriu || CRIU_MARK.test(line))) undo.push(['-D', ...words.slice(1)]);
  }
  if (lines.includes('-N CRIU')) undo.push(['-F', 'CRIU'], ['-X', 'CRIU']);
  return undo;
}

/** The nftables tables CRIU made, from `nft list tables`: `inet CRIU`, or `inet CRIU-<pid>` in newer CRIU. */
export function nftablesUndo(tables: string): string[][] {
  const undo: string[][] = [];
  for (const line of tables.split('\n')) {
    const match = /^table\s+(\S+)\s+(CRIU(?:-\d+)?)$/.exec(line.trim());
    if (match) undo.push(['delete', 'table', match[1] as string, match[2] as string]);
  }
  return undo;
}

/**
 * Removes CRIU's network lock from the network namespace of the container's process `pid`, in
 * whichever form it was made (iptables, IPv4 and IPv6, or nftables); returns what it removed, in
 * words for the log and the rollback's outcome.
 */
export async function removeNetworkLock(pid: number, run: NetnsRunner = inNetns): Promise<string[]> {
  const removed: string[] = [];
  for (const tool of ['iptables', 'ip6tables']) {
    const rules = await run(pid, [tool, '-S']).catch(() => '');
    const undo = iptablesUndo(rules);
    for (const command of undo) await run(pid, [tool, ...command]);
    if (undo.length) removed.push(`${tool} lock (${undo.length} changes)`);
  }
  const tables = await run(pid, ['nft', 'list', 'tables']).catch(() => '');
  for (const command of nftablesUndo(tables)) {
    await run(pid, ['nft', ...command]);
    removed.push(`nftables table ${command.slice(2).join(' ')}`);
  }
  return removed;
}

/**
 * Thaws the container's cgroup if a cut-off dump left it frozen: cgroup v1's freezer, or v2's
 * cgroup.freeze. True when it was frozen.
 */
export async function thawCgroup(cgroupPath: string, root = '/sys/fs/cgroup'): Promise<boolean> {
  const v1 = `${root}/freezer${cgroupPath}/freezer.state`;
  const v1State = await readFile(v1, 'utf8').catch(() => undefined);
  if (v1State !== undefined) {
    if (v1State.trim() === 'THAWED') return false;
    await writeFile(v1, 'THAWED');
    return true;
  }
  const v2 = `${root}${cgroupPath}/cgroup.freeze`;
  const v2State = await readFile(v2, 'utf8').catch(() => undefined);
  if (v2State === undefined || v2State.trim() === '0') return false;
  await writeFile(v2, '0');
  return true;
}
