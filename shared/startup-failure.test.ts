import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PinholeError } from './errors.js';
import { startupDialog, startupFailure, startupLine } from './startup-failure.js';

test('a start-up cause keeps its own sentence and code, and exits 2; a usage line carries no code', () => {
  const failure = startupFailure(new PinholeError('PINHOLE_ADDRESS_IN_USE', 'The console cannot listen on 127.0.0.1:7777: the port is already in use by nginx (pid 12).'), 'on stderr');
  assert.deepEqual(failure, { code: 'PINHOLE_ADDRESS_IN_USE', message: 'The console cannot listen on 127.0.0.1:7777: the port is already in use by nginx (pid 12).', exitCode: 2 });
  assert.equal(startupLine('pinhole console', failure), 'pinhole console: The console cannot listen on 127.0.0.1:7777: the port is already in use by nginx (pid 12). (PINHOLE_ADDRESS_IN_USE)');
  assert.equal(startupLine('pinhole-gateway', startupFailure(new PinholeError('PINHOLE_USAGE', '--dir is required.'), 'x')), 'pinhole-gateway: --dir is required.');
});

test('trouble in the environment (the keychain) is exit 1, with its own sentence', () => {
  const failure = startupFailure(new PinholeError('PINHOLE_KEYCHAIN_UNAVAILABLE'), 'on stderr');
  assert.equal(failure.exitCode, 1);
  assert.equal(failure.code, 'PINHOLE_KEYCHAIN_UNAVAILABLE');
});

test('anything that is not a PinholeError is a bug: the sentence asks for a report, says where the log is and keeps the cause', () => {
  for (const err of [new TypeError('x is undefined'), new PinholeError('PINHOLE_INTERNAL', undefined, { cause: new TypeError('x is undefined') })]) {
    const failure = startupFailure(err, 'on standard error, just above this line');
    assert.equal(failure.code, 'PINHOLE_INTERNAL');
    assert.equal(failure.exitCode, 1);
    assert.match(failure.message, /this is a bug\. Please report it/);
    assert.match(failure.message, /The log is on standard error, just above this line\./);
    assert.match(failure.message, /\(x is undefined\)$/);
  }
});

test("the desktop app's dialog says the same sentence and the code", () => {
  const dialog = startupDialog(new PinholeError('PINHOLE_FILE_INVALID', 'The secrets file /home/a/s.json: this is not a Pinhole secrets file.'), 'in /tmp/log');
  assert.equal(dialog.title, 'Pinhole could not start');
  assert.equal(dialog.message, 'The secrets file /home/a/s.json: this is not a Pinhole secrets file.\n\n(PINHOLE_FILE_INVALID)');
  assert.equal(dialog.exitCode, 2);
  assert.match(startupDialog(new Error('boom'), 'in /tmp/pinhole/startup-error.log').message, /The log is in \/tmp\/pinhole\/startup-error\.log\. \(boom\)/);
});
