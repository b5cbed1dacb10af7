// ferry history [HOST] and ferry status ID: past migrations from the agents' journals, one row
// per migration however many of its hosts journaled it; and one migration with every phase of
// both its sides and when each began.
import type { Dialer } from '../../common/dial.ts';
import { FerryError } from '../../common/errors.ts';
import type { MigrationEntry__Output as MigrationEntry } from '../../proto/gen/ferry/v1/MigrationEntry.ts';
import { mergeHistory, timeline, type MigrationView } from '../history.ts';
import { resolveHost, type HostEntry, type Inventory } from '../inventory.ts';
import { usage, type Output } from '../output.ts';
import { formatMs } from '../render.ts';

export const DEFAULT_HISTORY_LIMIT = 50;

interface Asked {
  entries: Array<{ host: string; entries: MigrationEntry[] }>;
  /** Hosts that could not be asked, and why. */
  unanswered: Array<{ host: string; error: FerryError }>;
}

/** Asks every host at once; one that does not answer is reported, not fatal. */
async function ask(hosts: HostEntry[], dialer: Dialer, request: { migrationId?: string; limit?: number }): Promise<Asked> {
  const answers = await Promise.all(
    hosts.map(async (host) => {
      let agent;
      try {
        agent = await dialer.agent(host);
        return { host: host.name, entries: await agent.migrations(request) };
      } catch (error) {
        return { host: host.name, error: FerryError.from(error, { host: host.name }) };
      } finally {
        agent?.close();
      }
    }),
  );
  return {
    entries: answers.flatMap((a) => ('entries' in a && a.entries ? [{ host: a.host, entries: a.entries }] : [])),
    unanswered: answers.flatMap((a) => ('error' in a && a.error ? [{ host: a.host, error: a.error }] : [])),
  };
}

/** 2026-12-03T19:10:00.123Z -> 2026-12-03 19:10:00 (UTC). */
function when(iso: string | undefined, withMs = false): string {
  if (!iso) return '';
  return iso.replace('T', ' ').slice(0, withMs ? 23 : 19);
}

function result(view: MigrationView): string {
  return view.over ? view.result : `${view.result}…`;
}

function warnUnanswered(asked: Asked, io: Output): void {
  for (const { host, error } of asked.unanswered) io.err(`warning: ${host} could not be asked (${error.code}: ${error.message}); its side is missing`);
}

function limitOf(value: string | undefined): number {
  const limit = Number(value ?? DEFAULT_HISTORY_LIMIT);
  if (!Number.isSafeInteger(limit) || limit < 1) usage('--limit must be a whole number, at least 1');
  return limit;
}

export async function runHistory(inventory: Inventory, dialer: Dialer, rest: string[], limitValue: string | undefined, io: Output): Promise<number> {
  if (rest.length > 1) usage('ferry history [HOST]');
  const hosts = rest[0] ? [resolveHost(inventory, rest[0])] : [...inventory.hosts.values()];
  if (!hosts.length) usage('the inventory has no hosts (pass --inventory FILE, or name a HOST)');
  const limit = limitOf(limitValue);
  // The newest `limit` migrations overall are among the newest `limit` of each host.
  const asked = await ask(hosts, dialer, { limit });
  const views = mergeHistory(asked.entries).slice(0, limit);
  if (io.json) {
    io.out(JSON.stringify({ event: 'history', migrations: views, unanswered: asked.unanswered }));
  } else {
    warnUnanswered(asked, io);
    const rows = views.map((v) => [when(v.startedAt), v.migrationId, v.container, v.from, v.to, result(v), v.downtimeMs === undefined ? '-' : formatMs(v.downtimeMs)]);
    const header = ['WHEN (UTC)', 'ID', 'CONTAINER', 'FROM', 'TO', 'RESULT', 'DOWNTIME'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    io.out(line(header));
    for (const row of rows) io.out(line(row));
    if (!views.length) io.out('(no migrations in the journals)');
  }
  return asked.unanswered.length ? 1 : 0;
}

export async function runStatus(inventory: Inventory, dialer: Dialer, rest: string[], io: Output): Promise<number> {
  if (rest.length !== 1) usage('ferry status MIGRATION_ID');
  const migrationId = rest[0] as string;
  const hosts = [...inventory.hosts.values()];
  if (!hosts.length) usage('the inventory has no hosts (pass --inventory FILE)');
  const asked = await ask(hosts, dialer, { migrationId });
  // An ID the agents refuse as malformed is the user's to fix.
  const refused = asked.unanswered.find((u) => u.error.code === 'BAD_REQUEST');
  if (refused) throw refused.error;
  const view = mergeHistory(asked.entries)[0];
  if (!view) {
    throw new FerryError('MIGRATION_UNKNOWN', `no host ${asked.unanswered.length ? 'that answered ' : ''}knows migration ${migrationId}`, {
      hint: asked.unanswered.length
        ? `${asked.unanswered.map((u) => u.host).join(', ')} could not be asked; try again once it answers.`
        : 'List the migrations the agents remember with `ferry history`.',
    });
  }
  if (io.json) {
    io.out(JSON.stringify({ event: 'migration', migration: view, timeline: timeline(view), unanswered: asked.unanswered }));
  } else {
    warnUnanswered(asked, io);
    io.out(`migration  ${view.migrationId}`);
    io.out(`container  ${view.container}`);
    io.out(`from       ${view.from}`);
    io.out(`to         ${view.to}`);
    io.out(`result     ${view.over ? view.result : `under way (${view.result})`}`);
    if (view.reason) io.out(`reason     ${view.reason}`);
    io.out(`downtime   ${view.downtimeMs === undefined ? 'not measured' : formatMs(view.downtimeMs)}`);
    io.out(`started    ${when(view.startedAt, true)} UTC`);
    if (view.endedAt) io.out(`ended      ${when(view.endedAt, true)} UTC`);
    for (const side of view.sides) io.out(`${side.host.padEnd(10)} ${side.role}, ${side.phase}${side.outcome ? `: ${side.outcome}` : ''}`);
    io.out('phases (UTC):');
    const rows = timeline(view);
    const hostWidth = Math.max(4, ...rows.map((r) => r.host.length));
    for (const row of rows) {
      const lasted = row.lastedMs === undefined ? '' : formatMs(row.lastedMs);
      io.out(`  ${when(row.at, true)}  ${row.host.padEnd(hostWidth)}  ${row.role.padEnd(11)}  ${row.phase.padEnd(10)}  ${lasted}`.trimEnd());
    }
    if (!rows.length) io.out('  (journaled before phase times were kept)');
  }
  // Hosts that could not be asked matter here only when the migration names them.
  return asked.unanswered.some((u) => u.host === view.from || u.host === view.to) ? 1 : 0;
}
