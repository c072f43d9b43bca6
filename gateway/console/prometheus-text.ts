/**
 * The few samples the console reads from a gateway's /metrics, taken from Prometheus' text format.
 * Pure: a sample line is `name{labels} value`; comments and other metrics are skipped.
 */
export type Samples = Map<string, number>;

/** `name` or `name{a="b",...}` (labels exactly as the gateway writes them) to value. */
export function parsePrometheusText(text: string, wanted: ReadonlySet<string>): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const name = line.slice(0, brace > 0 && brace < space ? brace : space);
    if (!wanted.has(name)) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

/** The label `key`'s value of the first sample of `name` that has it (e.g. the version of pinhole_build_info). */
export function labelOf(samples: Samples, name: string, key: string): string | undefined {
  for (const sample of samples.keys()) {
    if (!sample.startsWith(`${name}{`)) continue;
    const match = new RegExp(`${key}="([^"]*)"`).exec(sample);
    if (match) return match[1];
  }
  return undefined;
}
