import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentialPrincipal, htpasswdPrincipal } from '../auth/principal.js';
import { RevocationList, formatRevocations, parseRevocationKey, parseRevocations, revocationKey, targetMatches } from './revocation-list.js';
import { parseControlMessage } from './fleet-channel.js';

const OIDC = credentialPrincipal({ user: 'Alice@Example.com', subject: 'alice-sub', issuer: 'https://idp.example.com', email: 'Alice@Example.com' });
const NAMESAKE = htpasswdPrincipal('Alice@Example.com');

test('an entry names one kind of user: an e-mail or subject revocation never touches the users-file user of the same name, and the reverse', () => {
  const email = { kind: 'email', value: 'alice@example.com' } as const;
  assert.ok(targetMatches(email, OIDC), 'e-mail addresses compare case-insensitively');
  assert.ok(!targetMatches(email, NAMESAKE));
  assert.ok(targetMatches({ kind: 'subject', value: 'alice-sub' }, OIDC));
  assert.ok(!targetMatches({ kind: 'subject', value: 'Alice-sub' }, OIDC), 'subjects compare exactly');
  assert.ok(targetMatches({ kind: 'user', value: 'Alice@Example.com' }, NAMESAKE));
  assert.ok(!targetMatches({ kind: 'user', value: 'Alice@Example.com' }, OIDC));
  assert.notEqual(OIDC.key, NAMESAKE.key, 'limits and sessions count them apart');
});

test('the list: entries until a time, the later one wins, expired ones refuse nobody, replace reports only what is new', () => {
  let now = 1_000_000;
  const list = new RevocationList(() => now);
  assert.equal(list.add({ kind: 'user', value: 'bob', until: now - 1 }), false, 'already expired');
  assert.equal(list.add({ kind: 'email', value: 'alice@example.com', until: now + 1000 }), true);
  assert.equal(list.add({ kind: 'email', value: 'ALICE@example.com', until: now + 5000 }), false, 'the same entry, later: not new');
  assert.equal(list.refusing(OIDC)?.until, now + 5000);
  now += 6000;
  assert.equal(list.refusing(OIDC), undefined);
  assert.equal(list.size, 0, 'the expired entry was dropped');
  list.add({ kind: 'user', value: 'bob', until: now + 10 });
  const added = list.replace([{ kind: 'user', value: 'bob', until: now + 10 }, { kind: 'subject', value: 's', until: now + 10 }]);
  assert.deepEqual(added.map(revocationKey), ['subject:s']);
});

test('the revoked file: KIND VALUE UNTIL lines round-trip; bad lines are reported by number, not fatal', () => {
  const entries = [
    { kind: 'subject', value: 'alice-sub', until: Date.parse('2030-01-01T00:00:00.000Z') },
    { kind: 'email', value: 'bob@example.com', until: Date.parse('2030-01-02T00:00:00.000Z') },
  ] as const;
  assert.deepEqual(parseRevocations(formatRevocations(entries)), { entries, badLines: [] });
  const { entries: good, badLines } = parseRevocations('user alice 2030-01-01T00:00:00Z\nuser\nfriend bob 2030-01-01T00:00:00Z\nuser carol yesterday\nemail a b c d\n# fine\n');
  assert.equal(good.length, 1);
  assert.deepEqual(badLines, [2, 3, 4, 5]);
  assert.deepEqual(parseRevocationKey('email:a@b'), { kind: 'email', value: 'a@b' });
  assert.equal(parseRevocationKey('nobody:x'), undefined);
});

test('fleet control messages: only well-formed ones are understood', () => {
  assert.deepEqual(parseControlMessage('{"op":"revoke","kind":"user","value":"bob","until":5}'), { op: 'revoke', kind: 'user', value: 'bob', until: 5 });
  assert.deepEqual(parseControlMessage('{"op":"disconnect","session":"ab.1"}'), { op: 'disconnect', session: 'ab.1' });
  for (const bad of ['', 'null', '{"op":"revoke","kind":"group","value":"x","until":1}', '{"op":"drop-tables"}', '{"op":"restore","kind":"user"}']) assert.equal(parseControlMessage(bad), undefined, bad);
});
