/**
 * What a fresh profile document changes, one table row per story: an operator adds a gateway,
 * announces the next certificate, rotates it, moves domains; and the two safety rules (the last
 * working endpoint and the pin that verified this connection are never dropped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileDocumentSchema, type ProfileDocumentInput } from '../../shared/profile-document.js';
import { GatewayTargetSchema } from '../../shared/profile.js';
import { applyToTarget, planProfileUpdate, viewOfTarget, type PlanContext, type ProfileView } from './profile-changes.js';

const P1 = 'A'.repeat(64);
const P2 = 'B'.repeat(64);
const P3 = 'C'.repeat(64);
const GW1 = 'gw1.example.test:443';
const GW2 = 'gw2.example.test:443';
const GW3 = 'gw3.example.test:443';

const stored: ProfileView = { endpoints: [GW1, GW2], serverName: 'gw.example.test', pins: [P1], transport: 'h2', wsPath: '/pinhole/ws', domains: ['api.vendor.example'] };
const doc = (over: Partial<ProfileDocumentInput> = {}) =>
  ProfileDocumentSchema.parse({ version: 1, user: 'alice', serverName: 'gw.example.test', endpoints: [GW1, GW2], pins: [P1], transport: 'h2', domains: ['api.vendor.example'], ...over });
const ctx: PlanContext = { working: [GW1], verifiedPin: P1 };

const rows: Array<{ story: string; from?: ProfileView; document: ReturnType<typeof doc>; context?: PlanContext; kinds: string[]; sentences?: RegExp[]; next?: Partial<ProfileView> }> = [
  { story: 'nothing changed', document: doc(), kinds: [], next: stored },
  { story: 'the operator added a third gateway', document: doc({ endpoints: [GW1, GW2, GW3] }), kinds: ['endpoint-added'], sentences: [/^Endpoint added: gw3\.example\.test:443\.$/], next: { endpoints: [GW1, GW2, GW3] } },
  { story: 'the operator retired gw2 (gw1 still works)', document: doc({ endpoints: [GW1] }), kinds: ['endpoint-removed'], next: { endpoints: [GW1] } },
  {
    story: 'the operator moved everyone to gw3, but gw3 never answered yet: the working gw1 is kept',
    document: doc({ endpoints: [GW3] }),
    kinds: ['endpoint-added', 'endpoint-kept', 'endpoint-removed'],
    sentences: [/gw3/, /gw1\.example\.test:443 was removed by the gateway but is kept/, /Endpoint removed: gw2/],
    next: { endpoints: [GW3, GW1] },
  },
  { story: 'the next certificate is announced', document: doc({ pins: [P1, P2] }), kinds: ['pin-added'], sentences: [/next certificate will be accepted/], next: { pins: [P1, P2] } },
  { story: 'the certificate rotated to the announced one', from: { ...stored, pins: [P1, P2] }, document: doc({ pins: [P2, P3] }), context: { working: [GW1], verifiedPin: P2 }, kinds: ['pin-rotated', 'pin-added'], sentences: [/rotated from AAAAAAAA\.\.\.AAAA to BBBBBBBB\.\.\.BBBB/], next: { pins: [P2, P3] } },
  { story: 'a document that drops the pin this connection was verified with: that pin stays', document: doc({ pins: [P2] }), kinds: ['pin-rotated', 'pin-kept'], next: { pins: [P2, P1] } },
  { story: 'a withdrawn next pin is removed', from: { ...stored, pins: [P1, P2] }, document: doc({ pins: [P1] }), kinds: ['pin-removed'], next: { pins: [P1] } },
  { story: 'a gateway with a CA-issued certificate publishes no pins: ours stay', document: doc({ pins: [] }), kinds: [], next: { pins: [P1] } },
  { story: 'a profile that trusts a CA ignores published pins', from: { ...stored, pins: [] }, document: doc({ pins: [P1, P2] }), kinds: [], next: { pins: [] } },
  {
    story: 'domains, transport, WebSocket path and TLS name changed',
    document: doc({ domains: ['api.vendor.example', 'files.vendor.example'], transport: 'wss', wsPath: '/tunnel', serverName: 'edge.example.test' }),
    kinds: ['server-name-changed', 'transport-changed', 'ws-path-changed', 'domains-changed'],
    sentences: [/edge\.example\.test/, /from h2 to wss/, /\/pinhole\/ws to \/tunnel/, /added files\.vendor\.example/],
    next: { transport: 'wss', wsPath: '/tunnel', serverName: 'edge.example.test', domains: ['api.vendor.example', 'files.vendor.example'] },
  },
  { story: 'a domain removed', document: doc({ domains: [] }), kinds: ['domains-changed'], sentences: [/removed api\.vendor\.example/], next: { domains: [] } },
];

for (const row of rows) {
  test(`profile changes: ${row.story}`, () => {
    const from = row.from ?? stored;
    const plan = planProfileUpdate(from, row.document, row.context ?? ctx);
    assert.deepEqual(plan.changes.map((c) => c.kind), row.kinds);
    for (const [i, re] of (row.sentences ?? []).entries()) assert.match(plan.changes[i]?.sentence ?? '', re);
    for (const change of plan.changes) assert.match(change.sentence, /\.$/, 'every change is a sentence');
    for (const [key, value] of Object.entries(row.next ?? {})) assert.deepEqual(plan.next[key as keyof ProfileView], value, key);
    if (plan.changes.length === 0) assert.equal(plan.next, from, 'no changes, the same profile');
  });
}

test('the plan applies to a stored profile without touching what the document does not carry', () => {
  const target = GatewayTargetSchema.parse({ endpoints: [GW1, GW2], serverName: 'gw.example.test', trust: { kind: 'pin', pin: P1 }, user: 'alice', domains: ['api.vendor.example'] });
  const view = viewOfTarget(target);
  assert.deepEqual(view.pins, [P1]);
  const plan = planProfileUpdate(view, doc({ endpoints: [GW1, GW2, GW3], pins: [P2, P3] }), { working: [GW1], verifiedPin: P2 });
  const next = applyToTarget(target, plan.next);
  assert.deepEqual(next.endpoints, [GW1, GW2, GW3]);
  assert.deepEqual(next.trust, { kind: 'pin', pin: P2, nextPins: [P3] }, 'the announced next certificate is accepted too');
  assert.deepEqual(viewOfTarget(next).pins, [P2, P3]);
  assert.equal(next.user, 'alice');
  const ca = GatewayTargetSchema.parse({ ...target, trust: { kind: 'system' } });
  assert.deepEqual(applyToTarget(ca, planProfileUpdate(viewOfTarget(ca), doc({ pins: [P2] }), { working: [GW1] }).next).trust, { kind: 'system' });
});
