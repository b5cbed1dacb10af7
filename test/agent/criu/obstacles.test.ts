import { describe, expect, it } from 'vitest';
import { devParts, hostConfigView, kernelDevParts, parseLocks, parseUnixSockets } from '../../../agent/criu/obstacles.ts';
import { judge, type HostConfigView, type ProcessView } from '../../../agent/criu/judge.ts';
import { criuCauseHint } from '../../../agent/criu/log.ts';
import { fileLocksCheck, refusal } from '../../../common/readiness.ts';

const plain: HostConfigView = { pid: 4242, networkMode: 'bridge', pidMode: 'private', ipcMode: 'private', devices: [], systemdMode: false };

function proc(fields: Partial<ProcessView> = {}): ProcessView {
  return { pid: 4242, nsPid: 1, comm: 'server', exe: '/usr/bin/server', fds: [{ fd: 0, target: '/dev/null' }], maps: '', ...fields };
}

const none = { locks: [], externalSockets: [], overlayWatches: [] };

describe('what CRIU cannot checkpoint, read before the freeze', () => {
  it('finds nothing in a plain server', () => {
    expect(judge({ config: plain, processes: [proc()], ...none })).toEqual({ fileLocks: [], obstacles: [] });
  });

  it('reads /proc/locks: holders, OFD locks (pid -1), and not waiters', () => {
    const locks = parseLocks([
      '1: POSIX  ADVISORY  WRITE 4242 fd:01:1311 0 EOF',
      '1: -> POSIX  ADVISORY  WRITE 999 fd:01:1311 0 EOF',
      '2: OFDLCK ADVISORY  READ  -1 00:2e:77 0 0',
      '3: FLOCK  ADVISORY  WRITE 17 08:01:5 0 EOF',
    ].join('\n'));
    expect(locks).toEqual([
      { kind: 'POSIX', pid: 4242, major: 0xfd, minor: 1, inode: 1311 },
      { kind: 'OFDLCK', pid: -1, major: 0, minor: 0x2e, inode: 77 },
      { kind: 'FLOCK', pid: 17, major: 8, minor: 1, inode: 5 },
    ]);
  });

  it("decodes both device encodings: stat's and fdinfo's", () => {
    expect(devParts(0xfd01)).toEqual({ major: 0xfd, minor: 1 });
    expect(devParts(2049)).toEqual({ major: 8, minor: 1 });
    expect(kernelDevParts('2e')).toEqual({ major: 0, minor: 0x2e });
    expect(kernelDevParts('800001')).toEqual({ major: 8, minor: 1 });
  });

  it("reads ss's unix sockets: own inode and peer inode", () => {
    const text = [
      'u_str ESTAB 0 0 * 81234 * 81235',
      'u_str LISTEN 0 4096 /run/app.sock 5000 * 0',
      'u_dgr UNCONN 0 0 /dev/log 700 * 0',
    ].join('\n');
    expect(parseUnixSockets(text)).toEqual([
      { inode: 81234, peer: 81235, path: '*' },
      { inode: 5000, peer: 0, path: '/run/app.sock' },
      { inode: 700, peer: 0, path: '/dev/log' },
    ]);
  });

  it('takes file locks along, naming the process and the file', () => {
    const mariadb = proc({ comm: 'mariadbd' });
    const readiness = judge({ config: plain, processes: [mariadb], ...none, locks: [{ process: mariadb, file: '/var/lib/mysql/ibdata1', kind: 'POSIX' }] });
    expect(readiness.obstacles).toEqual([]);
    expect(readiness.fileLocks).toEqual([expect.objectContaining({ code: 'FILE_LOCKS', process: 'mariadbd (pid 1)', file: '/var/lib/mysql/ibdata1', fix: expect.stringMatching(/--file-locks/) })]);
    expect(fileLocksCheck(readiness.fileLocks).detail).toBe('1 held (mariadbd (pid 1): /var/lib/mysql/ibdata1): checkpointed and restored with --file-locks');
  });

  it('refuses each known cause with its own code', () => {
    const sqlite = proc({ comm: 'python3', maps: '7f00-7f08 rw-s 00000000 fe:00 77 /data/app.db-shm\n' });
    const cases: Array<[string, Parameters<typeof judge>[0]]> = [
      ['HOST_NAMESPACE', { config: { ...plain, networkMode: 'host' }, processes: [proc()], ...none }],
      ['HOST_NAMESPACE', { config: { ...plain, pidMode: 'host' }, processes: [proc()], ...none }],
      ['SYSTEMD_INIT', { config: plain, processes: [proc({ comm: 'systemd', exe: '/usr/lib/systemd/systemd' })], ...none }],
      ['SYSTEMD_INIT', { config: { ...plain, systemdMode: true }, processes: [proc()], ...none }],
      ['DEVICE_PASSED_IN', { config: { ...plain, devices: ['/dev/fuse'] }, processes: [proc({ fds: [{ fd: 3, target: '/dev/fuse' }] })], ...none }],
      ['IO_URING_IN_USE', { config: plain, processes: [proc({ fds: [{ fd: 5, target: 'anon_inode:[io_uring]' }] })], ...none }],
      ['HOST_IPC_SHARED_MEMORY', { config: { ...plain, ipcMode: 'host' }, processes: [proc({ maps: '7f00-7f10 rw-s 00000000 00:01 32769                      /SYSV0000162e (deleted)\n' })], ...none }],
      ['LOCK_ON_MAPPED_FILE', { config: plain, processes: [sqlite], ...none, locks: [{ process: sqlite, file: '/data/app.db-shm', kind: 'POSIX' }] }],
      ['EXTERNAL_UNIX_SOCKET', { config: plain, processes: [proc()], ...none, externalSockets: [{ process: proc(), socket: 'socket:[81234]', peerPath: '' }] }],
      ['INOTIFY_ON_OVERLAY', { config: plain, processes: [proc()], ...none, overlayWatches: [{ process: proc(), watch: 'inotify watch 1 on inode 9' }] }],
    ];
    for (const [code, input] of cases) {
      const { obstacles } = judge(input);
      expect(obstacles.map((o) => o.code), code).toEqual([code]);
      expect(obstacles[0]?.fix, code).not.toBe('');
    }
    // A device given but not held open is a node runc makes again; private shared memory (the
    // container's own IPC namespace) is CRIU's to dump.
    expect(judge({ config: { ...plain, devices: ['/dev/fuse'] }, processes: [proc()], ...none }).obstacles).toEqual([]);
    // A JVM's perf-data file maps fine: it moved with and without -XX:-UsePerfData here.
    expect(judge({ config: plain, processes: [proc({ comm: 'java', maps: '7f00-7f80 rw-s 00000000 00:2e 1234 /tmp/hsperfdata_root/1\n' })], ...none }).obstacles).toEqual([]);
    // An flock() lock belongs to the open file, not the process: mapping the file does not end it.
    const mapped = proc({ maps: '7f00-7f08 rw-s 00000000 fe:00 77 /data/app.db-shm\n' });
    expect(judge({ config: plain, processes: [mapped], ...none, locks: [{ process: mapped, file: '/data/app.db-shm', kind: 'FLOCK' }] }).obstacles).toEqual([]);
    expect(judge({ config: plain, processes: [proc({ maps: '7f00-7f10 rw-s 00000000 00:01 32769 /SYSV0000162e (deleted)\n' })], ...none }).obstacles).toEqual([]);
  });

  it('reads the inspect fields it needs', () => {
    expect(hostConfigView({ State: { Pid: 7 }, Config: { SystemdMode: true }, HostConfig: { NetworkMode: 'host', PidMode: 'private', IpcMode: 'shareable', Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse' }] } }))
      .toEqual({ pid: 7, networkMode: 'host', pidMode: 'private', ipcMode: 'shareable', devices: ['/dev/fuse'], systemdMode: true });
    expect(hostConfigView({})).toEqual({ pid: 0, networkMode: '', pidMode: '', ipcMode: '', devices: [], systemdMode: false });
  });

  it('turns obstacles into one refusal: the first one\'s code, its fix as the hint, every one listed', () => {
    const { obstacles } = judge({ config: { ...plain, networkMode: 'host' }, processes: [proc({ fds: [{ fd: 5, target: 'anon_inode:[io_uring]' }] })], ...none });
    const error = refusal('web', obstacles, { phase: 'preflight', host: 'hostA' });
    expect(error.code).toBe('HOST_NAMESPACE');
    expect(error.describe()).toMatch(/^\[preflight@hostA\] web cannot be checkpointed: .*--network=host.*\(and 1 more cause, listed below\); nothing was frozen$/);
    expect(error.hint).toMatch(/^Run the container with its own namespaces/);
    expect(error.details).toEqual([expect.stringMatching(/^HOST_NAMESPACE: /), expect.stringMatching(/^IO_URING_IN_USE: server \(pid 1\), fd 5/)]);
  });
});

describe("a failed dump's hint names its cause from CRIU's lines", () => {
  it('knows the file-lock refusal', () => {
    expect(criuCauseHint(['Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks! You can try --file-locks to dump them.'])).toMatch(/file locks/);
  });
  it("knows CRIU 4.2.1's own lines for the causes the preflight refuses (as seen on these machines)", () => {
    const seen: Array<[string, RegExp]> = [
      ['Error (criu/sk-unix.c:874): unix: External socket is used. Consider using --ext-unix-sk option.', /Unix socket outside/],
      ["Error (criu/cr-dump.c:478): Task 27019 with SysVIPC shmem map @7f68514c1000 doesn't live in IPC ns", /SysV shared memory/],
      ['Error (criu/fsnotify.c:284): fsnotify: \tCan\'t dump that handle', /inotify/],
      ["Error (criu/files-ext.c:94): Can't dump file 3 of that type [20600] (chr 10:229)", /device/],
    ];
    for (const [line, hint] of seen) expect(criuCauseHint([line]), line).toMatch(hint);
  });
  it('says nothing for what it does not know', () => {
    expect(criuCauseHint(['Error (criu/cr-dump.c:1): something new'])).toBeUndefined();
  });
});
