// What would make CRIU's dump or restore of a container fail, judged from facts alone (no I/O):
// obstacles.ts reads the facts from /proc and podman's inspect. Each cause has a stable code and
// a fix; file locks are the one Ferry handles by itself (podman's --file-locks on both sides).
import type { ErrorCode } from '../../common/errors.ts';

/** The codes of the causes that stop a move before the freeze (each in ERROR_CODES). */
export type ObstacleCode = Extract<ErrorCode,
  'IO_URING_IN_USE' | 'EXTERNAL_UNIX_SOCKET' | 'HOST_IPC_SHARED_MEMORY' | 'HOST_NAMESPACE' | 'SYSTEMD_INIT' | 'INOTIFY_ON_OVERLAY' | 'DEVICE_PASSED_IN' | 'LOCK_ON_MAPPED_FILE' | 'SYSTEMD_UNIT_UNSUPPORTED'>;

export interface Finding {
  /** An ObstacleCode, or FILE_LOCKS for what Ferry handles itself. */
  code: ObstacleCode | 'FILE_LOCKS';
  /** `mariadbd (pid 1)`: the process, with its PID inside the container. Empty: the container as a whole. */
  process: string;
  /** The file, socket or setting it was found on. */
  file: string;
  /** What was found, in a sentence. */
  detail: string;
  /** What to do about it (for FILE_LOCKS: what Ferry does). */
  fix: string;
}

export interface Readiness {
  /** Locks held by the container's processes: Ferry checkpoints and restores with --file-locks. */
  fileLocks: Finding[];
  /** Causes that would fail the dump or the restore: the move is refused before the freeze. */
  obstacles: Finding[];
}

/** What inspect says of the container that matters here. */
export interface HostConfigView {
  pid: number;
  networkMode: string;
  pidMode: string;
  ipcMode: string;
  /** Host devices given with --device, by their path inside the container. */
  devices: string[];
  /** podman's systemd mode (--systemd=always, or an init command): it mounts /run/.containerenv over a tmpfs. */
  systemdMode: boolean;
}

/** One process of the container as /proc shows it. */
export interface ProcessView {
  /** PID on the host. */
  pid: number;
  /** PID inside the container's namespace (what the user sees with podman top / exec). */
  nsPid: number;
  comm: string;
  /** The executable's path as the host sees it ("" when unreadable). */
  exe: string;
  /** Every open descriptor's link target, e.g. "socket:[123]", "anon_inode:[io_uring]", "/var/lib/mysql/ibdata1". */
  fds: Array<{ fd: number; target: string }>;
  /** /proc/PID/maps, as text. */
  maps: string;
}

const who = (p: ProcessView) => `${p.comm} (pid ${p.nsPid})`;

/** Whether /proc/PID/maps shows `file` mapped (its path ends the line, maybe marked deleted). */
function mapsFile(maps: string, file: string): boolean {
  return maps.split('\n').some((line) => {
    const path = line.trim().split(/\s+/).slice(5).join(' ').replace(/ \(deleted\)$/, '');
    return path === file;
  });
}

/** What examine() found of a container and its processes. */
export interface Facts {
  config: HostConfigView;
  processes: ProcessView[];
  /** Locks held by the container's processes, each with the file it is on. */
  locks: Array<{ process: ProcessView; file: string; kind: string }>;
  /** Inode of each container socket whose peer is outside the container, with the process. */
  externalSockets: Array<{ process: ProcessView; socket: string; peerPath: string }>;
  /** inotify watches on files of the container's own overlay root. */
  overlayWatches: Array<{ process: ProcessView; watch: string }>;
}

/** What the facts say, with no I/O: unit-tested on made-up processes. */
export function judge(input: Facts): Readiness {
  const obstacles = [...configObstacles(input), ...processObstacles(input), ...foundObstacles(input)];
  const fileLocks = input.locks.map(({ process, file, kind }) => ({
    code: 'FILE_LOCKS' as const, process: who(process), file,
    detail: `${who(process)} holds a ${kind} lock on ${file}`,
    fix: 'checkpointed and restored with --file-locks',
  }));
  return { fileLocks, obstacles };
}


