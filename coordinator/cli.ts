// ferry: the coordinator CLI. Parses the arguments and hands them to one command (commands/);
// the migration itself lives in migrate.ts, its options in options.ts, its output in output.ts.
// Exit codes: 0 ok, 1 failed (the container runs on the source), 2 bad usage, 3 failed and the
// rollback did not complete.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS } from '../common/defaults.ts';
import { Dialer } from '../common/dial.ts';
import { FerryError } from '../common/errors.ts';
import { DEFAULT_PKI_DIR, loadTls, type TlsFiles } from '../common/pki.ts';
import { SshTunnels } from '../common/ssh/tunnels.ts';
import { runAgent } from './commands/agent.ts';
import { runCerts } from './commands/certs.ts';
import { runEvacuate } from './commands/evacuate.ts';
import { runHistory, runStatus } from './commands/history.ts';
import { runHosts } from './commands/hosts.ts';
import { runMigrate } from './commands/migrate.ts';
import { runPark } from './commands/park.ts';
import { runPs } from './commands/ps.ts';
import { runCordon } from './commands/cordon.ts';
import { runReturn } from './commands/return.ts';
import { loadInventory, locateInventory, type Inventory } from './inventory.ts';
import type { Values } from './options.ts';
import { defaultOutput, report, usage, type Output } from './output.ts';

