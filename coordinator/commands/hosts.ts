// ferry hosts: every agent of the inventory, its health (grpc.health.v1), its versions, its disk,
// its certificate, and the containers it knows to be in trouble.
import * as grpc from '@grpc/grpc-js';
import { FerryError } from '../../common/errors.ts';
import type { HealthStatus } from '../../common/health.ts';
import { describeRoute } from '../../common/ssh/tunnels.ts';
import type { Dialer } from '../../common/dial.ts';
import type { InfoReply__Output } from '../../proto/gen/ferry/v1/InfoReply.ts';
import type { HostEntry, Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';
import { formatBytes } from '../render.ts';
import { describeCertificate, notAfter } from '../../common/pki.ts';
import { cordonedSince } from '../../common/cordon.ts';

/** What the health service said, or DOWN when the agent could not be asked. */
export type HostState = HealthStatus | 'DOWN';

export interface HostRow {
  host: string;
  agent: string;
  via: string;
  state: HostState;
  /** The agent serves (or is too old to say) and answered Info. */
  ok: boolean;
  info?: InfoReply__Output | undefined;
  error?: FerryError | undefined;
}

/** An agent older than the health service answers UNIMPLEMENTED: its state is not known, its Info still is. */
function unimplemented(error: FerryError): boolean {
  return (error.cause as Partial<grpc.ServiceError> | undefined)?.code === grpc.status.UNIMPLEMENTED;
}

/** One agent: its health first; Info unless it is down. */
export async function hostRow(host: HostEntry, dialer: Dialer): Promise<HostRow> {
  const via = host.ssh ? `ssh ${describeRoute(host.ssh)}` : host.agent;
  const row = { host: host.name, agent: host.agent, via };
  let agent;
  try {
    agent = await dialer.agent(host);
    let state: HostState;
    try {
      state = await agent.health({ timeoutMs: 10_000 });
    } catch (error) {
      const failure = FerryError.from(error);
      if (!unimplemented(failure)) return { ...row, state: 'DOWN', ok: false, error: failure };
      state = 'UNKNOWN';
    }
    try {
      const info = await agent.info({ timeoutMs: 10_000 });
      return { ...row, state, ok: state === 'SERVING' || state === 'UNKNOWN', info };
    } catch (error) {
      return { ...row, state, ok: false, error: FerryError.from(error) };
    }
  } catch (error) {
    return { ...row, state: 'DOWN', ok: false, error: FerryError.from(error) };
  } finally {
    agent?.close();
  }
}

/** How long before a certificate ends `ferry hosts` says so. */
export const CERT_WARN_DAYS = 30;

/** A warning when the certificate ends within CERT_WARN_DAYS (or has ended). */
export function certificateWarning(name: string, notAfterIso: string, now = Date.now()): string | undefined {
  if (!notAfterIso) return undefined;
  const days = Math.floor((Date.parse(notAfterIso) - now) / 86_400_000);
  if (days >= CERT_WARN_DAYS) return undefined;
  const when = days < 0 ? `expired on ${notAfterIso.slice(0, 10)}` : `expires in ${days} day${days === 1 ? '' : 's'} (${notAfterIso.slice(0, 10)})`;
  return `the certificate of ${name} ${when}: run \`ferry certs renew ${name}\` where the CA is, and copy the files to the host (its agent picks them up)`;
}

export function formatHostRow(row: HostRow, now = Date.now()): string[] {
  const head = `${row.host.padEnd(8)} ${row.via.padEnd(22)} ${row.state.padEnd(11)}`;
  if (!row.info) return [`${head} ${row.error?.message ?? ''}`.trimEnd()];
  const i = row.info;
  const lines = [
    `${head} podman ${i.podmanVersion} ${i.ociRuntime} ${i.runcVersion} criu ${i.criuVersion}` +
      ` check ${i.criuCheckOk ? 'ok' : 'FAILS'} pre-copy ${i.dirtyTracking ? 'yes' : 'no'} free ${formatBytes(Number(i.freeDiskBytes))}` +
      ` cert ${i.certNotAfter ? `until ${i.certNotAfter.slice(0, 10)}` : 'NONE (plaintext)'}`,
  ];
  if (i.cordon?.cordoned) lines.push(`${''.padEnd(8)} CORDONED ${cordonedSince(i.cordon)}: placement leaves it out; ferry uncordon ${row.host}`);
  // What it agrees to run of what other hosts send it (an agent from before the policy says nothing).
  if (i.admission) lines.push(`${''.padEnd(8)} ${i.admission.startsWith('BROKEN') ? '!! ' : ''}admission policy: ${i.admission}`);
  for (const problem of i.problems) lines.push(`${''.padEnd(8)} !! ${problem}`);
  const expiring = certificateWarning(row.host, i.certNotAfter, now);
  if (expiring) lines.push(`${''.padEnd(8)} !! ${expiring}`);
  return lines;
}

export async function runHosts(inventory: Inventory, dialer: Dialer, io: Output): Promise<number> {
  if (!inventory.hosts.size) usage('the inventory has no hosts (pass --inventory FILE)');
  const rows = await Promise.all([...inventory.hosts.values()].map((host) => hostRow(host, dialer)));
  if (io.json) {
    io.out(JSON.stringify({ event: 'hosts', hosts: rows }));
  } else {
    for (const row of rows) for (const line of formatHostRow(row)) io.out(line);
    // This coordinator's own certificate is one of the fleet's too.
    const own = dialer.tls && certificateWarning(describeCertificate(dialer.tls.cert).name || 'coordinator', notAfter(dialer.tls.cert));
    if (own) io.out(`${'coordinator'.padEnd(8)} !! ${own}`);
  }
  // An agent that is down, stopping, or does not answer Info is not one to migrate with.
  return rows.every((r) => r.ok) ? 0 : 1;
}
