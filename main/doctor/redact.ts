/**
 * Removing secrets from what goes into a diagnostics bundle, twice over: fields whose name says
 * secret (password, token, secret, credential, authorization, passphrase, cookie) lose their value,
 * and every string loses the known secrets (each profile's password, the link's secret, proxy
 * passwords), provisioning links, URL passwords and Basic/Bearer values wherever they appear.
 */
export const REMOVED = '[removed]';

const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|authorization|cookie|api[-_]?key/i;
/** Keys that look secret by name but hold a reference or a yes/no, never the secret. */
const SAFE_KEYS = new Set(['secretRef', 'hasPassword', 'passwordStdin']);

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class Redactor {
  private readonly patterns: RegExp[];

  /** `secrets`: every secret value known on this machine (short ones are still removed, empty ones ignored). */
  constructor(secrets: readonly string[]) {
    const known = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
    // Each secret also in the spellings it travels in: URL-encoded and inside a Basic value.
    const spellings = known.flatMap((s) => [s, encodeURIComponent(s), Buffer.from(s, 'utf8').toString('base64').replace(/=+$/, '')]);
    this.patterns = [
      /pinhole:\/\/[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+/gi,
      /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]+/gi,
      /(?<=\/\/[^/\s:@]*:)[^@\s/]+(?=@)/g,
      ...(spellings.length > 0 ? [new RegExp([...new Set(spellings)].map(escape).join('|'), 'g')] : []),
    ];
  }

  text(value: string): string {
    let out = value;
    for (const pattern of this.patterns) out = out.replace(pattern, REMOVED);
    return out;
  }

  /** A deep copy of `value` with secret fields emptied and every string cleaned. */
  value(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.value(item));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = SECRET_KEY.test(key) && !SAFE_KEYS.has(key) && item !== undefined && typeof item !== 'boolean' ? REMOVED : this.value(item);
      return out;
    }
    return value;
  }
}
