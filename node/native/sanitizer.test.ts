/**
 * The native byte path's own tests once more, with the addon built under AddressSanitizer (issue 27:
 * "the native tests run once under AddressSanitizer"): a use-after-free, an overflow or a double
 * close in the engine fails here even when the plain build happens to survive it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

test('the native tests pass with the addon built under AddressSanitizer', { timeout: 170_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinhole-asan-'));
  try {
    cpSync(join(root, 'native', 'binding.gyp'), join(dir, 'binding.gyp'));
    cpSync(join(root, 'native', 'src'), join(dir, 'src'), { recursive: true });
    const prefix = join(process.execPath, '..', '..');
    const gyp = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    await run(process.execPath, [gyp, 'rebuild', `--directory=${dir}`, `--nodedir=${prefix}`], { env: { ...process.env, PINHOLE_NATIVE_SANITIZE: 'address' }, maxBuffer: 16 << 20 });
    const { stdout: libasan } = await run('gcc', ['-print-file-name=libasan.so']);
    // Not a sub-run of this test runner: the child reports TAP of its own.
    const { NODE_TEST_CONTEXT: _ignored, ...environment } = process.env;
    // The engine's own tests (the gateway's TLS server too), and the client's relay story on it (hand-over, timeouts, counts, a socket pair).
    const files = [join(root, 'node', 'native', 'byte-path.test.ts'), join(root, 'node', 'native', 'tls-server.test.ts'), join(root, 'main', 'tunnel', 'byte-paths.test.ts')];
    const child = run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...files], {
      cwd: root,
      maxBuffer: 16 << 20,
      env: {
        ...environment,
        LD_PRELOAD: libasan.trim(),
        // node itself is not instrumented and keeps allocations until exit: leaks are not the question here.
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
        PINHOLE_NATIVE_ADDON: join(dir, 'build', 'Release', 'pinhole_native.node'),
      },
    });
    const { stdout, stderr } = await child;
    assert.doesNotMatch(stderr, /AddressSanitizer/);
    assert.match(stdout, /^# fail 0$/m);
    assert.match(stdout, /^# pass [1-9]\d*$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
