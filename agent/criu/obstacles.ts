// What in a running container would make CRIU's dump or restore fail, read before anything is
// frozen: its processes' open files, mappings and locks (/proc) and how podman made it (inspect).
// Each cause has a stable code and a fix; file locks are the one Ferry handles by itself (podman's
// --file-locks on both sides), the rest refuse the move while the container still runs.
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { execa } from 'execa';
import type { Podman, RunOptions } from '../podman/podman.ts';
import { judge, type HostConfigView, type ProcessView, type Readiness } from './judge.ts';


interface RawInspect {
  State?: { Pid?: number };
  Config?: { SystemdMode?: boolean };
  HostConfig?: { NetworkMode?: string; PidMode?: string; IpcMode?: string; Devices?: Array<{ PathOnHost?: string; PathInContainer?: string }> | null };
}

export function hostConfigView(raw: RawInspect): HostConfigView {
  return {
    pid: raw.State?.Pid ?? 0,
    networkMode: raw.HostConfig?.NetworkMode ?? '',
    pidMode: raw.HostConfig?.PidMode ?? '',
    ipcMode: raw.HostConfig?.IpcMode ?? '',
    devices: (raw.HostConfig?.Devices ?? []).map((d) => d.PathInContainer || d.PathOnHost || '').filter(Boolean),
    systemdMode: raw.Config?.SystemdMode === true,
  };
}

/** A lock of /proc/locks: its kind and which process (-1 for OFD locks) holds it on which inode. */
export interface LockLine {
  kind: string;
  pid: number;
  major: number;
  minor: number;
  inode: number;
}

/** `1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF` (a `->` line is a waiter, not a holder). */
export function parseLocks(text: string): LockLine[] {
  const locks: LockLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m) continue;
    locks.push({ kind: m[1] ?? '', pid: Number(m[2]), major: parseInt(m[3] ?? '0', 16), minor: parseInt(m[4] ?? '0', 16), inode: Number(m[5]) });
  }
  return locks;
}

/** glibc's major()/minor() of a userspace dev_t. */
export function devParts(dev: number): { major: number; minor: number } {
  const d = BigInt(dev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

/** The kernel's own dev_t encoding (MAJOR << 20 | MINOR), as fdinfo's `sdev:` prints it in hex. */
export function kernelDevParts(hex: string): { major: number; minor: number } {
  const d = parseInt(hex, 16);
  return { major: Math.floor(d / 2 ** 20), minor: d % 2 ** 20 };
}

/** Unix sockets of a network namespace as `ss -xanH` prints them: own inode and peer inode (0: none). */
export function parseUnixSockets(text: string): Array<{ inode: number; peer: number; path: string }> {
  const sockets: Array<{ inode: number; peer: number; path: string }> = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || !fields[0]?.startsWith('u_')) continue;
    const [path, inode, , peer] = fields.slice(-4);
    sockets.push({ inode: Number(inode), peer: Number(peer === '*' ? 0 : peer), path: path ?? '' });
  }
  return sockets;
}

