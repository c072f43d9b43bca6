/**
 * Revocations (issue 18): who may no longer open tunnels, each until a time. One entry names a
 * users-file user (`user`), an identity provider's subject (`subject`) or a verified e-mail
 * (`email`); it matches only principals of its own kind, so revoking the e-mail alice@example.com
 * leaves the users-file user of that name alone. Entries expire after the longest credential
 * lifetime: by then every credential issued before the revocation has expired on its own.
 *
 * The list's text form is the `revoked` file in the gateway's directory (one entry a line:
 * `KIND VALUE UNTIL`, UNTIL in ISO 8601; `#` comments), and its fleet form one Redis sorted set
 * (member `KIND:VALUE`, score UNTIL in ms). Pure.
 */
import type { Principal } from '../auth/principal.js';

export const REVOCATION_KINDS = ['user', 'subject', 'email'] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export interface RevocationTarget {
  readonly kind: RevocationKind;
  readonly value: string;
}

export interface Revocation extends RevocationTarget {
  /** Milliseconds since the epoch; the entry means nothing after it. */
  readonly until: number;
}

const isKind = (text: string): text is RevocationKind => (REVOCATION_KINDS as readonly string[]).includes(text);

/** E-mail addresses compare case-insensitively; names and subjects exactly. */
const normalised = (target: RevocationTarget): string => (target.kind === 'email' ? target.value.toLowerCase() : target.value);

/** `KIND:VALUE`: the entry's one name (a map key, the sorted set's member). */
export const revocationKey = (target: RevocationTarget): string => `${target.kind}:${normalised(target)}`;

export const parseRevocationKey = (key: string): RevocationTarget | undefined => {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon);
  const value = key.slice(colon + 1);
  return colon > 0 && isKind(kind) && value !== '' ? { kind, value } : undefined;
};

/** A value the list can hold: one token, no spaces or control characters, not too long. */
export const isRevocationValue = (value: string): boolean => /^[^\s\p{Cc}]{1,256}$/u.test(value);

/** The keys a principal is revoked under, most specific first. */
export const revocationKeysOf = (principal: Principal): string[] => {
  if (principal.kind === 'htpasswd') return [revocationKey({ kind: 'user', value: principal.name })];
  const keys: string[] = [];
  if (principal.subject !== undefined) keys.push(revocationKey({ kind: 'subject', value: principal.subject }));
  if (principal.email !== undefined) keys.push(revocationKey({ kind: 'email', value: principal.email }));
  return keys;
};

/** True when `target` names `principal` (of its own kind). */
export const targetMatches = (target: RevocationTarget, principal: Principal): boolean => revocationKeysOf(principal).includes(revocationKey(target));

export interface ParsedRevocations {
  readonly entries: Revocation[];
  /** 1-based numbers of lines that are not `KIND VALUE UNTIL` (skipped, reported). */
  readonly badLines: number[];
}

export function parseRevocations(text: string): ParsedRevocations {
  const entries: Revocation[] = [];
  const badLines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [kind, value, until, ...rest] = line.split(/\s+/);
    const ms = until === undefined ? NaN : Date.parse(until);
    if (kind === undefined || !isKind(kind) || value === undefined || !isRevocationValue(value) || !Number.isFinite(ms) || rest.length > 0) {
      badLines.push(i + 1);
      return;
    }
    entries.push({ kind, value, until: ms });
  });
  return { entries, badLines };
}

export const formatRevocations = (entries: Iterable<Revocation>): string =>
  `# Pinhole revocations: KIND VALUE UNTIL (written by pinhole-gateway revoke and user disable; entries past UNTIL mean nothing).\n${[...entries]
    .map((e) => `${e.kind} ${e.value} ${new Date(e.until).toISOString()}`)
    .join('\n')}\n`;

/** The live entries by key: the latest `until` wins, expired ones are dropped. */
export class RevocationList {
  private readonly entries = new Map<string, Revocation>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True when the entry is new or later than the one held (the caller then ends tunnels). */
  add(entry: Revocation): boolean {
    if (entry.until <= this.now()) return false;
    const key = revocationKey(entry);
    const held = this.entries.get(key);
    if (held !== undefined && held.until >= entry.until) return false;
    this.entries.set(key, entry);
    return held === undefined;
  }

  remove(target: RevocationTarget): boolean {
    return this.entries.delete(revocationKey(target));
  }

  /** The entry that refuses `principal`, if any (an expired one is dropped on the way). */
  refusing(principal: Principal): Revocation | undefined {
    if (this.entries.size === 0) return undefined;
    for (const key of revocationKeysOf(principal)) {
      const entry = this.entries.get(key);
      if (entry === undefined) continue;
      if (entry.until > this.now()) return entry;
      this.entries.delete(key);
    }
    return undefined;
  }

  /** Every entry replaced by these (a file re-read, a Redis snapshot); returns the ones that are new. */
  replace(entries: Iterable<Revocation>): Revocation[] {
    const before = new Set(this.entries.keys());
    this.entries.clear();
    const added: Revocation[] = [];
    for (const entry of entries) if (this.add(entry) && !before.has(revocationKey(entry))) added.push(entry);
    return added;
  }

  has(target: RevocationTarget): boolean {
    return this.entries.has(revocationKey(target));
  }

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<Revocation> {
    return this.entries.values();
  }
}
