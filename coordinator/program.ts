// The ferry command line as a commander program: each command with its own options and its own
// --help, defaults taken from common/defaults.ts, an option a command does not know refused by that
// command. The commands themselves live in commands/; what a command needs of the fleet (the
// inventory, the coordinator's certificate, SSH) is made by cli.ts and handed in as `Fleet`.
import { Command, Option } from 'commander';
import { DEFAULTS } from '../common/defaults.ts';
import { DEFAULT_PKI_DIR } from '../common/pki.ts';
import type { Dialer } from '../common/dial.ts';
import type { SshTunnels } from '../common/ssh/tunnels.ts';
import { runAgent } from './commands/agent.ts';
import { runCerts } from './commands/certs.ts';
import { runCordon } from './commands/cordon.ts';
import { runEvacuate } from './commands/evacuate.ts';
import { runHistory, runStatus } from './commands/history.ts';
import { runHosts } from './commands/hosts.ts';
import { runMigrate } from './commands/migrate.ts';
import { runPark } from './commands/park.ts';
import { runPs } from './commands/ps.ts';
import { runReturn } from './commands/return.ts';
import { completionScript } from './completion.ts';
import type { Inventory } from './inventory.ts';
import type { Values } from './options.ts';
import type { Output } from './output.ts';

/** The options every command takes. */
export interface GlobalOptions {
  inventory?: string | undefined;
  json?: boolean | undefined;
  tlsDir?: string | undefined;
  knownHosts?: string | undefined;
  acceptNewHostKeys?: boolean | undefined;
}

/** What a command that talks to agents gets: the inventory, and how to reach its hosts. */
export interface Fleet {
  inventory: Inventory;
  dialer: Dialer;
  tunnels: SshTunnels;
  knownHosts: string;
  /** Where the CA is for ferry agent install: --tls-dir, the inventory's, or the default. */
  caDir: string;
}

/** How cli.ts runs a command: with the fleet made from the global options (or without, for certs and completion). */
export interface Runner {
  /** Runs `work`, whose resolved number is the exit code; cli.ts keeps it. */
  withFleet(globals: GlobalOptions, work: (fleet: Fleet, io: Output) => Promise<number>): Promise<void>;
  plain(globals: GlobalOptions, work: (io: Output) => Promise<number>): Promise<void>;
}

