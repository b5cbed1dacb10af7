// The Grafana dashboard (packaging/grafana/ferry-agents.json) against what an agent exports: every
// series a panel or a variable queries is one the agent's metrics text declares (a histogram's by
// its _bucket, _sum and _count), and every label a query selects or groups by is one that series
// carries (or one Prometheus adds: instance, job; le on buckets). A metric renamed in the agent,
// or a typo in the dashboard, fails here rather than as an empty panel.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/metrics/metrics.ts';

const DASHBOARD = new URL('../../packaging/grafana/ferry-agents.json', import.meta.url);
const SCRAPE_LABELS = ['instance', 'job'];

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; query: string }> };
}

/** What the agent's text declares: each series name with the labels it carries. */
async function exported(): Promise<Map<string, Set<string>>> {
  const metrics = new AgentMetrics();
  metrics.withProcessMetrics();
  const declared = new Map<string, Set<string>>();
  const types = new Map<string, string>();
  for (const [, name, type] of (await metrics.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(name as string, type as string);
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const type = types.get(name);
    expect(type, `${name} is in the scrape text`).toBeDefined();
    const labels = new Set([...labelNames, ...SCRAPE_LABELS]);
    if (type === 'histogram') {
      declared.set(`${name}_bucket`, new Set([...labels, 'le']));
      declared.set(`${name}_sum`, labels);
      declared.set(`${name}_count`, labels);
    } else {
      declared.set(name, labels);
    }
  }
  return declared;
}

/** The series a PromQL expression selects, with the labels it matches on, and the labels it groups by. */
function queried(expr: string): { series: Array<{ name: string; labels: string[] }>; grouped: string[] } {
  const series = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map(([, name, matchers]) => ({
    name: name as string,
    labels: [...(matchers as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] as string),
  }));
  // label_values(metric, label) and label_values(metric{...}, label) in the variables.
  for (const [, name, label] of expr.matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)/g)) {
    series.push({ name: name as string, labels: [label as string] });
  }
  const grouped = [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap(([, list]) => (list as string).split(',').map((l) => l.trim()).filter(Boolean));
  return { series, grouped };
}

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const queries = [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
    ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable $${v.name}`, expr: v.query })),
  ];

  it('has a panel for results, downtime, bytes and failures, each per host', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase());
    for (const topic of ['result', 'downtime', 'bytes', 'failures']) expect(titles.some((t) => t.includes(topic)), topic).toBe(true);
    for (const p of dashboard.panels) expect(p.targets.length, p.title).toBeGreaterThan(0);
    for (const p of dashboard.panels) for (const t of p.targets) expect(t.expr, p.title).toContain('instance=~"$instance"');
  });

  it('queries only series the agent exports, by labels they carry', async () => {
    const declared = await exported();
    let checked = 0;
    for (const { where, expr } of queries) {
      const { series, grouped } = queried(expr);
      expect(series.length, `${where} selects a series: ${expr}`).toBeGreaterThan(0);
      for (const s of series) {
        const labels = declared.get(s.name);
        expect(labels, `${where} queries ${s.name}, which the agent does not export`).toBeDefined();
        for (const label of s.labels) expect(labels?.has(label), `${where}: ${s.name} has no label ${label}`).toBe(true);
        checked += 1;
      }
      const carried = new Set(series.flatMap((s) => [...(declared.get(s.name) ?? [])]));
      for (const label of grouped) expect(carried.has(label), `${where} groups by ${label}, which none of its series carries`).toBe(true);
    }
    expect(checked).toBeGreaterThanOrEqual(dashboard.panels.length);
  });
});