const HELP = `ferry: live-migrate running podman containers between hosts.

Usage:
  ferry migrate --from HOST --to HOST CONTAINER   move a running container, memory and TCP connections included
  ferry preflight --from HOST --to HOST CONTAINER every check a migration makes first; changes nothing
                                                  (the same as ferry migrate --dry-run)
  ferry evacuate --from HOST --to HOST[,HOST...] [--parallel N]
                                                  move every running container off a host, up to N
                                                  at once (default 1), each to the destination with
                                                  the most free memory and disk whose preflight takes
                                                  it; ends with a table: container, destination,
                                                  result, downtime. A failure rolls back that one
                                                  container only; Ctrl-C starts no more and rolls
                                                  back the ones under way
  ferry cordon HOST [--reason TEXT]               keep placement away from HOST (before its maintenance):
                                                  evacuate and return never pick it, and it refuses a
                                                  migrate unless --force; kept by its agent, shown by
                                                  ferry hosts
  ferry uncordon HOST                             let HOST take containers again
  ferry return HOST [--parallel N] [--dry-run]    move back to HOST every container that ferry evacuate
                                                  took from it (each host remembers what arrived by an
                                                  evacuation); those moved on since or gone are
                                                  skipped with the reason; the same preflight,
                                                  progress and table as evacuate
  ferry hosts                                     the inventory's hosts: each agent's health (SERVING,
                                                  NOT_SERVING while it stops, DOWN and why), podman, runc,
                                                  CRIU, criu check; exit code 1 when one is not SERVING
  ferry history [HOST] [--limit N]                past migrations from the agents' journals, newest first,
                                                  one row each: when, ID, container, from, to, result,
                                                  downtime (default: every host, the last 50)
  ferry status ID                                 one migration: its hosts, result, downtime, and every
                                                  phase of both sides with when it began and how long it took
  ferry ps HOST                                   containers on a host
  ferry park HOST [CONTAINER...]                  before a reboot with no spare host: checkpoint HOST's
                                                  running containers to its own disk (hooks and validation
                                                  as in a migration), stopping them
  ferry unpark HOST [CONTAINER...]                restore them and verify their ports (the agent does it
                                                  by itself when it starts after the reboot)
  ferry agent install HOST                        set up HOST over SSH: the project, the agent's certificate
                                                  (from the local CA), its flags, and the agent as a systemd
                                                  service (a supervised process where systemd does not run);
                                                  run again, it changes only what changed
  ferry agent status HOST | restart HOST          the agent's service on HOST, and whether it answers
  ferry certs init [--dir DIR]                    make the fleet's private CA (default /etc/ferry/pki)
  ferry certs issue NAME [--role agent|coordinator] [--ip ADDR]... [--dns NAME]... [--days N]
                                                  a certificate for an agent (with its addresses)
                                                  or for the coordinator
  ferry certs renew NAME [--days N]               the same certificate again, a new key and validity;
                                                  agents pick up their renewed files without a restart
  ferry certs revoke NAME                          add it to the CA's revocation list (crl.pem): every
                                                  agent and coordinator with that file refuses it
  ferry help                                      this text
(also installed as \`migrate\`: \`migrate --from hostA --to hostB CONTAINER\`)

A HOST is a name from the inventory or an agent address ADDRESS:PORT.

Options:
  --inventory FILE   hosts file (default: $FERRY_INVENTORY, /etc/ferry/inventory.json,
                     then the local lab's /var/lib/ferry-lab/ferry/inventory.json)
  --json             one JSON object per event on stdout, for scripts, progress included
                     (without it, progress is rewritten in place when stdout is a terminal,
                     and a line a second otherwise)
  --tls-dir DIR      where ca.pem, coordinator.pem and coordinator.key are (default: the
                     inventory's "tls", then /etc/ferry/pki; none: plaintext to --insecure agents)
  --known-hosts FILE  SSH host keys of the hosts the inventory reaches over SSH ("ssh" on a host;
                     default: the inventory's "knownHosts", then ~/.ssh/known_hosts). An unknown
                     or changed key is refused
  --accept-new-host-keys  record the key of a host not yet in the known_hosts file and go on
                     (as ssh -o StrictHostKeyChecking=accept-new); a changed key is still refused
  --compress ALG     checkpoint archive compression: auto (default: the source measures how well
                     the container's memory compresses and how fast the link is, and picks zstd
                     or none), none, zstd, gzip
  --verify-timeout MS  how long each published port may take to answer (default ${DEFAULTS.portAnswerMs})
  --replace-data     bind-mount paths that already hold data on the destination are replaced
                     (the old content is kept aside until the migration commits)
  --ignore-bind-mounts  do not copy bind-mounted data (shared storage both hosts see)
  --no-presync       copy bind-mounted data only after the freeze (longer downtime; for comparison)
  --dry-run          run the preflight checks only
  --force            migrate or return to a cordoned host all the same
  --reason TEXT      for cordon: why, shown by ferry hosts and in refusals
  --new-address      where the destination's container network cannot hold the container's IP
                     (another site, another subnet), restore it with a new IP from that network
                     instead of refusing: its established TCP connections are closed (a warning
                     says so) and the summary prints the new IP. Refused for a container with a
                     service address (io.ferry.service-address). Elsewhere it changes nothing
  --transfer-retry-ms MS  how long a broken transfer keeps being resumed from where it stopped
                     before the migration rolls back (default ${DEFAULTS.transferRetryMs})
  --bwlimit RATE     cap every stream of the migration (archive, image, data) at RATE bytes per
                     second; K, M, G mean KiB, MiB, GiB (e.g. 100M); or in bits per second as a
                     link is rated: kbit, mbit, gbit (e.g. 20mbit); default: no cap
  --limit N          for history: at most N migrations (default 50)
  --parallel N       for evacuate and return: how many containers move at once (1 to 16, default 1)
  --prefix DIR, --config-dir DIR, --state-dir DIR  for ferry agent: where the project, the
                     agent's flags and certificates, and its journal go on the host (default
                     /opt/ferry, /etc/ferry, /var/lib/ferry/agent)
  -h, --help         this text

How a migration goes: preflight (both agents, CRIU, the container, the destination's ports,
name and image) -> checkpoint (podman container checkpoint --tcp-established on the source;
the image if the destination lacks it and bind-mounted data go before the freeze)
-> transfer (the source agent streams the archive to the destination agent's data port while
podman writes it, mutual TLS, each chunk CRC-32 checked and the whole SHA-256 checked; only
the data that changed since the first round goes after the freeze) -> restore (the destination
feeds podman container restore --import the archive as it arrives and lets it finish once the
whole checked out) -> verify (same published ports, each answers on the destination) -> commit
(the source copy is removed). The summary's "service gone" runs from CRIU's freeze to the first
answer on the destination.
Any failure after the freeze rolls back: the destination removes what it made, the source
resumes from its local checkpoint. Ctrl-C rolls back too.

Exit codes: 0 done; 1 failed and rolled back (the container runs on the source);
2 bad usage; 3 failed and the rollback did not complete (read the message).
`;

