/**
 * deploy/grafana/pinhole.json reads only metrics the gateway really exports: every query of every
 * panel and template variable is parsed for the metric names it selects, and each must be one that
 * a gateway's /metrics serves (its own and the Node process metrics `run` registers), with a
 * histogram's _bucket/_sum/_count series. The Helm chart hands the same file to Grafana.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GatewayMetrics } from './metrics.js';
import { repoRoot } from '../test/support/processes.js';

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; query: string | { query: string } }> };
}

/** Names a PromQL expression selects (not functions, keywords, label names or label values). Pure. */
export const metricNamesIn = (expr: string): string[] => {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutLabels = withoutStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const withoutRanges = withoutLabels.replace(/\[[^\]]*\]/g, '');
  const names: string[] = [];
  for (const match of withoutRanges.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = withoutRanges.slice((match.index ?? 0) + match[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function or aggregation
    if (['by', 'without', 'on', 'ignoring', 'bool', 'and', 'or', 'unless', 'offset'].includes(match[0])) continue;
    names.push(match[0]);
  }
  return names;
};

const exported = async (): Promise<Set<string>> => {
  const metrics = new GatewayMetrics({ defaultMetrics: true });
  const names = new Set<string>();
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!type?.[1]) continue;
    names.add(type[1]);
    if (type[2] === 'histogram' || type[2] === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${type[1]}${suffix}`);
  }
  return names;
};

test('the PromQL reader finds metric names and skips functions, labels and ranges', () => {
  assert.deepEqual(metricNamesIn('histogram_quantile(0.95, sum by (le) (rate(pinhole_tunnel_open_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'), ['pinhole_tunnel_open_seconds_bucket']);
  assert.deepEqual(metricNamesIn('time() - process_start_time_seconds{job="x"}'), ['process_start_time_seconds']);
  assert.deepEqual(metricNamesIn('label_values(pinhole_build_info, instance)'), ['pinhole_build_info', 'instance']);
});

test('every query of deploy/grafana/pinhole.json names a metric the gateway exports, and each panel has one', async () => {
  const file = join(repoRoot, 'deploy', 'grafana', 'pinhole.json');
  const dashboard = JSON.parse(await readFile(file, 'utf8')) as Dashboard;
  const known = await exported();
  const unknown: string[] = [];
  let queries = 0;
  for (const panel of dashboard.panels) {
    assert.ok((panel.targets ?? []).length > 0, `the panel "${panel.title}" has a query`);
    for (const { expr } of panel.targets ?? []) {
      queries++;
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `"${panel.title}": ${expr} selects a metric`);
      for (const name of names) if (!known.has(name)) unknown.push(`"${panel.title}": ${name}`);
    }
  }
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const values = /^label_values\((\w+),\s*(\w+)\)$/.exec(query);
    if (values === null) continue;
    queries++;
    if (!known.has(values[1] ?? '')) unknown.push(`variable ${variable.name}: ${values[1]}`);
  }
  assert.ok(queries >= 15, `the dashboard has ${queries} queries`);
  assert.deepEqual(unknown, [], 'metrics the gateway does not export');
  const pinhole = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNamesIn(t.expr))).filter((n) => n.startsWith('pinhole_')));
  for (const name of ['pinhole_tunnels_active', 'pinhole_tunnel_bytes_total', 'pinhole_auth_failures_total', 'pinhole_auth_penalties_total', 'pinhole_build_info']) assert.ok(pinhole.has(name), `the dashboard shows ${name}`);
});

test("the Helm chart's dashboard is the same file (a link), wired to a ConfigMap for Grafana's sidecar", async () => {
  const chart = join(repoRoot, 'deploy', 'helm', 'pinhole-gateway');
  const link = join(chart, 'dashboards', 'pinhole.json');
  assert.equal(resolve(join(chart, 'dashboards'), await readlink(link)), join(repoRoot, 'deploy', 'grafana', 'pinhole.json'));
  const template = await readFile(join(chart, 'templates', 'grafana-dashboard.yaml'), 'utf8');
  assert.match(template, /\.Files\.Get "dashboards\/pinhole\.json"/);
  assert.match(await readFile(join(chart, 'values.yaml'), 'utf8'), /grafanaDashboard:\n\s+enabled: false\n\s+label: grafana_dashboard/);
});