export const HELP_AFTER = `
Examples:
  ferry migrate --from HOST --to HOST CONTAINER     move a running container, memory and TCP connections included
  (also installed as \`migrate\`: \`migrate --from hostA --to hostB CONTAINER\`)
  ferry evacuate --from hostA --to hostB,hostC --parallel 3
  ferry cordon hostA --reason 'podman upgrade'; ferry evacuate ...; ferry uncordon hostA; ferry return hostA
  ferry COMMAND --help                              each command's options and their defaults

A HOST is a name from the inventory or an agent address ADDRESS:PORT.

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

/** The options of a migration, for migrate, preflight, evacuate and return. */
function migrationOptions(command: Command, options: { dryRun: boolean }): Command {
  command
    .addOption(new Option('--compress <alg>', 'checkpoint archive compression: auto measures how well the memory compresses and how fast the link is, and picks zstd or none').choices(['auto', 'none', 'zstd', 'gzip']).default('auto'))
    .option('--verify-timeout <ms>', 'how long each published port may take to answer', String(DEFAULTS.portAnswerMs))
    .option('--replace-data', 'replace bind-mount paths that already hold data on the destination (the old content is kept aside until the commit)')
    .option('--ignore-bind-mounts', 'do not copy bind-mounted data (shared storage both hosts see)')
    .option('--no-presync', 'copy bind-mounted data only after the freeze (longer downtime; for comparison)')
    .option('--new-address', "where the destination's network cannot hold the container's IP (another site), restore it with a new IP; its established TCP connections are closed")
    .option('--transfer-retry-ms <ms>', 'how long a broken transfer keeps being resumed before the migration rolls back', String(DEFAULTS.transferRetryMs))
    .option('--bwlimit <rate>', 'cap every stream of the migration: bytes per second with K, M, G (100M), or bits as a link is rated (20mbit); default: no cap')
    .option('--force', 'to a cordoned destination all the same');
  if (options.dryRun) command.option('--dry-run', 'run the preflight checks only; nothing changes');
  return command;
}

type MigrationOpts = Record<string, string | boolean | undefined>;

/** A repeatable option's values, in order. */
const collect = (value: string, list: string[] | undefined): string[] => [...(list ?? []), value];

/** A command's options as the command modules read them (kebab-case, as typed). */
function values(opts: MigrationOpts, extra: Partial<Values> = {}): Values {
  const text = (key: string) => (typeof opts[key] === 'string' ? (opts[key] as string) : undefined);
  return {
    from: text('from'),
    to: text('to'),
    compress: text('compress') ?? 'auto',
    'verify-timeout': text('verifyTimeout') ?? String(DEFAULTS.portAnswerMs),
    'replace-data': opts.replaceData === true,
    'ignore-bind-mounts': opts.ignoreBindMounts === true,
    'no-presync': opts.presync === false,
    'dry-run': opts.dryRun === true,
    'new-address': opts.newAddress === true,
    'transfer-retry-ms': text('transferRetryMs') ?? String(DEFAULTS.transferRetryMs),
    bwlimit: text('bwlimit'),
    parallel: text('parallel'),
    force: opts.force === true,
    ...extra,
  };
}

export function buildProgram(runner: Runner): Command {
  const program = new Command('ferry')
    .description('live-migrate running podman containers between hosts')
    .option('--inventory <file>', 'hosts file (default: $FERRY_INVENTORY, /etc/ferry/inventory.json, then the local lab\'s)')
    .option('--json', 'one JSON object per event on stdout, for scripts, progress included')
    .option('--tls-dir <dir>', `where ca.pem and the coordinator's certificate are (default: the inventory's "tls", then ${DEFAULT_PKI_DIR}; none: plaintext to --insecure agents)`)
    .option('--known-hosts <file>', 'SSH host keys of the hosts reached over SSH (default: the inventory\'s "knownHosts", then ~/.ssh/known_hosts)')
    .option('--accept-new-host-keys', 'record the key of a host not yet in the known_hosts file and go on; a changed key is still refused')
    .addHelpText('after', HELP_AFTER)
    .showSuggestionAfterError(true)
    // A command's --help lists the options every command takes too.
    .configureHelp({ showGlobalOptions: true });


  addMoveCommands(program, runner);
  addFleetCommands(program, runner);
  addSetupCommands(program, runner);
  return program;
}

/** Every option a command takes, its own and the global ones. */
const globals = (command: Command) => command.optsWithGlobals<GlobalOptions & MigrationOpts>();

/** What moves containers: migrate and preflight, evacuate, return. */
function addMoveCommands(program: Command, runner: Runner): void {
  // migrate and preflight: one container, the same options (preflight is a dry run of migrate).
  for (const [name, description, dryRun] of [
    ['migrate', 'move a running container, memory and TCP connections included', false],
    ['preflight', 'every check a migration makes first; changes nothing (the same as migrate --dry-run)', true],
  ] as const) {
    migrationOptions(
      program.command(name).description(description).argument('[container...]').option('--from <host>', 'the host the container runs on').option('--to <host>', 'the host to move it to'),
      { dryRun: !dryRun },
    ).action((container: string[], _opts, command: Command) =>
      runner.withFleet(globals(command), (fleet, io) => runMigrate(fleet.inventory, fleet.dialer, values(globals(command), dryRun ? { 'dry-run': true } : {}), container, io)),
    );
  }

  migrationOptions(
    program
      .command('evacuate')
      .description('move every running container off a host, each to the destination with the most free memory and disk whose preflight takes it; ends with a table')
      .option('--from <host>', 'the host to empty')
      .option('--to <hosts>', 'the destinations, HOST[,HOST...]')
      .option('--parallel <n>', 'how many containers move at once (1 to 16)', '1'),
    { dryRun: true },
  ).action((_opts, command: Command) => runner.withFleet(globals(command), (fleet, io) => runEvacuate(fleet.inventory, fleet.dialer, values(globals(command)), [], io)));

  migrationOptions(
    program
      .command('return')
      .description('move back to HOST every container that ferry evacuate took from it; those moved on since or gone are skipped with the reason')
      .argument('<host>')
      .option('--parallel <n>', 'how many containers move at once (1 to 16)', '1'),
    { dryRun: true },
  ).action((host: string, _opts, command: Command) => runner.withFleet(globals(command), (fleet, io) => runReturn(fleet.inventory, fleet.dialer, values(globals(command)), [host], io)));

}

/** What looks after the fleet: cordon and uncordon, hosts, ps, history and status, park and unpark. */
function addFleetCommands(program: Command, runner: Runner): void {
  program
    .command('cordon')
    .description('keep placement away from HOST: evacuate and return never pick it, and it refuses a migrate unless --force; kept by its agent')
    .argument('<host>')
    .option('--reason <text>', 'why: shown by ferry hosts and in refusals')
    .action((host: string, opts: { reason?: string }, command: Command) =>
      runner.withFleet(globals(command), (fleet, io) => runCordon(fleet.inventory, fleet.dialer, 'cordon', [host], opts.reason, io)),
    );
  program
    .command('uncordon')
    .description('let HOST take containers again')
    .argument('<host>')
    .action((host: string, _opts, command: Command) => runner.withFleet(globals(command), (fleet, io) => runCordon(fleet.inventory, fleet.dialer, 'uncordon', [host], undefined, io)));

  program
    .command('hosts')
    .description("the inventory's hosts: each agent's health, podman, runtime and CRIU, its cordon and certificate; exit code 1 when one is not SERVING")
    .action((_opts, command: Command) => runner.withFleet(globals(command), (fleet, io) => runHosts(fleet.inventory, fleet.dialer, io)));
  program
    .command('ps')
    .description('the containers on a host')
    .argument('[host]')
    .action((host: string | undefined, _opts, command: Command) => runner.withFleet(globals(command), (fleet, io) => runPs(fleet.inventory, fleet.dialer, host ? [host] : [], io)));
  program
    .command('history')
    .description("past migrations from the agents' journals, newest first (default: every host)")
    .argument('[host]')
    .option('--limit <n>', 'at most N migrations', '50')
    .action((host: string | undefined, opts: { limit: string }, command: Command) =>
      runner.withFleet(globals(command), (fleet, io) => runHistory(fleet.inventory, fleet.dialer, host ? [host] : [], opts.limit, io)),
    );
  program
    .command('status')
    .description('one migration: its hosts, result, downtime, and every phase of both sides')
    .argument('[migration-id]')
    .action((id: string | undefined, _opts, command: Command) => runner.withFleet(globals(command), (fleet, io) => runStatus(fleet.inventory, fleet.dialer, id ? [id] : [], io)));
  for (const method of ['park', 'unpark'] as const) {
    program
      .command(method)
      .description(
        method === 'park'
          ? "before a reboot with no spare host: checkpoint HOST's running containers (all when none is named) to its own disk, stopping them"
          : 'restore parked containers and verify their ports (the agent does it by itself when it starts)',
      )
      .argument('[host]')
      .argument('[container...]')
      .action((host: string | undefined, containers: string[], _opts, command: Command) =>
        runner.withFleet(globals(command), (fleet, io) => runPark(fleet.inventory, fleet.dialer, method, host ? [host, ...containers] : [], io)),
      );
  }

}

/** What sets a host up: its agent, the certificates, shell completion. */
function addSetupCommands(program: Command, runner: Runner): void {
  program
    .command('agent')
    .description("set up HOST over SSH (install), or look after its agent's service (status, restart)")
    .argument('[action]', 'install, status or restart')
    .argument('[host]')
    .option('--prefix <dir>', 'where the project goes on the host', '/opt/ferry')
    .option('--config-dir <dir>', "where the agent's flags and certificates go", '/etc/ferry')
    .option('--state-dir <dir>', "where the agent's journal goes", '/var/lib/ferry/agent')
    .action((action: string | undefined, host: string | undefined, opts: { prefix: string; configDir: string; stateDir: string }, command: Command) =>
      runner.withFleet(globals(command), (fleet, io) =>
        runAgent(
          fleet.inventory,
          { dialer: fleet.dialer, tunnels: fleet.tunnels, caDir: fleet.caDir, knownHosts: fleet.knownHosts, prefix: opts.prefix, configDir: opts.configDir, stateDir: opts.stateDir },
          [action, host].filter((x): x is string => x !== undefined),
          io,
        ),
      ),
    );

  program
    .command('certs')
    .description("the fleet's CA: init; issue NAME; renew NAME (agents pick it up without a restart); revoke NAME (a CRL every agent and coordinator honours)")
    .argument('[action]', 'init, issue, renew or revoke')
    .argument('[name]')
    .option('--dir <dir>', "the CA's folder", DEFAULT_PKI_DIR)
    .addOption(new Option('--role <role>', 'for issue: the certificate is for an agent or the coordinator (default: coordinator for the name coordinator)').choices(['agent', 'coordinator']))
    .option('--ip <addr>', "for issue: an address of the agent's (repeat it)", collect)
    .option('--dns <name>', "for issue: a DNS name of the agent's (repeat it)", collect)
    .option('--days <n>', 'for issue and renew: how long it is valid', '825')
    .action((action: string | undefined, name: string | undefined, opts: { dir: string; role?: string; ip?: string[]; dns?: string[]; days: string }, command: Command) =>
      runner.plain(globals(command), (io) => runCerts(opts, [action, name].filter((x): x is string => x !== undefined), io)),
    );

  program
    .command('completion')
    .description('a completion script for bash or zsh: source <(ferry completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string, _opts, command: Command) =>
      runner.plain(globals(command), async (io) => {
        io.out(completionScript(program, shell));
        return 0;
      }),
    );

}
