import type { ThroughputSample } from '../engine-state.js';

/** Throughput over the last minute as a small SVG area chart. */
export const Sparkline = ({ samples, label }: { samples: ThroughputSample[]; label: string }) => {
  const width = 240;
  const height = 48;
  const max = Math.max(1, ...samples.map((s) => s.rate));
  const step = samples.length > 1 ? width / (samples.length - 1) : width;
  const points = samples.map((s, i) => [i * step, height - 2 - (s.rate / max) * (height - 6)] as const);
  const line = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const area = points.length > 1 ? `${line} L${width},${height} L0,${height} Z` : '';
  return (
    <svg className="sparkline" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label}>
      <line x1="0" y1={height - 1} x2={width} y2={height - 1} className="spark-base" />
      {area && <path d={area} className="spark-area" />}
      {points.length > 1 && <path d={line} className="spark-line" />}
    </svg>
  );
};
