/**
 * Turns measured runs into the benchmark's answer: medians, the Pinhole/seed ratio of each
 * figure, each target of issue 6 judged met or not met, and the table printed at the end.
 */

export const median = (values: number[]): number => {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? (finite[mid] as number) : ((finite[mid - 1] as number) + (finite[mid] as number)) / 2;
};

/** One row of the table: a figure measured for up to three ways to the origin. */
export interface FigureRow {
  key: string;
  label: string;
  unit: string;
  /** Whether a larger number is better (throughput) or worse (time, memory, CPU). */
  better: 'higher' | 'lower';
  direct?: number;
  seed?: number;
  pinhole?: number;
  /** Every run's value, for latest.json. */
  runs?: { direct?: number[]; seed?: number[]; pinhole?: number[] };
  note?: string;
  error?: string;
  /** The ratio column compares `pinhole` with `direct` instead of `seed` (issue 3: via the gateway vs direct). */
  compareTo?: 'direct';
}

export interface Target {
  figure: string;
  /** What the issue asks, in words. */
  wants: string;
  /** The measured ratio or value the target is judged on. */
  value: number;
  met: boolean | undefined;
  detail: string;
}

const fmt = (value: number | undefined, unit: string): string => {
  if (value === undefined || !Number.isFinite(value)) return '-';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return unit ? `${text} ${unit}` : text;
};

export const ratio = (a: number | undefined, b: number | undefined): number =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? Number.NaN : a / b;

const pad = (cells: string[], widths: number[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;

export const renderTable = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [pad(header, widths), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map((r) => pad(r, widths))].join('\n');
};

export const renderFigures = (rows: FigureRow[]): string =>
  renderTable(
    ['figure', 'direct', 'seed', 'pinhole', 'pinhole/seed'],
    rows.map((row) => [
      row.error ? `${row.label} (FAILED: ${row.error.split('\n')[0]?.slice(0, 80)})` : row.note ? `${row.label} (${row.note})` : row.label,
      fmt(row.direct, row.unit),
      fmt(row.seed, row.unit),
      fmt(row.pinhole, row.unit),
      row.compareTo === 'direct' ? (Number.isFinite(ratio(row.pinhole, row.direct)) ? `${fmt(ratio(row.pinhole, row.direct), '')}x of direct` : '-') : fmt(ratio(row.pinhole, row.seed), 'x'),
    ]),
  );

export const renderTargets = (targets: Target[]): string =>
  renderTable(
    ['target (issue 6)', 'measured', 'verdict'],
    targets.map((t) => [t.wants, t.detail, t.met === undefined ? 'NOT MEASURED' : t.met ? 'met' : 'NOT MET']),
  );

/** `value op limit` as a target, undefined when the value could not be measured. */
export const judge = (figure: string, wants: string, value: number, op: '>=' | '<=' | '==', limit: number, detail: string): Target => ({
  figure,
  wants,
  value,
  met: Number.isFinite(value) ? (op === '>=' ? value >= limit : op === '<=' ? value <= limit : value === limit) : undefined,
  detail: Number.isFinite(value) ? detail : '-',
});

/** One process's share of a bulk download: user (the program itself) and system (the kernel for it). */
export interface CpuBreakdown {
  stack: 'seed' | 'pinhole' | 'floor';
  process: string;
  user: number;
  system: number;
}

export const renderCpuBreakdown = (rows: CpuBreakdown[]): string =>
  `Where the bulk download's CPU goes (CPU-seconds per GiB, medians; user = the program, system = the kernel's socket work for it):\n\n${renderTable(
    ['stack', 'process', 'user', 'system', 'total'],
    rows.map((r) => [r.stack, r.process, r.user.toFixed(2), r.system.toFixed(2), (r.user + r.system).toFixed(2)]),
  )}`;

/**
 * What the measurements say would close each throughput/CPU target that is not met. The three
 * share one cause, so they share one explanation; the figures behind it are in bench/README.md.
 */
const BYTE_PATH = [
  'What would close the throughput and CPU targets: both halves of Pinhole relay TLS in Node, and',
  "their system time is about stunnel's; the gap is user time. Per 16 KiB TLS record, Node's stream",
  "machinery and V8's garbage collector (every socket read allocates a buffer, and the external",
  'memory triggers major collections on helper threads) cost about as much as the AES-GCM itself,',
  'where stunnel and Squid spend almost nothing beside the cipher. HTTP/2 framing is not the cause:',
  'a raw TLS connection per tunnel measured the same. Closing it means taking the bytes out of',
  'JavaScript: kernel TLS (kTLS) with splice(2) on the gateway, or a native relay for tunnel data on',
  "both ends. The profiles below (unless --no-profile) show each half's hottest functions.",
  'The floor row (a minimal Node TLS relay pair, two pipes per half) is what any Node implementation',
  "pays; Pinhole's CPU above it is its own code: HTTP/2 framing and flow control on both halves and",
  'the local proxy. Tried and measured in issue 12: pausing the source only past 256 KiB queued',
  '(kept: 1.63x -> 1.32x the floor); 256 KiB HTTP/2 frames and corking each burst into one writev',
  '(both dropped: no gain the bench could show).',
].join('\n');

const HANDSHAKE_SCALE = [
  'What would show the --workers scaling: the handshake generators run on the same two cores as',
  "the gateway's workers, so a second worker mostly takes CPU from the generators. The server",
  'CPU-ms per handshake row is the figure that does not depend on them; run the generators on',
  'another machine (or a machine with spare cores) to see the rate scale.',
].join('\n');

/** For each group of unmet targets, what the measurements say would close it; undefined when all are met. */
export const whatWouldCloseIt = (targets: Target[]): string | undefined => {
  const unmet = (figures: string[]): Target[] => targets.filter((t) => figures.includes(t.figure) && t.met === false);
  const parts: string[] = [];
  const bytePath = unmet(['bulk', 'rttBulk', 'cpuPerGiB', 'floorCpu', 'sniPassThrough']);
  if (bytePath.length > 0) parts.push(`${bytePath.map((t) => t.wants).join('; ')}: NOT MET.\n${BYTE_PATH}`);
  const scale = unmet(['handshakeScale']);
  if (scale.length > 0) parts.push(`${scale.map((t) => t.wants).join('; ')}: NOT MET.\n${HANDSHAKE_SCALE}`);
  return parts.length > 0 ? parts.join('\n\n') : undefined;
};
