// ferry-agent: the per-host daemon. Parses its flags, opens its journal and serves gRPC until
// SIGTERM/SIGINT; then it stops as drain.ts says: no new work, the work under way finished or rolled back.
import { parseArgs } from 'node:util';
import { FerryError } from '../common/errors.ts';
import { DEFAULT_PKI_DIR, loadTls } from '../common/pki.ts';
import { Dialer } from '../common/dial.ts';
import { SshTunnels } from '../common/ssh/tunnels.ts';
import { hostAddress } from '../common/tcp.ts';
import { AddressKeeper } from './address/keeper.ts';
import { installActionScript } from './criu/action-script.ts';
import { DEFAULT_CRIU_SETTINGS, ensureCriuConfig } from './criu/config.ts';
import { createLogger, type Level, type Logger } from './log.ts';
import { Podman } from './podman/podman.ts';
import { DEFAULT_RECOVERY, Reconciler } from './settle/recovery.ts';
import { DataServer } from './dataplane/server.ts';
import { DEFAULT_DRAIN_MS, drain } from './drain.ts';
import { startServer, stopServer } from './server.ts';
import { serveAgentMetrics } from './metrics/agent.ts';
import { AgentService } from './service.ts';
import { POLICY_PATH } from './admission/policy.ts';
import { TlsReloader } from './tls-reload.ts';

/** How often the agent looks for renewed TLS files. */
const TLS_RELOAD_MS = 30_000;

const HELP = `ferry-agent: the Ferry agent, one per host.

Usage: ferry-agent --name NAME --listen ADDR:PORT --state-dir DIR [options]

  --name NAME            this host's name, as the inventory calls it (required)
  --listen ADDR:PORT     where to serve gRPC (default 0.0.0.0:7070)
  --data-listen ADDR:PORT  where to take byte streams (archives, images, data) from other agents,
                         mutual TLS like gRPC (default: the --listen address, its port + 1;
                         port 0 with --listen port 0)
  --state-dir DIR        journal and archives (default /var/lib/ferry/agent)
  --policy-file PATH     which incoming containers this host runs (default
                         /etc/ferry/policy.json; none: the default policy, docs/admission.md)
  --podman PATH          podman binary (default podman)
  --podman-root DIR      podman --root for this host's storage
  --podman-runroot DIR   podman --runroot
  --podman-tmpdir DIR    podman --tmpdir
  --runtime NAME         OCI runtime (default runc: crun refuses hybrid cgroups)
  --criu-ghost-limit N   largest deleted-but-open file CRIU carries, bytes (default 40000000)
  --criu-config-dir DIR  where CRIU's config files, and Ferry's action script for runc's dumps,
                         are kept up to date (default /etc/criu)
  --settle-after-ms N    how long a migration may sit untouched before the agents settle it
                         themselves, e.g. when the coordinator died (default 60000)
  --stop-timeout-ms N    on SIGTERM: how long migrations under way may take to end before the
                         agent rolls them back itself; new work is refused meanwhile (default 300000)
  --tls-dir DIR          mutual TLS: ca.pem, NAME.pem and NAME.key of this agent (default /etc/ferry/pki);
                         make them with: ferry certs init; ferry certs issue NAME --role agent --ip ADDR
  --address ADDR         this host's own address, where its published ports answer (default: the
                         --listen address; give it when the agent listens on 127.0.0.1 or 0.0.0.0)
  --ssh-identity PATH    private key this agent logs in with when a peer's agent port is only
                         reached over SSH (default /etc/ferry/ssh/id_ed25519)
  --known-hosts PATH     SSH host keys of such peers (default /etc/ferry/ssh/known_hosts); an
                         unknown or changed key is refused: record peers' keys there beforehand
  --metrics-listen ADDR:PORT  serve Prometheus metrics there, plain HTTP GET /metrics (default: none)
  --insecure             serve plaintext with no authentication (logs a warning): trusted networks only
  --log-level LEVEL      debug, info, warn, error (default info)
  -h, --help             this text
`;

