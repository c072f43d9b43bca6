/**
 * The gateway as a company's security review scans it (issue 28, item 9): testssl.sh 3.0.8 (the
 * Debian package) against a real gateway on loopback, protocols, every cipher per protocol and the
 * vulnerability checks. It must find only TLS 1.2 AEAD suites with ECDHE and TLS 1.3, no CBC, CCM8
 * or ARIA, and no vulnerability. Two scans at once, about a minute on a quiet machine; alone in its file for that reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../support/gateway.js';
import { runCommand } from '../support/processes.js';

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

test('testssl.sh finds TLS 1.2 AEAD suites and TLS 1.3 only, no CBC, CCM8 or ARIA, and no vulnerability', { timeout: 175_000 }, async (t) => {
  const gateway = await startGateway();
  t.after(() => gateway.stop());
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-testssl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Two scans at once (each about 45 s alone): -p protocols and -E every cipher per protocol; -U the vulnerability checks.
  const scan = async (name: string, checks: string[]): Promise<{ findings: Finding[]; transcript: string }> => {
    const json = join(dir, `${name}.json`);
    const run = await runCommand('testssl', {
      args: ['--quiet', '--color', '0', '--warnings', 'off', '--openssl', '/usr/bin/openssl', '--jsonfile', json, ...checks, `127.0.0.1:${gateway.port}`],
      cwd: dir,
      timeoutMs: 160_000,
    });
    return { findings: JSON.parse(await readFile(json, 'utf8')) as Finding[], transcript: `${run.stdout}\n${run.stderr}` };
  };
  const [offer, vulnerabilities] = await Promise.all([scan('offer', ['-p', '-E']), scan('vulnerabilities', ['-U'])]);
  const findings = [...offer.findings, ...vulnerabilities.findings];
  const transcript = `${offer.transcript}\n${vulnerabilities.transcript}`;
  const by = (id: string): Finding | undefined => findings.find((f) => f.id === id);

  for (const old of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) assert.match(by(old)?.finding ?? '', /not offered/, `${old} is not offered:\n${transcript}`);
  assert.match(by('TLS1_2')?.finding ?? '', /^offered/);
  assert.match(by('TLS1_3')?.finding ?? '', /^offered/);
  const suites = findings.filter((f) => f.id.startsWith('cipher-tls'));
  assert.ok(suites.length >= 4, `suites found:\n${transcript}`);
  for (const suite of suites) {
    // "TLS 1.2   xc02c   ECDHE-ECDSA-AES256-GCM-SHA384   ECDH 253   AESGCM ...": the OpenSSL name is the third column.
    const name = suite.finding.split(/\s+/)[3] ?? '';
    assert.match(name, /GCM|CHACHA20/, `an AEAD suite: ${suite.finding}`);
    assert.doesNotMatch(name, /CBC|CCM|ARIA|CAMELLIA/, `no CBC, CCM8 or ARIA: ${suite.finding}`);
    if (suite.id.startsWith('cipher-tls1_2')) assert.match(name, /^ECDHE-/, `TLS 1.2 with ECDHE: ${suite.finding}`);
  }
  // Every vulnerability check ran and said OK (INFO lines are facts, not findings).
  for (const check of ['heartbleed', 'CCS', 'ticketbleed', 'ROBOT', 'secure_client_renego', 'CRIME_TLS', 'POODLE_SSL', 'SWEET32', 'FREAK', 'DROWN', 'LOGJAM', 'BEAST', 'LUCKY13', 'RC4']) {
    assert.equal(by(check)?.severity, 'OK', `${check}: ${JSON.stringify(by(check))}`);
  }
  const flagged = findings.filter((f) => ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(f.severity));
  assert.deepEqual(flagged, [], 'testssl.sh flags nothing');
});
