// Every code a Ferry error may carry: what it means, what to do about it, and whether asking
// again may help. docs/errors.md is generated from this table and a test keeps the two in sync.

interface CodeSpec {
  /** What went wrong, in general terms. */
  meaning: string;
  /** What the user should do about it. */
  hint: string;
  /** Whether trying the same call again may succeed. */
  retryable: boolean;
}

export const ERROR_CODES = {
  BAD_REQUEST: {
    meaning: 'The request is malformed: a required field is missing or a value is out of range.',
    hint: 'Fix the command line or the request; nothing was changed.',
    retryable: false,
  },
  UNKNOWN_HOST: {
    meaning: 'The host is neither in the inventory nor an address:port.',
    hint: 'Check the name against `ferry hosts`, or pass the agent as ADDRESS:PORT.',
    retryable: false,
  },
  SAME_HOST: {
    meaning: 'The source and the destination are the same host.',
    hint: 'Pick a different --to host.',
    retryable: false,
  },
  INVENTORY_INVALID: {
    meaning: 'The inventory file cannot be read or does not have the expected shape.',
    hint: 'Fix the file named in the message (see README, "Inventory").',
    retryable: false,
  },
  AGENT_UNREACHABLE: {
    meaning: 'The Ferry agent on a host did not answer.',
    hint: 'Check that the agent runs on that host (`ferry hosts`) and that its port is reachable; an agent with TLS needs the coordinator certificate (--tls-dir, or "tls" in the inventory).',
    retryable: true,
  },
  UNAUTHORIZED: {
    meaning: "The caller's certificate does not allow this call: a wrong role, or a peer the migration did not name.",
    hint: 'Control calls need the coordinator certificate; an agent may only send or settle migrations that name it.',
    retryable: false,
  },
  SSH_HOST_KEY_UNKNOWN: {
    meaning: 'A host reached over SSH offered a host key that is not in the known_hosts file; nothing was sent to it.',
    hint: 'Check the fingerprint on the host itself, then run again with --accept-new-host-keys to record it.',
    retryable: false,
  },
  SSH_HOST_KEY_CHANGED: {
    meaning: 'A host reached over SSH offered a host key other than the one recorded for it; it is refused, as ssh does.',
    hint: 'Find out why the key changed (a reinstall, or someone in the middle); if it is right, remove the old entry with ssh-keygen -R.',
    retryable: false,
  },
  SSH_FAILED: {
    meaning: 'The SSH login to a host failed: its identity file is missing, or the host refused the key or user.',
    hint: 'Check "ssh" in the inventory (user, identity) and that the public key is in the host\'s authorized_keys.',
    retryable: false,
  },
  AGENT_STOPPING: {
    meaning: 'The agent is stopping (SIGTERM, systemctl stop): it finishes or rolls back the migrations under way and takes no new ones.',
    hint: 'Wait for the agent to come back (ferry hosts), or move the container to or from another host.',
    retryable: true,
  },
  AGENT_INSTALL_FAILED: {
    meaning: '`ferry agent install`, `status` or `restart` ran a command on the host over SSH, and it failed.',
    hint: 'Read what the command said (in the message); fix the host, then run the same ferry agent command again: it only redoes what is missing.',
    retryable: false,
  },
  CONTAINER_NOT_FOUND: {
    meaning: 'No container with that name or ID exists on the host.',
    hint: 'List the containers with `ferry ps HOST`.',
    retryable: false,
  },
  CONTAINER_NOT_RUNNING: {
    meaning: 'The container exists but is not running, so there is nothing live to migrate.',
    hint: 'Start it first, or move it cold with podman export/import.',
    retryable: false,
  },
  MIGRATION_BUSY: {
    meaning: 'Another migration or park of this container is already under way.',
    hint: 'Wait for it to finish; `ferry ps HOST` shows the container state.',
    retryable: true,
  },
  PREFLIGHT_FAILED: {
    meaning: 'A check before the freeze failed; the container was not touched.',
    hint: 'Read the failed checks listed with the error; each names its fix.',
    retryable: false,
  },
  DEST_PORT_BUSY: {
    meaning: 'A host port the container publishes is already in use on the destination.',
    hint: 'Free the port on the destination (stop what holds it) or migrate to another host.',
    retryable: false,
  },
  ADDRESS_TAKEN: {
    meaning: "The container's service address (io.ferry.service-address) is held by a host other than the source, or the destination's interface is not on its subnet.",
    hint: 'Free the address on the host that holds it (ip addr del), or move the container to a host on the same subnet as its service address.',
    retryable: false,
  },
  DEST_NAME_TAKEN: {
    meaning: 'The destination already has a container with the same name or ID.',
    hint: 'Remove or rename that container on the destination first.',
    retryable: false,
  },
  DEST_IP_UNAVAILABLE: {
    meaning: "The destination's container network cannot hold the container's IP (it is outside every subnet there, or another container uses it); a migration that keeps the IP, as --tcp-established does, cannot restore it there.",
    hint: 'Pass --new-address to restore it with a new IP from the destination\'s network (its established TCP connections are closed), or give the destination a network with the container\'s subnet and a free IP.',
    retryable: false,
  },
  CONNECTIONS_CLOSED: {
    meaning: 'A warning: the container was restored with a new IP (--new-address), so its established TCP connections were closed; the migration itself succeeded.',
    hint: "Clients reconnect to the destination host's address; to keep connections across a move, migrate to a host whose container network holds the container's IP.",
    retryable: false,
  },
  DEST_DATA_EXISTS: {
    meaning: "A bind-mounted path of the container already exists on the destination and is not empty.",
    hint: 'Move that path away on the destination, or pass --replace-data (the old content is kept aside until the migration commits).',
    retryable: false,
  },
  CRIU_UNAVAILABLE: {
    meaning: 'CRIU is missing or `criu check` fails on the host.',
    hint: 'Run scripts/setup-host on that host (CRIU >= 4.2 is needed on kernels >= 6.16).',
    retryable: false,
  },
  HOOK_FAILED: {
    meaning: "A hook declared by the container's io.ferry.* labels failed or timed out.",
    hint: 'Run the hook by hand with podman exec to see why; before the freeze nothing was changed, after the restore the migration was rolled back.',
    retryable: false,
  },
  VALIDATION_MISMATCH: {
    meaning: "The container's io.ferry.validate command printed something else after the restore than before the checkpoint.",
    hint: 'The migration was rolled back; compare the two outputs in the details.',
    retryable: false,
  },
  IO_URING_IN_USE: {
    meaning: 'A process of the container has an io_uring instance open, which CRIU cannot dump; the move was refused before the freeze.',
    hint: "Keep podman's default seccomp profile (it refuses io_uring, and most programs fall back), or turn io_uring off in the application.",
    retryable: false,
  },
  EXTERNAL_UNIX_SOCKET: {
    meaning: 'A process of the container is connected to a Unix socket whose other end is outside the container (a bind-mounted host socket); CRIU cannot take it along. Refused before the freeze.',
    hint: 'Close that connection or reach the service through the network; the message names the process and the socket.',
    retryable: false,
  },
  HOST_IPC_SHARED_MEMORY: {
    meaning: "A process of the container has the host's SysV shared memory attached (--ipc=host); it belongs to the host. Refused before the freeze.",
    hint: 'Run the container with its own IPC namespace (without --ipc=host).',
    retryable: false,
  },
  HOST_NAMESPACE: {
    meaning: "The container shares the host's network or PID namespace (--network=host, --pid=host), which CRIU cannot move. Refused before the freeze.",
    hint: 'Run the container with its own namespaces and publish its ports with -p.',
    retryable: false,
  },
  SYSTEMD_INIT: {
    meaning: "systemd is the container's PID 1, or podman runs it in systemd mode (--systemd=always), whose mounts podman's restore --import cannot bring back. Refused before the freeze.",
    hint: "Run the service itself as the container's command, or move the container cold (stop, export, import).",
    retryable: false,
  },
  SYSTEMD_UNIT_UNSUPPORTED: {
    meaning: "A systemd unit runs the container, of a kind Ferry cannot move safely (a Quadlet .container, a unit written by hand, one with drop-ins or outside /etc/systemd/system): moved without it, systemd would start a second copy on the source after its next boot. Refused before the freeze.",
    hint: 'Make the unit with `podman generate systemd --new --files` (or without --new) into /etc/systemd/system, or stop and disable the unit and move the container without it.',
    retryable: false,
  },
  POLICY_DENIED: {
    meaning: "The destination's admission policy refuses the container: privileged, capabilities beyond podman's defaults, devices, the host's namespaces, a bind mount of a path that gives it the host, or an image or bind-mount root the policy does not list. Judged in the preflight and again on the received archive, before podman sees it; nothing changes on either host.",
    hint: "If that host should run it, allow the rule in its /etc/ferry/policy.json (docs/admission.md); otherwise pick another destination.",
    retryable: false,
  },
  PODMAN_UNSUPPORTED: {
    meaning: "A host runs a podman version Ferry does not move containers with: older than 4.3, or a major version after 5 that Ferry was not measured with. The message names both ends' podman, runtime and CRIU. Refused in the preflight; nothing changes.",
    hint: 'Ferry moves containers between podman 4.3 and 5.x, in either direction (docs/hosts.md); upgrade the host named.',
    retryable: false,
  },
  HOST_CORDONED: {
    meaning: 'The destination is cordoned (ferry cordon): placement keeps away from it and it receives no migration unless the coordinator forces it. Refused in the preflight; nothing changes on either host.',
    hint: 'Pick another destination, uncordon the host (`ferry uncordon HOST`) once its maintenance is over, or pass --force to send it there anyway.',
    retryable: false,
  },
  SYSTEMD_UNIT_CONFLICT: {
    meaning: "The destination cannot take the container's systemd unit: it has no systemd, or already has a unit of that name. Refused before the freeze.",
    hint: 'Remove or rename the unit on the destination (`systemctl disable --now NAME`, then its file), or pick a destination that runs systemd.',
    retryable: false,
  },
  INOTIFY_ON_OVERLAY: {
    meaning: "A process of the container watches a file of the container's own root file system with inotify, outside the folders where CRIU looks for such files (/etc, /var/log, ...); CRIU cannot open it through the overlay. Refused before the freeze.",
    hint: 'Watch files on a bind mount or a volume instead, or turn file watching off in the application.',
    retryable: false,
  },
  DEVICE_PASSED_IN: {
    meaning: "A process of the container holds open a host device given with --device; CRIU cannot dump it. Refused before the freeze.",
    hint: 'Close the device before the move (stop what uses it), or move the container cold.',
    retryable: false,
  },
  LOCK_ON_MAPPED_FILE: {
    meaning: 'A process of the container holds a POSIX lock on a file it also maps into memory (SQLite in WAL mode does, on its -shm index); CRIU restores such a process without the lock, silently. Refused before the freeze.',
    hint: "Don't map a locked file; for SQLite use PRAGMA locking_mode=EXCLUSIVE or a rollback journal (journal_mode=DELETE).",
    retryable: false,
  },
  CHECKPOINT_FAILED: {
    meaning: 'podman/CRIU could not checkpoint the container.',
    hint: 'Read the CRIU lines in the error; the container keeps running on the source.',
    retryable: false,
  },
  TRANSFER_FAILED: {
    meaning: 'The archive could not be sent from the source agent to the destination agent.',
    hint: 'Check the network between the two hosts and the destination disk; the container was rolled back to the source.',
    retryable: true,
  },
  GRANT_INVALID: {
    meaning: 'A data connection presented a stream grant that is unknown, already used or expired.',
    hint: 'Grants are one-time and short-lived; the source agent asks for a fresh one by itself. If this persists, check that both agents run the same Ferry version.',
    retryable: true,
  },
  INTEGRITY_MISMATCH: {
    meaning: 'The bytes the destination received do not match what the source sent (size, offset or SHA-256).',
    hint: 'Nothing was restored; check the network path and the destination disk, then migrate again.',
    retryable: true,
  },
  ARCHIVE_REFUSED: {
    meaning: 'The checkpoint archive holds an entry that podman\'s own export never writes (a link, a path outside the container\'s directory, an unknown name); the destination refused to import it.',
    hint: 'Nothing was restored here and the source resumes its copy. Check the source host: its agent sent an archive that podman did not make.',
    retryable: false,
  },
  DISK_FULL: {
    meaning: 'The destination ran out of disk space while receiving.',
    hint: 'Free space in the agent state directory on the destination.',
    retryable: false,
  },
  RESTORE_FAILED: {
    meaning: 'podman/CRIU could not restore the container on the destination.',
    hint: 'Read the CRIU lines in the error; the destination was cleaned and the container rolled back to the source.',
    retryable: false,
  },
  VERIFY_FAILED: {
    meaning: "The restored container's published ports differ from the source's or do not answer.",
    hint: 'The container was rolled back to the source; check the port mappings and the firewall of the destination.',
    retryable: false,
  },
  ROLLBACK_FAILED: {
    meaning: 'A rollback step failed; the container may not be running anywhere.',
    hint: 'Run `ferry ps` on both hosts; restore by hand with `podman container restore --keep` on the source if needed.',
    retryable: false,
  },
  NOT_ANSWERING: {
    meaning: 'The container runs on the host, but its published ports do not answer there: it was resumed, not repaired.',
    hint: 'Check the container on that host (`podman exec` into it, `nsenter -t PID -n iptables -S` and `nft list ruleset` for a leftover CRIU lock); the agent tries the repair again every few seconds and logs each attempt.',
    retryable: true,
  },
  COMMIT_INCOMPLETE: {
    meaning: 'The container runs verified on the destination, but the source copy could not be removed.',
    hint: 'Remove the stopped container on the source with `podman rm` (it is not running).',
    retryable: false,
  },
  MIGRATION_UNKNOWN: {
    meaning: 'The agent has no migration with that ID.',
    hint: 'The migration ended or expired; start a new one.',
    retryable: false,
  },
  PODMAN_FAILED: {
    meaning: 'A podman command failed.',
    hint: 'Read the podman error in the message.',
    retryable: false,
  },
  CANCELLED: {
    meaning: 'The operation was cancelled (Ctrl-C or a deadline).',
    hint: 'The container was rolled back to the source; run the migration again when ready.',
    retryable: false,
  },
  INTERNAL: {
    meaning: 'An unexpected error inside Ferry.',
    hint: 'Report it with the agent logs.',
    retryable: false,
  },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