/** The command line, parsed and checked before anything is changed (--help: undefined). */
function readOptions() {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      listen: { type: 'string', default: '0.0.0.0:7070' },
      'data-listen': { type: 'string' },
      'state-dir': { type: 'string', default: '/var/lib/ferry/agent' },
      'policy-file': { type: 'string', default: POLICY_PATH },
      podman: { type: 'string', default: 'podman' },
      'podman-root': { type: 'string' },
      'podman-runroot': { type: 'string' },
      'podman-tmpdir': { type: 'string' },
      runtime: { type: 'string', default: 'runc' },
      insecure: { type: 'boolean', default: false },
      address: { type: 'string' },
      'ssh-identity': { type: 'string', default: '/etc/ferry/ssh/id_ed25519' },
      'known-hosts': { type: 'string', default: '/etc/ferry/ssh/known_hosts' },
      'tls-dir': { type: 'string', default: DEFAULT_PKI_DIR },
      'criu-ghost-limit': { type: 'string', default: String(DEFAULT_CRIU_SETTINGS.ghostLimit) },
      'criu-config-dir': { type: 'string', default: '/etc/criu' },
      'settle-after-ms': { type: 'string', default: String(DEFAULT_RECOVERY.settleAfterMs) },
      'stop-timeout-ms': { type: 'string', default: String(DEFAULT_DRAIN_MS) },
      'log-level': { type: 'string', default: 'info' },
      'metrics-listen': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const name = values.name;
  if (!name) throw new FerryError('BAD_REQUEST', '--name is required (see --help)');
  const ghostLimit = Number(values['criu-ghost-limit']);
  if (!Number.isSafeInteger(ghostLimit) || ghostLimit < 1_048_576) {
    throw new FerryError('BAD_REQUEST', '--criu-ghost-limit must be a whole number of bytes, at least 1048576');
  }
  const settleAfterMs = Number(values['settle-after-ms']);
  const drainMs = Number(values['stop-timeout-ms']);
  if (!Number.isSafeInteger(drainMs) || drainMs < 0) throw new FerryError('BAD_REQUEST', '--stop-timeout-ms must be a whole number of milliseconds');
  if (!Number.isSafeInteger(settleAfterMs) || settleAfterMs < 1000) throw new FerryError('BAD_REQUEST', '--settle-after-ms must be at least 1000');
  const dataAt = parseListen(values['data-listen'] ?? dataListenFor(values.listen), '--data-listen');
  const metricsAt = values['metrics-listen'] ? parseListen(values['metrics-listen'], '--metrics-listen') : undefined;
  return { ...values, name, ghostLimit, settleAfterMs, drainMs, dataAt, metricsAt };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

/** podman as this agent runs it: its storage where the options say, and runc (or another runtime). */
function podmanOf(options: Options): Podman {
  const globalArgs: string[] = [];
  if (options['podman-root']) globalArgs.push('--root', options['podman-root']);
  if (options['podman-runroot']) globalArgs.push('--runroot', options['podman-runroot']);
  if (options['podman-tmpdir']) globalArgs.push('--tmpdir', options['podman-tmpdir']);
  globalArgs.push('--runtime', options.runtime);
  return new Podman({ binary: options.podman, globalArgs });
}

async function main(): Promise<void> {
  // bin/ferry-agent sets it for this process's allocator; podman and the rest it runs keep theirs.
  delete process.env.MALLOC_ARENA_MAX;
  const options = readOptions();
  if (!options) {
    process.stdout.write(HELP);
    return;
  }
  const log = createLogger({ host: options.name }, { level: options['log-level'] as Level });
  const tls = options.insecure ? undefined : await loadTls(options['tls-dir'], options.name);
  if (!tls) log.warn({}, 'serving WITHOUT TLS (--insecure): anyone who reaches this port can control podman on this host');
  // A renewed certificate (ferry certs renew) is put in use without a restart (tls-reload.ts).
  const reloader = tls ? new TlsReloader(tls, { dir: options['tls-dir'], name: options.name }, log) : undefined;
  reloader?.start(TLS_RELOAD_MS);

  const actionScript = await installActionScript(options['criu-config-dir']);
  const changed = await ensureCriuConfig({ ...DEFAULT_CRIU_SETTINGS, ghostLimit: options.ghostLimit, actionScript }, options['criu-config-dir']);
  if (changed.length) log.info({ files: changed, ghostLimit: options.ghostLimit }, 'CRIU configuration updated');

  // Peers are dialed directly; over SSH, with this agent's own key, only when their port is shut.
  const dialer = new Dialer({
    tls,
    tunnels: new SshTunnels({ knownHosts: options['known-hosts'], acceptNew: false }),
    preferDirect: true,
    identity: options['ssh-identity'],
  });
  const address = options.address ?? hostAddress(options.listen);
  const service = new AgentService({
    name: options.name,
    listen: options.listen,
    address,
    dialer,
    stateDir: options['state-dir'],
    policyPath: options['policy-file'],
    podman: podmanOf(options),
    log,
    tls,
  });
  await service.open();
  const data = new DataServer({ tls, log, accept: (open, caller) => service.acceptStream(open, caller) });
  reloader?.onChange((files) => data.useTls(files));
  service.dataPort = await data.listen(options.dataAt.host, options.dataAt.port);
  // Before the gRPC port, which tells the world the agent is up: a metrics port that cannot be bound stops the agent first.
  const metricsServer = options.metricsAt && (await serveAgentMetrics(service, options.metricsAt, log));
  if (metricsServer) log.info({ metricsListen: options['metrics-listen'], port: metricsServer.port }, 'serving metrics');
  const { server, port, health } = await startServer(service, log, reloader);
  log.info({ listen: options.listen, port, dataPort: service.dataPort }, 'agent listening');
  const background = startOwnWork(service, dialer, address, options.settleAfterMs, log);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    health.stopping(); // grpc.health.v1: NOT_SERVING from now on
    log.info({ signal, drainMs: options.drainMs }, 'stopping: no new work; finishing or rolling back what is under way');
    void drain(service, { timeoutMs: options.drainMs, log })
      .then(() => {
        background.stop();
        return Promise.all([stopServer(server, 10_000), data.close(), dialer.close(), metricsServer?.close()]);
      })
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * What the agent does on its own while it serves: settle the migrations nobody drives
 * (settle/recovery.ts), keep service addresses where their containers run (address/keeper.ts),
 * and bring back the containers parked before a reboot (park/park.ts).
 */
function startOwnWork(service: AgentService, dialer: Dialer, address: string, settleAfterMs: number, log: Logger): { stop: () => void } {
  const settling = {
    journal: service.journal,
    podman: service.config.podman,
    dialer,
    isBusy: (id: string) => service.isBusy(id),
    track: <T>(id: string, work: () => Promise<T>) => service.track(id, work),
    commit: (id: string) => service.commit(id),
    rollback: (id: string, reason: string, peerRolledBack = false) => service.rollback(id, reason, undefined, peerRolledBack),
  };
  const reconciler = new Reconciler(settling, log, { ...DEFAULT_RECOVERY, settleAfterMs, intervalMs: Math.min(DEFAULT_RECOVERY.intervalMs, settleAfterMs) });
  reconciler.start();
  const addresses = new AddressKeeper({ podman: service.config.podman, hostIp: address, journal: service.journal, log });
  addresses.start();
  if (service.parked.unfinished().length) {
    void service.unpark([], (result) => log.info({ ...result }, 'unparked at start')).catch((error: unknown) => {
      log.error({ err: FerryError.from(error).message }, 'unparking at start failed; ferry unpark tries again');
    });
  }
  return {
    stop: () => {
      reconciler.stop();
      addresses.stop();
    },
  };
}

/** host:port, [v6]:port. */
function parseListen(value: string, flag: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) throw new FerryError('BAD_REQUEST', `${flag} must be ADDR:PORT, not "${value}"`);
  return { host: match[1] ?? match[2] ?? '', port };
}

/** The data port sits beside the gRPC port: same address, the next port (ephemeral stays ephemeral). */
function dataListenFor(listen: string): string {
  const { host, port } = parseListen(listen, '--listen');
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${shown}:${port === 0 ? 0 : port + 1}`;
}

main().catch((error: unknown) => {
  const ferry = FerryError.from(error);
  process.stderr.write(`ferry-agent: ${ferry.code}: ${ferry.message}\n  hint: ${ferry.hint}\n`);
  process.exit(1);
});