export async function main(argv: string[], io: Output = defaultOutput(false)): Promise<number> {
  // bin/ferry passes the name it was run by (bin/migrate links to it); `migrate --from A --to B C`
  // means `ferry migrate --from A --to B C`.
  const invokedAs = process.env.FERRY_AS ?? basename(process.argv[1] ?? 'ferry');
  const args = invokedAs === 'migrate' && argv[0] !== 'migrate' ? ['migrate', ...argv] : argv;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        inventory: { type: 'string' },
        json: { type: 'boolean', default: false },
        compress: { type: 'string', default: 'auto' },
        'verify-timeout': { type: 'string', default: String(DEFAULTS.portAnswerMs) },
        'replace-data': { type: 'boolean', default: false },
        'ignore-bind-mounts': { type: 'boolean', default: false },
        'no-presync': { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        'new-address': { type: 'boolean', default: false },
        'transfer-retry-ms': { type: 'string', default: String(DEFAULTS.transferRetryMs) },
        bwlimit: { type: 'string' },
        parallel: { type: 'string', default: '1' },
        force: { type: 'boolean', default: false },
        reason: { type: 'string' },
        limit: { type: 'string' },
        'tls-dir': { type: 'string' },
        'known-hosts': { type: 'string' },
        'accept-new-host-keys': { type: 'boolean', default: false },
        prefix: { type: 'string', default: '/opt/ferry' },
        'config-dir': { type: 'string', default: '/etc/ferry' },
        'state-dir': { type: 'string', default: '/var/lib/ferry/agent' },
        dir: { type: 'string', default: DEFAULT_PKI_DIR },
        role: { type: 'string' },
        ip: { type: 'string', multiple: true },
        dns: { type: 'string', multiple: true },
        days: { type: 'string', default: '825' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return report(new FerryError('BAD_REQUEST', (error as Error).message, { hint: 'See `ferry --help`.' }), { ...io, json: args.includes('--json') });
  }
  const { values, positionals } = parsed;
  const output = { ...io, json: values.json };
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    io.out(HELP);
    return command || values.help ? 0 : 2;
  }
  try {
    if (command === 'certs') return await runCerts(values, rest, output);
    const inventory = loadInventory(locateInventory(values.inventory));
    const tls = await coordinatorTls(values['tls-dir'], inventory);
    const knownHosts = values['known-hosts'] ?? inventory.knownHosts ?? DEFAULT_KNOWN_HOSTS;
    const tunnels = new SshTunnels({ knownHosts, acceptNew: values['accept-new-host-keys'] });
    const dialer = new Dialer({ tls, tunnels, preferDirect: false });
    try {
      if (command === 'agent') {
        const caDir = values['tls-dir'] ?? inventory.tls?.dir ?? DEFAULT_PKI_DIR;
        const install = { dialer, tunnels, caDir, knownHosts, prefix: values.prefix, configDir: values['config-dir'], stateDir: values['state-dir'] };
        return await runAgent(inventory, install, rest, output);
      }
      return await run(command, inventory, dialer, values, rest, output);
    } finally {
      await dialer.close();
    }
  } catch (error) {
    return report(FerryError.from(error), output);
  }
}

/** The user's own known_hosts, as ssh reads it. */
const DEFAULT_KNOWN_HOSTS = join(homedir(), '.ssh', 'known_hosts');

function run(command: string, inventory: Inventory, dialer: Dialer, values: Values, rest: string[], output: Output): Promise<number> {
  switch (command) {
    case 'migrate':
      return runMigrate(inventory, dialer, values, rest, output);
    case 'preflight':
      return runMigrate(inventory, dialer, { ...values, 'dry-run': true }, rest, output);
    case 'evacuate':
      return runEvacuate(inventory, dialer, values, rest, output);
    case 'hosts':
      return runHosts(inventory, dialer, output);
    case 'ps':
      return runPs(inventory, dialer, rest, output);
    case 'history':
      return runHistory(inventory, dialer, rest, values.limit, output);
    case 'status':
      return runStatus(inventory, dialer, rest, output);
    case 'cordon':
    case 'uncordon':
      return runCordon(inventory, dialer, command, rest, values.reason, output);
    case 'return':
      return runReturn(inventory, dialer, values, rest, output);
    case 'park':
    case 'unpark':
      return runPark(inventory, dialer, command, rest, output);
    default:
      return usage(`unknown command "${command}"`);
  }
}

/**
 * The coordinator's certificate: from --tls-dir, else the inventory's "tls", else the default
 * PKI directory when it has one; without any, plaintext (agents started with --insecure).
 */
async function coordinatorTls(dir: string | undefined, inventory: Inventory): Promise<TlsFiles | undefined> {
  if (dir) return loadTls(dir, 'coordinator');
  if (inventory.tls) return loadTls(inventory.tls.dir, inventory.tls.name);
  if (existsSync(`${DEFAULT_PKI_DIR}/coordinator.pem`)) return loadTls(DEFAULT_PKI_DIR, 'coordinator');
  return undefined;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`ferry: internal error: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