/** The container's processes: its first process and every descendant. */
async function processTree(rootPid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

async function processView(pid: number): Promise<ProcessView | undefined> {
  try {
    const [status, maps, names, exe] = await Promise.all([
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/maps`, 'utf8'),
      readdir(`/proc/${pid}/fd`),
      readlink(`/proc/${pid}/exe`).catch(() => ''),
    ]);
    const comm = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '?';
    const nsPid = Number((/^NSpid:\s*(.*)$/m.exec(status)?.[1] ?? String(pid)).trim().split(/\s+/).at(-1));
    const fds = await Promise.all(names.map(async (n) => ({ fd: Number(n), target: await readlink(`/proc/${pid}/fd/${n}`).catch(() => '') })));
    return { pid, nsPid, comm, exe, fds: fds.filter((f) => f.target), maps };
  } catch {
    return undefined; // it ended meanwhile
  }
}

/** Locks of /proc/locks held by these processes (POSIX and flock by PID; OFD, PID -1, by the file), with the file. */
async function heldLocks(processes: ProcessView[]): Promise<Array<{ process: ProcessView; file: string; kind: string }>> {
  const locks = parseLocks(await readFile('/proc/locks', 'utf8').catch(() => ''));
  if (!locks.length) return [];
  const pids = new Set(processes.map((p) => p.pid));
  const relevant = locks.filter((l) => l.pid === -1 || pids.has(l.pid));
  if (!relevant.length) return [];
  const found: Array<{ process: ProcessView; file: string; kind: string }> = [];
  const seen = new Set<string>();
  for (const process of processes) {
    const mine = relevant.filter((l) => l.pid === process.pid || l.pid === -1);
    if (!mine.length) continue;
    for (const { fd, target } of process.fds) {
      if (!target.startsWith('/')) continue;
      const st = await stat(`/proc/${process.pid}/fd/${fd}`).catch(() => undefined);
      if (!st) continue;
      const { major, minor } = devParts(st.dev);
      const lock = mine.find((l) => l.inode === st.ino && l.major === major && l.minor === minor);
      const key = `${process.pid}:${st.dev}:${st.ino}`;
      if (lock && !seen.has(key)) {
        seen.add(key);
        found.push({ process, file: target, kind: lock.kind });
      }
    }
  }
  return found;
}

const SOCKET = /^socket:\[(\d+)\]$/;

/** Container sockets whose peer is in no process of the container: the other end lives outside. */
async function externalSockets(processes: ProcessView[], initPid: number, options: RunOptions): Promise<Array<{ process: ProcessView; socket: string; peerPath: string }>> {
  const owner = new Map<number, ProcessView>();
  for (const p of processes) for (const { target } of p.fds) {
    const m = SOCKET.exec(target);
    if (m) owner.set(Number(m[1]), p);
  }
  if (!owner.size) return [];
  // Unix sockets are listed per network namespace; a peer outside it shows only as an inode.
  const listed = await execa('nsenter', [`--net=/proc/${initPid}/ns/net`, 'ss', '-xanH'], { reject: false, timeout: options.timeoutMs ?? 30_000, cancelSignal: options.signal });
  if (listed.failed) return [];
  const sockets = parseUnixSockets(String(listed.stdout));
  const byInode = new Map(sockets.map((s) => [s.inode, s]));
  const found: Array<{ process: ProcessView; socket: string; peerPath: string }> = [];
  for (const s of sockets) {
    const process = owner.get(s.inode);
    if (!process || !s.peer || owner.has(s.peer)) continue;
    found.push({ process, socket: `socket:[${s.inode}]`, peerPath: byInode.get(s.peer)?.path.replace(/^\*$/, '') ?? '' });
  }
  return found;
}

/**
 * Where CRIU looks for a watched file it cannot open by its handle (criu/irmap.c's hints): an
 * overlay file cannot be opened that way, so a watch on one is dumped only if it lies below these.
 */
export const IRMAP_HINTS = ['/etc', '/var/spool', '/var/log', '/usr/share/dbus-1/system-services', '/var/lib/polkit-1/localauthority', '/usr/share/polkit-1/actions', '/lib/udev'];
/** How many entries the search of the hints may read: a container's /etc is small; a bound for the odd one. */
const HINT_SCAN_LIMIT = 50_000;

/** Which of `inodes` (files of the root's device) lie in CRIU's hint folders, as CRIU's irmap would find them. */
async function inHintFolders(root: string, dev: number, inodes: Set<number>): Promise<Set<number>> {
  const found = new Set<number>();
  const top = await stat(root).catch(() => undefined);
  if (top?.dev === dev && inodes.has(top.ino)) found.add(top.ino); // "/." : the root folder itself
  let budget = HINT_SCAN_LIMIT;
  const queue = IRMAP_HINTS.map((h) => `${root}${h}`);
  while (queue.length && budget > 0 && found.size < inodes.size) {
    const dir = queue.shift() as string;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (--budget <= 0) break;
      const path = `${dir}/${entry.name}`;
      const st = await lstat(path).catch(() => undefined);
      if (!st || st.dev !== dev) continue; // another file system (a bind mount) is opened by handle
      if (inodes.has(st.ino)) found.add(st.ino);
      if (entry.isDirectory()) queue.push(path);
    }
  }
  return found;
}

/**
 * inotify watches (fdinfo `inotify wd:.. ino:.. sdev:..`) on files of the container's overlay root
 * that CRIU will not find: outside its hint folders. Watches on bind mounts are opened by handle.
 */
async function overlayWatches(processes: ProcessView[], initPid: number): Promise<Array<{ process: ProcessView; watch: string }>> {
  const watching = processes.flatMap((p) => p.fds.filter((f) => f.target === 'anon_inode:inotify').map((f) => ({ process: p, fd: f.fd })));
  if (!watching.length) return [];
  const rootPath = `/proc/${initPid}/root`;
  const root = await stat(`${rootPath}/`).catch(() => undefined);
  if (!root) return [];
  const rootDev = devParts(root.dev);
  const onOverlay: Array<{ process: ProcessView; wd: string; inode: number }> = [];
  for (const { process, fd } of watching) {
    const info = await readFile(`/proc/${process.pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    for (const m of info.matchAll(/^inotify wd:(\w+) ino:([0-9a-f]+) sdev:([0-9a-f]+)/gm)) {
      const dev = kernelDevParts(m[3] ?? '0');
      if (dev.major === rootDev.major && dev.minor === rootDev.minor) onOverlay.push({ process, wd: m[1] ?? '', inode: parseInt(m[2] ?? '0', 16) });
    }
  }
  if (!onOverlay.length) return [];
  const findable = await inHintFolders(rootPath, root.dev, new Set(onOverlay.map((w) => w.inode)));
  return onOverlay
    .filter((w) => !findable.has(w.inode))
    .map((w) => ({ process: w.process, watch: `inotify watch ${w.wd} on inode ${w.inode} of the container's root, outside ${IRMAP_HINTS.slice(0, 3).join(', ')}...` }));
}

/**
 * podman 4.3's inspect says "shareable", not "host", for --ipc=host: which namespaces the
 * container shares with the host is read from /proc, against this agent's own.
 */
async function sharedNamespaces(config: HostConfigView): Promise<HostConfigView> {
  const same = async (ns: string) => {
    const [theirs, ours] = await Promise.all([readlink(`/proc/${config.pid}/ns/${ns}`).catch(() => 'a'), readlink(`/proc/self/ns/${ns}`).catch(() => 'b')]);
    return theirs === ours;
  };
  const [net, pid, ipc] = await Promise.all([same('net'), same('pid'), same('ipc')]);
  return {
    ...config,
    networkMode: net ? 'host' : config.networkMode,
    pidMode: pid ? 'host' : config.pidMode,
    ipcMode: ipc ? 'host' : config.ipcMode,
  };
}

/**
 * Reads the running container's processes and judges them (judge.ts). `inspected`: podman's
 * inspect of it, when the caller has just made one.
 */
export async function examine(podman: Podman, container: string, options: RunOptions = {}, inspected?: object): Promise<Readiness> {
  const raw = (inspected as RawInspect | undefined) ?? (await podman.runJson<RawInspect[]>(['container', 'inspect', container], options))[0];
  const asPodmanSays = hostConfigView(raw ?? {});
  if (!asPodmanSays.pid) return { fileLocks: [], obstacles: [] };
  const config = await sharedNamespaces(asPodmanSays);
  const processes = (await Promise.all((await processTree(config.pid)).map(processView))).filter((p): p is ProcessView => p !== undefined);
  const [locks, external, watches] = await Promise.all([
    heldLocks(processes),
    config.networkMode === 'host' ? Promise.resolve([]) : externalSockets(processes, config.pid, options),
    overlayWatches(processes, config.pid),
  ]);
  return judge({ config, processes, locks, externalSockets: external, overlayWatches: watches });
}
