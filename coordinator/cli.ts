// ferry: the coordinator CLI. Parses arguments, runs one command and renders its events; the
// work itself lives in migrate.ts and friends. Exit codes: 0 ok, 1 failed (the container runs
// on the source), 2 bad usage, 3 failed and the rollback did not complete.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { FerryError } from '../common/errors.ts';
import { DEFAULT_PKI_DIR, initCa, issue, loadTls, notAfter, type TlsFiles } from '../common/pki.ts';
import { AgentConnection } from '../common/client.ts';
import type { MigrationEvent } from './events.ts';
import { loadInventory, locateInventory, resolveHost, type HostEntry, type Inventory } from './inventory.ts';
import { migrate } from './migrate.ts';
import { eventJson, formatBytes, formatError, formatEvent } from './render.ts';

const HELP = `ferry: live-migrate running podman containers between hosts.

Usage:
  ferry migrate --from HOST --to HOST CONTAINER   move a running container, memory and TCP connections included
  ferry preflight --from HOST --to HOST CONTAINER every check a migration makes first; changes nothing
                                                  (the same as ferry migrate --dry-run)
  ferry evacuate --from HOST --to HOST[,HOST...]  move every running container off a host
  ferry hosts                                     the inventory's hosts: agent, podman, runc, CRIU, criu check
  ferry ps HOST                                   containers on a host
  ferry certs init [--dir DIR]                    make the fleet's private CA (default /etc/ferry/pki)
  ferry certs issue NAME [--role agent|coordinator] [--ip ADDR]... [--dns NAME]... [--days N]
                                                  a certificate for an agent (with its addresses)
                                                  or for the coordinator
  ferry help                                      this text
(also installed as \`migrate\`: \`migrate --from hostA --to hostB CONTAINER\`)

A HOST is a name from the inventory or an agent address ADDRESS:PORT.

Options:
  --inventory FILE   hosts file (default: $FERRY_INVENTORY, /etc/ferry/inventory.json,
                     then the local lab's /var/lib/ferry-lab/ferry/inventory.json)
  --json             one JSON object per event on stdout, for scripts
  --tls-dir DIR      where ca.pem, coordinator.pem and coordinator.key are (default: the
                     inventory's "tls", then /etc/ferry/pki; none: plaintext to --insecure agents)
  --compress ALG     checkpoint archive compression: none (default), zstd, gzip
  --verify-timeout MS  how long each published port may take to answer (default 10000)
  --replace-data     bind-mount paths that already hold data on the destination are replaced
                     (the old content is kept aside until the migration commits)
  --ignore-bind-mounts  do not copy bind-mounted data (shared storage both hosts see)
  --no-presync       copy bind-mounted data only after the freeze (longer downtime; for comparison)
  --dry-run          run the preflight checks only
  --transfer-retry-ms MS  how long a broken transfer keeps being resumed from where it stopped
                     before the migration rolls back (default 30000)
  --bwlimit RATE     cap every stream of the migration (archive, image, data) at RATE bytes per
                     second; K, M, G mean KiB, MiB, GiB (e.g. 100M); default: no cap
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

interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

function usage(message: string): never {
  throw new FerryError('BAD_REQUEST', message, { hint: 'See `ferry --help`.' });
}

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
        compress: { type: 'string', default: 'none' },
        'verify-timeout': { type: 'string', default: '10000' },
        'replace-data': { type: 'boolean', default: false },
        'ignore-bind-mounts': { type: 'boolean', default: false },
        'no-presync': { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        'transfer-retry-ms': { type: 'string', default: '30000' },
        bwlimit: { type: 'string' },
        'tls-dir': { type: 'string' },
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
    switch (command) {
      case 'migrate':
        return await runMigrate(inventory, tls, values, rest, output);
      case 'preflight':
        return await runMigrate(inventory, tls, { ...values, 'dry-run': true }, rest, output);
      case 'evacuate':
        return await runEvacuate(inventory, tls, values, rest, output);
      case 'hosts':
        return await runHosts(inventory, tls, output);
      case 'ps':
        return await runPs(inventory, tls, rest, output);
      default:
        return usage(`unknown command "${command}"`);
    }
  } catch (error) {
    return report(FerryError.from(error), output);
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

async function runCerts(
  values: { dir: string; role?: string | undefined; ip?: string[] | undefined; dns?: string[] | undefined; days: string },
  rest: string[],
  io: Output,
): Promise<number> {
  const [action, name] = rest;
  if (action === 'init') {
    const { created } = await initCa(values.dir);
    io.out(created ? `certs      made the Ferry CA in ${values.dir} (ca.pem, ca.key)` : `certs      ${values.dir} already has a CA; kept it`);
    return 0;
  }
  if (action === 'issue' && name) {
    const role = values.role ?? (name === 'coordinator' ? 'coordinator' : 'agent');
    if (role !== 'agent' && role !== 'coordinator') usage(`--role must be agent or coordinator, not "${role}"`);
    const days = Number(values.days);
    if (!Number.isInteger(days) || days < 1) usage('--days must be a whole number of days');
    const path = await issue(values.dir, name, { role, ips: values.ip ?? [], dns: values.dns ?? [], days });
    io.out(`certs      issued ${path} (${role}) valid until ${notAfter(readFileSync(path))}`);
    return 0;
  }
  return usage('ferry certs init [--dir DIR] | ferry certs issue NAME [--role agent|coordinator] [--ip ADDR]... [--dns NAME]... [--days N] [--dir DIR]');
}

function report(error: FerryError, io: Output): number {
  if (io.json) io.out(JSON.stringify({ event: 'error', error }));
  else io.err(formatError(error));
  return exitCode(error);
}

const USAGE_CODES = new Set(['BAD_REQUEST', 'UNKNOWN_HOST', 'INVENTORY_INVALID', 'SAME_HOST']);

function exitCode(error: FerryError): number {
  if (error.code === 'ROLLBACK_FAILED') return 3;
  return USAGE_CODES.has(error.code) ? 2 : 1;
}

interface Values {
  from?: string | undefined;
  to?: string | undefined;
  compress: string;
  'verify-timeout': string;
  'replace-data': boolean;
  'ignore-bind-mounts': boolean;
  'no-presync': boolean;
  'dry-run': boolean;
  'transfer-retry-ms': string;
  bwlimit?: string | undefined;
}

const RATE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** "100M" -> 104857600 bytes per second; undefined: no cap. */
export function parseRate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(text.trim());
  const unit = RATE_UNITS[(match?.[2] ?? '').toUpperCase()];
  const rate = match && unit ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(rate) || rate < 64 * 1024) usage(`--bwlimit must be a rate of at least 64K (bytes per second, with K, M or G), not "${text}"`);
  return rate;
}

function endpoints(inventory: Inventory, values: Values): { from: HostEntry; to: HostEntry[] } {
  if (!values.from) usage('--from HOST is required');
  if (!values.to) usage('--to HOST is required');
  const from = resolveHost(inventory, values.from);
  const to = values.to.split(',').filter(Boolean).map((name) => resolveHost(inventory, name));
  for (const host of to) {
    if (host.name === from.name || host.agent === from.agent) {
      throw new FerryError('SAME_HOST', `--from and --to are both ${from.name}`, { phase: 'preflight' });
    }
  }
  return { from, to };
}

function migrationSettings(values: Values) {
  const compress = values.compress;
  if (compress !== 'none' && compress !== 'zstd' && compress !== 'gzip') usage(`--compress must be none, zstd or gzip, not "${compress}"`);
  const verifyTimeoutMs = Number(values['verify-timeout']);
  if (!Number.isInteger(verifyTimeoutMs) || verifyTimeoutMs <= 0) usage('--verify-timeout must be a positive number of milliseconds');
  const transferRetryMs = Number(values['transfer-retry-ms']);
  if (!Number.isInteger(transferRetryMs) || transferRetryMs < 0) usage('--transfer-retry-ms must be a whole number of milliseconds');
  return {
    compress: compress as 'none' | 'zstd' | 'gzip',
    transferRetryMs,
    verifyTimeoutMs,
    replaceData: values['replace-data'],
    ignoreBindMounts: values['ignore-bind-mounts'],
    noPresync: values['no-presync'],
    dryRun: values['dry-run'],
    bwlimitBytesPerSec: parseRate(values.bwlimit),
  };
}

/** Ctrl-C aborts the migration, which then rolls back; a second Ctrl-C only says so. */
function interruptible(io: Output): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      io.err('still rolling back; wait for it to finish so the container is left running on one host');
      return;
    }
    io.err('interrupted: rolling back...');
    controller.abort(new FerryError('CANCELLED', 'interrupted by the user'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

interface Renderer {
  (event: MigrationEvent): void;
  /** Whether a 'failed' event has been shown, so the error need not be printed again. */
  sawFailure: () => boolean;
}

function renderer(io: Output): Renderer {
  let lastProgress = 0;
  let failed = false;
  const render = (event: MigrationEvent) => {
    if (event.kind === 'failed') failed = true;
    if (io.json) {
      io.out(eventJson(event));
      return;
    }
    if (event.kind === 'progress') {
      // Progress lines at most once a second; the final size is in the 'transferred' line.
      if (Date.now() - lastProgress < 1000 || event.bytes === event.totalBytes) return;
      lastProgress = Date.now();
    }
    const text = formatEvent(event);
    if (text !== undefined) (event.kind === 'failed' || event.kind === 'warning' ? io.err : io.out)(text);
  };
  return Object.assign(render, { sawFailure: () => failed });
}

async function runMigrate(inventory: Inventory, tls: TlsFiles | undefined, values: Values, rest: string[], io: Output): Promise<number> {
  if (rest.length !== 1) usage(rest.length ? `one container at a time, got ${rest.length}: ${rest.join(' ')}` : 'which container? ferry migrate --from A --to B CONTAINER');
  const { from, to } = endpoints(inventory, values);
  if (to.length !== 1) usage('migrate takes one --to host');
  const settings = migrationSettings(values);
  const interrupt = interruptible(io);
  const render = renderer(io);
  try {
    await migrate({ from, to: to[0] as HostEntry, container: rest[0] as string, ...settings, signal: interrupt.signal, tls }, render);
    return 0;
  } catch (error) {
    const failure = FerryError.from(error);
    // The 'failed' event already showed the error; only a rollback failure needs saying again.
    if (failure.code === 'ROLLBACK_FAILED' || !render.sawFailure()) return report(failure, io);
    return exitCode(failure);
  } finally {
    interrupt.dispose();
  }
}

async function runEvacuate(inventory: Inventory, tls: TlsFiles | undefined, values: Values, rest: string[], io: Output): Promise<number> {
  if (rest.length) usage(`evacuate takes no container names (got ${rest.join(' ')}); it moves every running container`);
  const { from, to } = endpoints(inventory, values);
  const settings = migrationSettings(values);
  const source = new AgentConnection(from, tls);
  let containers;
  try {
    containers = (await source.list(false)).filter((c) => c.state === 'running');
  } finally {
    source.close();
  }
  const interrupt = interruptible(io);
  let failed = 0;
  try {
    for (const [index, container] of containers.entries()) {
      if (interrupt.signal.aborted) break;
      const target = to[index % to.length] as HostEntry;
      try {
        await migrate({ from, to: target, container: container.name, ...settings, signal: interrupt.signal, tls }, renderer(io));
      } catch (error) {
        failed += 1;
        const failure = FerryError.from(error);
        if (failure.code === 'ROLLBACK_FAILED') return report(failure, io);
      }
    }
  } finally {
    interrupt.dispose();
  }
  const moved = containers.length - failed;
  if (io.json) io.out(JSON.stringify({ event: 'evacuated', host: from.name, moved, failed, total: containers.length }));
  else io.out(`evacuate   ${from.name}: ${moved} of ${containers.length} running containers moved${failed ? `, ${failed} failed and stayed` : ''}`);
  return failed ? 1 : 0;
}

async function runHosts(inventory: Inventory, tls: TlsFiles | undefined, io: Output): Promise<number> {
  if (!inventory.hosts.size) usage('the inventory has no hosts (pass --inventory FILE)');
  const rows = await Promise.all(
    [...inventory.hosts.values()].map(async (host) => {
      const agent = new AgentConnection(host, tls);
      try {
        const info = await agent.info({ timeoutMs: 10_000 });
        return { host: host.name, agent: host.agent, ok: true, info };
      } catch (error) {
        return { host: host.name, agent: host.agent, ok: false, error: FerryError.from(error) };
      } finally {
        agent.close();
      }
    }),
  );
  if (io.json) {
    io.out(JSON.stringify({ event: 'hosts', hosts: rows }));
  } else {
    for (const row of rows) {
      if (row.ok && 'info' in row && row.info) {
        const i = row.info;
        io.out(
          `${row.host.padEnd(8)} ${row.agent.padEnd(22)} up  podman ${i.podmanVersion} ${i.ociRuntime} ${i.runcVersion} criu ${i.criuVersion}` +
            ` check ${i.criuCheckOk ? 'ok' : 'FAILS'} pre-copy ${i.dirtyTracking ? 'yes' : 'no'} free ${formatBytes(Number(i.freeDiskBytes))}` +
            ` cert ${i.certNotAfter ? `until ${i.certNotAfter.slice(0, 10)}` : 'NONE (plaintext)'}`,
        );
        for (const problem of i.problems) io.out(`${''.padEnd(8)} !! ${problem}`);
      } else {
        io.out(`${row.host.padEnd(8)} ${row.agent.padEnd(22)} DOWN ${'error' in row && row.error ? row.error.message : ''}`);
      }
    }
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

async function runPs(inventory: Inventory, tls: TlsFiles | undefined, rest: string[], io: Output): Promise<number> {
  if (rest.length !== 1) usage('ferry ps HOST');
  const host = resolveHost(inventory, rest[0] as string);
  const agent = new AgentConnection(host, tls);
  try {
    const containers = await agent.list(true);
    if (io.json) {
      io.out(JSON.stringify({ event: 'containers', host: host.name, containers }));
    } else {
      for (const c of containers) {
        const ports = c.ports.map((p) => `${p.hostPort}->${p.containerPort}/${p.protocol}`).join(',');
        io.out(`${c.id.slice(0, 12)}  ${c.name.padEnd(20)} ${c.state.padEnd(8)} ${c.image} ${ports}${c.problem ? `  !! ${c.problem}` : ''}`);
      }
    }
    return 0;
  } finally {
    agent.close();
  }
}

function defaultOutput(json: boolean): Output {
  return {
    json,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
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
