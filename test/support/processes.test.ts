import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Peers, Program, listenPortOf, runCommand, waitForFileText, waitUntil } from './processes.js';

// The SIGTERM handler goes first: the test signals as soon as it sees the lines, and a busy
// machine can pause the child between printing them and installing the handler.
const script = `
process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ msg: 'Stopping.' }) + '\\n'); process.exit(0); });
process.stdout.write(JSON.stringify({ msg: 'The thing is listening.', listen: '127.0.0.1:4242' }) + '\\n');
process.stderr.write('a plain line\\n');
setInterval(() => {}, 1000);
`;

test('a program is started, its JSON log lines are waited for, and SIGTERM stops it with its exit code', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const program = peers.add(new Program(process.execPath, { name: 'fake', args: ['-e', script] }));
  const record = await program.waitForLog((r) => r.msg === 'The thing is listening.');
  assert.equal(listenPortOf(record), 4242);
  await program.waitForLine((l) => l.stream === 'stderr' && l.text === 'a plain line');
  const status = await program.stop();
  assert.deepEqual(status, { code: 0, signal: null });
  assert.deepEqual(await program.stop(), status, 'stopping twice is harmless');
  assert.ok(program.records.some((r) => r.msg === 'Stopping.'));
  assert.match(program.transcript(), /exited code=0/);
});

test('waiting for a line that never comes fails with the transcript instead of hanging', async (t) => {
  const program = new Program(process.execPath, { name: 'quiet', args: ['-e', 'console.log("only this"); setTimeout(() => {}, 5000)'] });
  t.after(() => program.stop('SIGKILL'));
  await program.waitForLine((l) => l.text === 'only this');
  await assert.rejects(program.waitForLog((r) => r.msg === 'never', 300, 'the never line'), /did not print the never line[\s\S]*only this/);
});

test('a short command is run with stdin and its output and exit code are returned', async () => {
  const result = await runCommand(process.execPath, { args: ['-e', 'process.stdin.pipe(process.stdout); process.exitCode = 3'], stdin: 'secret in\n' });
  assert.equal(result.code, 3);
  assert.equal(result.stdout, 'secret in');
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a test file that starts a gateway (two workers) and hangs past its timeout, then is ended, leaves no process behind', { timeout: 180_000 }, async (t) => {
  const fixture = fileURLToPath(new URL('./hanging-test.fixture.ts', import.meta.url));
  // As scripts/test.mjs runs files, without this runner's NODE_TEST_CONTEXT, which would make the
  // inner `node --test` report to it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT'));
  const runner = new Program(process.execPath, { name: 'node --test (hanging file)', args: ['--import', 'tsx', '--test', '--test-reporter=tap', fixture], env });
  t.after(() => runner.stop('SIGKILL'));
  const started = await runner.waitForLine((l) => l.text.includes('"msg":"Started."'), 150_000, 'the started line');
  const pids = (JSON.parse(started.text.slice(started.text.indexOf('{'))) as { pids: number[] }).pids;
  assert.equal(pids.length, 3, 'the gateway and its two workers');
  assert.ok(pids.every(alive), 'running while the file runs');
  await runner.waitForLine((l) => /not ok .* hangs past its timeout/.test(l.text), 30_000, 'the timed-out test');
  // The file process (the gateway's parent) is still there, holding the gateway: end it as a
  // runner or a CI timeout would.
  const file = Number(readFileSync(`/proc/${pids[0]}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  assert.ok(alive(file), 'the test file is still running after its timeout');
  process.kill(file, 'SIGTERM');
  await waitUntil(() => !pids.some(alive), 30_000, `no process of ${pids.join(', ')} left`);
});

for (const [how, end] of [
  ['exits', 'exit'],
  ['is ended by SIGTERM', 'wait'],
] as const) {
  test(`children spawned outside Program and given to killOnExit die with a process that ${how}, group and all`, { timeout: 60_000 }, async (t) => {
    const fixture = fileURLToPath(new URL('./spawned-child.fixture.ts', import.meta.url));
    const parent = new Program(process.execPath, { name: 'spawner', args: ['--import', 'tsx', fixture, end] });
    t.after(() => parent.stop('SIGKILL'));
    const line = await parent.waitForLog((r) => r.msg === 'Spawned.', 30_000, 'the spawned line');
    const pids = line['pids'] as number[];
    assert.equal(pids.length, 3);
    assert.ok(pids.every((pid) => Number.isInteger(pid) && pid > 0), JSON.stringify(pids));
    if (end === 'wait') {
      assert.ok(pids.every(alive), 'running while their parent runs');
      parent.signal('SIGTERM');
    }
    await parent.exited;
    await waitUntil(() => !pids.some(alive), 10_000, `no process of ${pids.join(', ')} left`);
  });
}

test('waiting for N log lines counts the printed ones and the ones to come, and fails with the transcript when they never all come', async (t) => {
  const script = `for (let i = 0; i < 3; i++) setTimeout(() => console.log(JSON.stringify({ msg: 'tick', i })), i * 50); setTimeout(() => {}, 5000)`;
  const program = new Program(process.execPath, { name: 'ticker', args: ['-e', script] });
  t.after(() => program.stop('SIGKILL'));
  await program.waitForLog((r) => r.msg === 'tick');
  const ticks = await program.waitForLogs((r) => r.msg === 'tick', 3);
  assert.deepEqual(ticks.map((r) => r['i']), [0, 1, 2]);
  await assert.rejects(program.waitForLogs((r) => r.msg === 'tick', 4, 300, 'a fourth tick'), /did not print a fourth tick[\s\S]*"i":2/);
});

test('waiting for text in a log file ends when a write brings it, and fails with what the file holds', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-file-text-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'access.log');
  const waited = waitForFileText(file, /TCP_TUNNEL\/200/, 10_000, 'the tunnel line');
  await appendFile(file, 'TCP_DENIED/403 first\n');
  await appendFile(file, 'TCP_TUNNEL/200 second\n');
  assert.match(await waited, /first\nTCP_TUNNEL\/200 second/);
  await assert.rejects(waitForFileText(file, /never/, 200, 'a never line'), /a never line did not appear .* within 200 ms; it holds:\nTCP_DENIED/);
});
