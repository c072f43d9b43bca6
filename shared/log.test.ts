import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from './errors.js';
import { chooseLogFormat, createLogger, humanLines } from './log.js';

test('the log format: human on a terminal, JSON otherwise, a flag wins, a wrong flag is a usage error', () => {
  assert.equal(chooseLogFormat(undefined, true), 'human');
  assert.equal(chooseLogFormat(undefined, false), 'json');
  assert.equal(chooseLogFormat(undefined, undefined), 'json');
  assert.equal(chooseLogFormat('json', true), 'json');
  assert.equal(chooseLogFormat('human', false), 'human');
  assert.throws(
    () => chooseLogFormat('pretty', true),
    (error: unknown) => error instanceof PinholeError && error.code === 'PINHOLE_USAGE' && /--log-format must be human or json/.test(error.message),
  );
});

test('a human line has the time, the level, the sentence and the fields, and redaction still applies', () => {
  const written: string[] = [];
  const logger = createLogger({ name: 'pinhole', destination: humanLines({ write: (text: string) => written.push(text) }) });
  logger.info({ listen: '127.0.0.1:8080', password: 'hunter2' }, 'The local proxy is listening.');
  logger.warn({ code: 'PINHOLE_GATEWAY_UNREACHABLE' }, 'Connection failed: The Pinhole gateway could not be reached.');
  assert.equal(written.length, 2);
  assert.match(written[0] ?? '', /^\[\d\d:\d\d:\d\d\] INFO: The local proxy is listening\. .*"listen":"127\.0\.0\.1:8080"/);
  assert.match(written[1] ?? '', /^\[\d\d:\d\d:\d\d\] WARN: Connection failed: The Pinhole gateway could not be reached\. .*PINHOLE_GATEWAY_UNREACHABLE/);
  assert.ok(written.every((line) => line.endsWith('\n') && line.split('\n').length === 2), 'one line per record');
  assert.ok(!written.join('').includes('hunter2'), 'the password is redacted');
  assert.ok(!written.join('').includes('\u001b['), 'no colours unless asked');
});