/** How podman runs the container: namespaces of the host's, systemd as its init. */
function configObstacles({ config, processes }: Facts): Finding[] {
  const obstacles: Finding[] = [];
  const init = processes.find((p) => p.pid === config.pid);
  if (config.networkMode === 'host' || config.pidMode === 'host') {
    const which = [config.networkMode === 'host' ? '--network=host' : '', config.pidMode === 'host' ? '--pid=host' : ''].filter(Boolean).join(' and ');
    obstacles.push({
      code: 'HOST_NAMESPACE', process: '', file: which,
      detail: `the container shares the host's ${config.networkMode === 'host' ? 'network' : 'PID'} namespace (${which}): its sockets and PIDs are this host's, bound to its addresses and numbers, and do not move to another host`,
      fix: `run the container with its own namespaces (drop ${which}, publish its ports with -p instead)`,
    });
  }
  const systemdInit = init && (init.comm === 'systemd' || /\/systemd$/.test(init.exe));
  if (systemdInit || config.systemdMode) {
    obstacles.push({
      code: 'SYSTEMD_INIT', process: init ? who(init) : '', file: systemdInit ? init.exe || init.comm : 'podman --systemd mode',
      detail: systemdInit
        ? "systemd is the container's PID 1: CRIU cannot dump the state it keeps of its cgroups and mounts"
        : "podman runs the container in systemd mode (--systemd=always, or an init command), whose /run/.containerenv mount podman's restore --import cannot bring back (CRIU: No mapping for ... mountpoint)",
      fix: "run the service itself as the container's command, without --systemd=always, or move the container cold",
    });
  }
  return obstacles;
}

/** What each process holds: devices, io_uring, the host's shared memory. */
function processObstacles({ config, processes }: Facts): Finding[] {
  const obstacles: Finding[] = [];
  for (const p of processes) {
    for (const { fd, target } of p.fds) {
      // Given but not held open, a device is only a node in /dev that runc makes again.
      if (config.devices.includes(target)) {
        obstacles.push({
          code: 'DEVICE_PASSED_IN', process: who(p), file: `fd ${fd} (${target})`,
          detail: `${who(p)} holds the host device ${target} open (--device): its state is this host's, and CRIU cannot dump it`,
          fix: 'close the device before the move (stop what uses it), or move the container cold',
        });
      }
      if (target === 'anon_inode:[io_uring]') {
        obstacles.push({
          code: 'IO_URING_IN_USE', process: who(p), file: `fd ${fd} (${target})`,
          detail: `${who(p)} has an io_uring instance open: CRIU cannot dump io_uring`,
          fix: "keep podman's default seccomp profile (not --privileged or --security-opt seccomp=unconfined), which refuses io_uring so the program falls back, or turn io_uring off in the application",
        });
      }
    }
    if (config.ipcMode === 'host') {
      const shm = p.maps.split('\n').find((line) => /\s\/SYSV[0-9a-f]{8}\b/.test(line));
      if (shm) {
        obstacles.push({
          code: 'HOST_IPC_SHARED_MEMORY', process: who(p), file: shm.trim().split(/\s+/).slice(5).join(' '),
          detail: `${who(p)} has SysV shared memory of the host attached (--ipc=host): it belongs to the host, not the container`,
          fix: 'run the container with its own IPC namespace (drop --ipc=host); share memory only between processes of one container',
        });
      }
    }
  }
  return obstacles;
}

/** What was found around the processes: sockets to outside, watches on the overlay, locks on mapped files. */
function foundObstacles(input: Facts): Finding[] {
  const obstacles: Finding[] = [];
  for (const { process, socket, peerPath } of input.externalSockets) {
    obstacles.push({
      code: 'EXTERNAL_UNIX_SOCKET', process: who(process), file: peerPath ? `${socket} to ${peerPath}` : socket,
      detail: `${who(process)} is connected to a Unix socket outside the container${peerPath ? ` (${peerPath})` : ''}: CRIU cannot take the other end along`,
      fix: 'have the application reconnect through a socket inside the container, or close that connection (a bind-mounted host socket such as podman.sock, /dev/log or a database socket) before the move',
    });
  }
  for (const { process, watch } of input.overlayWatches) {
    obstacles.push({
      code: 'INOTIFY_ON_OVERLAY', process: who(process), file: watch,
      detail: `${who(process)} watches a file of the container's own root file system with inotify: CRIU cannot find that file again through the overlay`,
      fix: 'watch files on a bind mount or volume instead, or turn file watching off in the application',
    });
  }
  for (const { process, file, kind } of input.locks) {
    // A POSIX lock belongs to the process and ends when any descriptor of its file is closed.
    // CRIU restores the lock, then maps the file through a descriptor it closes: the lock is gone
    // after a restore that says it went well (seen with SQLite's WAL index, the -shm file).
    if (kind !== 'POSIX' || !mapsFile(process.maps, file)) continue;
    obstacles.push({
      code: 'LOCK_ON_MAPPED_FILE', process: who(process), file,
      detail: `${who(process)} holds a POSIX lock on ${file} and also maps that file into memory: CRIU's restore would silently drop the lock`,
      fix: "don't map a file the process locks; for SQLite, use PRAGMA locking_mode=EXCLUSIVE (its WAL index then lives in the process's own memory) or a rollback journal (journal_mode=DELETE)",
    });
  }
  return obstacles;
}
