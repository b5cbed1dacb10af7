// Operating Ferry on real lab hosts: each agent's gRPC health service, `ferry hosts` with an agent
// stopped, the Prometheus metrics each agent serves on its host's address (port 9470) before and
// after two migrations, and `ferry history` / `ferry status` reading those migrations back from
// the agents' journals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialer } from '../../common/dial.ts';
import { loadTls } from '../../common/pki.ts';
import { loadInventory } from '../../coordinator/inventory.ts';
import { ferry, fillRedis, hostIp, inventoryPath, lab, redisCli, removeEverywhere, runningOn, startRedis } from './lab.ts';

const NAME = 'e2e-operate';
const PORT = 6398;
const HOSTS = ['hostA', 'hostB'] as const;

/** One scrape: every sample by its name and labels as written (`name{a="x",b="y"}`). */
type Scrape = Map<string, number>;

async function scrape(host: string): Promise<Scrape> {
  const response = await fetch(`http://${await hostIp(host)}:9470/metrics`);
  expect(response.status).toBe(200);
  const samples: Scrape = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** A sample's value (0 when it is not there yet, as for a label set never counted). */
const sample = (s: Scrape, name: string, labels: Record<string, string> = {}) => {
  const written = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  return s.get(written ? `${name}{${written}}` : name) ?? 0;
};

describe('operating the agents: health, metrics, history', () => {
  let dialer: Dialer;
  let inventory: ReturnType<typeof loadInventory>;

  beforeAll(async () => {
    inventory = loadInventory(await inventoryPath());
    const tls = inventory.tls ? await loadTls(inventory.tls.dir, inventory.tls.name) : undefined;
    dialer = new Dialer({ tls, preferDirect: false });
    await removeEverywhere(NAME);
  });

  afterAll(async () => {
    await dialer?.close();
    await removeEverywhere(NAME);
  });

  it('every agent serves grpc.health.v1.Health and answers SERVING, behind the same mutual TLS', async () => {
    for (const name of HOSTS) {
      const host = inventory.hosts.get(name);
      if (!host) throw new Error(`${name} is not in the lab's inventory`);
      const agent = await dialer.agent(host);
      try {
        expect(await agent.health(), name).toBe('SERVING');
      } finally {
        agent.close();
      }
    }
  });

  it('ferry hosts shows an agent that is stopped as DOWN, and says so in its exit code and --json', async () => {
    await lab(['agent-stop', 'hostB']);
    try {
      const r = await ferry(['hosts']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^hostA +\S+:7070 +SERVING +podman /m);
      expect(r.stdout).toMatch(/^hostB +\S+:7070 +DOWN +agent on hostB is unreachable/m);
      const json = await ferry(['hosts', '--json']);
      expect(json.code).toBe(1);
      const hosts = (json.events[0] as { hosts: Array<{ host: string; state: string; ok: boolean; error?: { code: string } }> }).hosts;
      expect(hosts.map((h) => [h.host, h.state, h.ok, h.error?.code])).toEqual([
        ['hostA', 'SERVING', true, undefined],
        ['hostB', 'DOWN', false, 'AGENT_UNREACHABLE'],
      ]);
    } finally {
      await lab(['agent-start', 'hostB']);
    }
    const back = await ferry(['hosts']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.stdout).toMatch(/^hostB +\S+:7070 +SERVING /m);
  });

  it('after two migrations the metrics, ferry history and ferry status tell what happened', async () => {
    const before = { hostA: await scrape('hostA'), hostB: await scrape('hostB') };
    await startRedis('hostA', NAME, PORT);
    await fillRedis(await hostIp('hostA'), PORT, 2_000);

    const summaries: Array<{ migrationId: string; downtimeMs: number; archiveBytes: number; from: string; to: string }> = [];
    for (const [from, to] of [['hostA', 'hostB'], ['hostB', 'hostA']] as const) {
      const r = await ferry(['migrate', '--from', from, '--to', to, NAME, '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const done = r.events.find((e) => e.event === 'done') as { summary: (typeof summaries)[number] } | undefined;
      expect(done).toBeDefined();
      summaries.push((done as { summary: (typeof summaries)[number] }).summary);
    }
    expect(await runningOn(NAME)).toEqual(['hostA']);
    expect(await redisCli(await hostIp('hostA'), PORT, ['dbsize'])).toBe('2000');
    const [first, second] = summaries as [(typeof summaries)[number], (typeof summaries)[number]];

    // Metrics: each host was source once and destination once, both done.
    const after = { hostA: await scrape('hostA'), hostB: await scrape('hostB') };
    for (const host of HOSTS) {
      const grew = (name: string, labels: Record<string, string> = {}) => sample(after[host], name, labels) - sample(before[host], name, labels);
      for (const role of ['source', 'destination']) {
        expect(grew('ferry_migrations_total', { role, result: 'done' }), `${host} ${role} done`).toBe(1);
        expect(grew('ferry_migrations_total', { role, result: 'failed' }), `${host} ${role} failed`).toBe(0);
      }
      for (const phase of ['checkpoint', 'transfer', 'sealed', 'sent', 'commit']) {
        expect(grew('ferry_phase_duration_seconds_count', { role: 'source', phase }), `${host} source ${phase}`).toBe(1);
      }
      for (const phase of ['preflight', 'transfer', 'received', 'restore', 'restored', 'verified', 'commit']) {
        expect(grew('ferry_phase_duration_seconds_count', { role: 'destination', phase }), `${host} destination ${phase}`).toBe(1);
      }
      // Only the destination observes the downtime the coordinator measured: once per migration.
      expect(grew('ferry_migration_downtime_seconds_count'), `${host} downtime count`).toBe(1);
      expect(sample(after[host], 'ferry_migrations_in_flight', { role: 'source' })).toBe(0);
      expect(sample(after[host], 'ferry_migrations_in_flight', { role: 'destination' })).toBe(0);
      expect(after[host].has('ferry_parked_containers')).toBe(true);
    }
    const downtime = (host: 'hostA' | 'hostB') => sample(after[host], 'ferry_migration_downtime_seconds_sum') - sample(before[host], 'ferry_migration_downtime_seconds_sum');
    expect(downtime('hostB')).toBeCloseTo(first.downtimeMs / 1000, 2);
    expect(downtime('hostA')).toBeCloseTo(second.downtimeMs / 1000, 2);
    // The archive's bytes and the memory pages beside it, sent by the source and received by the
    // destination (again, if a stream was resumed).
    const bytes = (host: 'hostA' | 'hostB', name: string) =>
      ['checkpoint', 'pages'].reduce((sum, kind) => sum + sample(after[host], name, { kind }) - sample(before[host], name, { kind }), 0);
    expect(bytes('hostA', 'ferry_bytes_sent_total')).toBeGreaterThanOrEqual(first.archiveBytes);
    expect(bytes('hostB', 'ferry_bytes_received_total')).toBeGreaterThanOrEqual(first.archiveBytes);
    expect(bytes('hostB', 'ferry_bytes_sent_total')).toBeGreaterThanOrEqual(second.archiveBytes);
    expect(bytes('hostA', 'ferry_bytes_received_total')).toBeGreaterThanOrEqual(second.archiveBytes);
    expect(bytes('hostB', 'ferry_bytes_received_total')).toBeLessThan(2 * first.archiveBytes);

    // History: one row per migration, newest first, though both agents journaled each.
    const history = await ferry(['history']);
    expect(history.code, history.stdout + history.stderr).toBe(0);
    const rows = history.stdout.split('\n').filter((l) => l.includes(first.migrationId) || l.includes(second.migrationId));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`${second.migrationId} +${NAME} +hostB +hostA +done +[\\d.]+ m?s$`));
    expect(rows[1]).toMatch(new RegExp(`${first.migrationId} +${NAME} +hostA +hostB +done +[\\d.]+ m?s$`));
    const json = await ferry(['history', 'hostB', '--json']);
    const listed = (json.events[0] as { migrations: Array<{ migrationId: string; from: string; to: string; result: string; downtimeMs: number }> }).migrations;
    for (const s of summaries) {
      expect(listed.find((m) => m.migrationId === s.migrationId)).toMatchObject({ from: s.from, to: s.to, result: 'done', downtimeMs: s.downtimeMs });
    }

    // Status: both sides, every phase with its time.
    const status = await ferry(['status', first.migrationId]);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^result +done$/m);
    expect(status.stdout).toMatch(new RegExp(`^downtime +[\\d.]+ m?s$`, 'm'));
    for (const [host, role, phase] of [['hostA', 'source', 'checkpoint'], ['hostA', 'source', 'sent'], ['hostB', 'destination', 'restore'], ['hostB', 'destination', 'verified'], ['hostB', 'destination', 'done'], ['hostA', 'source', 'done']]) {
      expect(status.stdout).toMatch(new RegExp(`^  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}  ${host} +${role} +${phase}\\b`, 'm'));
    }
    const statusJson = await ferry(['status', second.migrationId, '--json']);
    const view = statusJson.events[0] as { migration: { from: string; to: string; result: string; sides: unknown[] }; timeline: Array<{ phase: string }> };
    expect(view.migration).toMatchObject({ from: 'hostB', to: 'hostA', result: 'done' });
    expect(view.migration.sides).toHaveLength(2);
    expect(view.timeline.map((t) => t.phase)).toEqual(expect.arrayContaining(['checkpoint', 'restore', 'verified', 'done']));
  });
});
