/**
 * What a fresh profile document changes in the stored profile, as a typed list the caller applies
 * without dropping tunnels (new endpoints join the chooser, a new pin is accepted on the next
 * handshake) and logs one sentence per change. Two safety rules: the last endpoint known to work
 * is never removed, and the pin that verified the connection the document came over is never
 * dropped, so a mistaken document cannot cut a client off its gateway.
 */
import type { ProfileDocument } from '../../shared/profile-document.js';
import type { GatewayTarget, Transport } from '../../shared/profile.js';

/** The parts of a stored profile a document may change. Pins: the one in use first. */
export interface ProfileView {
  endpoints: string[];
  serverName: string;
  pins: string[];
  transport: Transport;
  wsPath: string;
  domains: string[];
}

export type ProfileChange =
  | { kind: 'endpoint-added'; endpoint: string; sentence: string }
  | { kind: 'endpoint-removed'; endpoint: string; sentence: string }
  | { kind: 'endpoint-kept'; endpoint: string; sentence: string }
  | { kind: 'pin-added'; pin: string; sentence: string }
  | { kind: 'pin-rotated'; from: string; to: string; sentence: string }
  | { kind: 'pin-removed'; pin: string; sentence: string }
  | { kind: 'pin-kept'; pin: string; sentence: string }
  | { kind: 'server-name-changed'; from: string; to: string; sentence: string }
  | { kind: 'transport-changed'; from: Transport; to: Transport; sentence: string }
  | { kind: 'ws-path-changed'; from: string; to: string; sentence: string }
  | { kind: 'domains-changed'; added: string[]; removed: string[]; sentence: string };

export interface UpdatePlan {
  changes: ProfileChange[];
  /** The profile after the changes. Equal to the stored one when `changes` is empty. */
  next: ProfileView;
}

export interface PlanContext {
  /** Endpoints that completed a verified handshake recently (the one the document came over included). */
  working: readonly string[];
  /** The pin that verified the connection the document came over, when trust is by pin. */
  verifiedPin?: string | undefined;
}

const short = (pin: string): string => `${pin.slice(0, 8)}...${pin.slice(-4)}`;
const norm = (pin: string): string => pin.replace(/[:\s]/g, '').toUpperCase();

export const viewOfTarget = (target: GatewayTarget): ProfileView => ({
  endpoints: [...target.endpoints],
  serverName: target.serverName,
  pins: target.trust.kind === 'pin' ? [...new Set([target.trust.pin, ...(target.trust.nextPins ?? [])].map(norm))] : [],
  transport: target.transport,
  wsPath: target.wsPath,
  domains: [...target.domains],
});

export const planProfileUpdate = (stored: ProfileView, document: ProfileDocument, context: PlanContext): UpdatePlan => {
  const changes: ProfileChange[] = [];

  // Endpoints: the document's order (the operator's preference), plus any working one it dropped
  // when no working endpoint would be left otherwise.
  const endpoints = [...document.endpoints];
  for (const endpoint of endpoints) if (!stored.endpoints.includes(endpoint)) changes.push({ kind: 'endpoint-added', endpoint, sentence: `Endpoint added: ${endpoint}.` });
  const removed = stored.endpoints.filter((e) => !endpoints.includes(e));
  const noneWorking = !endpoints.some((e) => context.working.includes(e));
  for (const endpoint of removed) {
    if (noneWorking && context.working.includes(endpoint)) {
      endpoints.push(endpoint);
      changes.push({ kind: 'endpoint-kept', endpoint, sentence: `Endpoint ${endpoint} was removed by the gateway but is kept: it is the last one known to work, until another answers.` });
    } else changes.push({ kind: 'endpoint-removed', endpoint, sentence: `Endpoint removed: ${endpoint}.` });
  }

  // Pins, for a profile that trusts by pin, when the gateway publishes some (a CA-issued
  // certificate publishes none, and a profile trusting a CA or the OS store keeps doing so).
  let pins = stored.pins;
  const [oldFirst] = stored.pins;
  if (document.pins.length > 0 && oldFirst !== undefined) {
    pins = document.pins.map(norm);
    const newFirst = pins[0] as string;
    if (oldFirst !== newFirst) changes.push({ kind: 'pin-rotated', from: oldFirst, to: newFirst, sentence: `The gateway's certificate pin rotated from ${short(oldFirst)} to ${short(newFirst)}.` });
    for (const pin of pins.slice(1)) {
      if (!stored.pins.includes(pin)) changes.push({ kind: 'pin-added', pin, sentence: `Pin ${short(pin)} added: the gateway's next certificate will be accepted when it goes live.` });
    }
    for (const pin of stored.pins.slice(1)) if (!pins.includes(pin)) changes.push({ kind: 'pin-removed', pin, sentence: `Pin ${short(pin)} removed.` });
    const verified = context.verifiedPin === undefined ? undefined : norm(context.verifiedPin);
    if (verified !== undefined && !pins.includes(verified)) {
      pins = [...pins, verified];
      changes.push({ kind: 'pin-kept', pin: verified, sentence: `Pin ${short(verified)} is kept although the gateway no longer lists it: it verified this very connection.` });
    }
  }

  if (document.serverName !== stored.serverName) {
    changes.push({ kind: 'server-name-changed', from: stored.serverName, to: document.serverName, sentence: `The gateway's TLS name changed from ${stored.serverName} to ${document.serverName}.` });
  }
  if (document.transport !== stored.transport) {
    changes.push({ kind: 'transport-changed', from: stored.transport, to: document.transport, sentence: `Transport changed from ${stored.transport} to ${document.transport} (used for new connections).` });
  }
  const wsPath = document.wsPath ?? stored.wsPath;
  if (wsPath !== stored.wsPath) changes.push({ kind: 'ws-path-changed', from: stored.wsPath, to: wsPath, sentence: `WebSocket path changed from ${stored.wsPath} to ${wsPath}.` });
  const addedDomains = document.domains.filter((d) => !stored.domains.includes(d));
  const removedDomains = stored.domains.filter((d) => !document.domains.includes(d));
  if (addedDomains.length > 0 || removedDomains.length > 0) {
    const parts = [addedDomains.length > 0 ? `added ${addedDomains.join(', ')}` : '', removedDomains.length > 0 ? `removed ${removedDomains.join(', ')}` : ''].filter(Boolean);
    changes.push({ kind: 'domains-changed', added: addedDomains, removed: removedDomains, sentence: `Tunnelled domains changed: ${parts.join('; ')}.` });
  }

  if (changes.length === 0) return { changes, next: stored };
  return { changes, next: { endpoints, serverName: document.serverName, pins, transport: document.transport, wsPath, domains: [...document.domains] } };
};

/**
 * The stored profile with the plan applied. Trust stays what it was unless it is by pin: then the
 * first pin (the certificate in use) and the announced next ones (`nextPins`, accepted too).
 */
export const applyToTarget = <T extends GatewayTarget>(target: T, next: ProfileView): T => ({
  ...target,
  endpoints: [...next.endpoints],
  serverName: next.serverName,
  transport: next.transport,
  wsPath: next.wsPath,
  domains: [...next.domains],
  trust:
    target.trust.kind === 'pin' && next.pins[0] !== undefined
      ? { kind: 'pin', pin: next.pins[0], ...(next.pins.length > 1 ? { nextPins: next.pins.slice(1) } : {}) }
      : target.trust,
});
