/**
 * `npm run bench -- --only startup` (issue 24): how long the shipped commands take to start, against
 * a bare `node -e 0` in the same run. Each figure is the median of several starts, from spawn to
 * exit (`--help`) or to the gateway's "listening" log line (it accepts from then on).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayCommand } from '../test/support/gateway.js';
import { gatewayBin, pinholeBin } from '../test/support/processes.js';
import { judge, median, type FigureRow, type Target } from './report.js';

export interface StartupOptions {
  runs: number;
  say: (line: string) => void;
}

/** Milliseconds from spawn until the program exits (`until` undefined) or prints a line matching `until`. */
const startTime = (command: string, args: string[], until?: RegExp): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      const ms = performance.now() - started;
      if (child.exitCode === null) child.kill('SIGTERM');
      if (error) reject(error);
      else resolve(ms);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
      if (until?.test(printed)) finish();
    });
    child.stderr.on('data', (chunk: Buffer) => void (printed += chunk.toString()));
    child.once('error', (err) => finish(err));
    child.once('exit', (code) => finish(until || code !== 0 ? new Error(`${command} ${args.join(' ')} exited (${code}) before it was ready:\n${printed}`) : undefined));
  });

const timesOf = async (runs: number, command: string, args: string[], until?: RegExp): Promise<number[]> => {
  // One start first, unmeasured: the page cache then holds the files, as it does on a server.
  await startTime(command, args, until);
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) times.push(await startTime(command, args, until));
  return times;
};

export const measureStartup = async (options: StartupOptions): Promise<{ rows: FigureRow[]; targets: Target[] }> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-bench-startup-'));
  try {
    await gatewayCommand(['init', '--dir', dir, '--hostname', 'gw.example.test']);
    const bare = await timesOf(options.runs, process.execPath, ['-e', '0']);
    const cases = [
      { key: 'startupGatewayHelp', label: 'pinhole-gateway --help', command: gatewayBin, args: ['--help'], limit: 300 },
      { key: 'startupForwardHelp', label: 'pinhole forward --help', command: pinholeBin, args: ['forward', '--help'], limit: 300 },
      {
        key: 'startupGatewayReady',
        label: 'pinhole-gateway run, until it accepts',
        command: gatewayBin,
        args: ['run', '--dir', dir, '--listen', '127.0.0.1:0', '--log-format', 'json'],
        until: /"msg":"The gateway is listening\."/,
        limit: 500,
      },
    ];
    const rows: FigureRow[] = [];
    const targets: Target[] = [];
    for (const c of cases) {
      const times = await timesOf(options.runs, c.command, c.args, c.until);
      const ms = median(times);
      options.say(`  ${c.label}: ${ms.toFixed(0)} ms (node -e 0: ${median(bare).toFixed(0)} ms)`);
      rows.push({ key: c.key, label: `start: ${c.label} (direct: node -e 0)`, unit: 'ms', better: 'lower', direct: median(bare), pinhole: ms, runs: { direct: bare, pinhole: times }, compareTo: 'direct' });
      targets.push(judge(c.key, `${c.label} within ${c.limit / 1000} s`, ms, '<=', c.limit, `${ms.toFixed(0)} ms (node -e 0: ${median(bare).toFixed(0)} ms)`));
    }
    return { rows, targets };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
