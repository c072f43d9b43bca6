/**
 * Just enough of GLib's GVariant text format to write the values Pinhole sets in the same form
 * `gsettings get` prints them back (g_variant_print), so "is this still what we set?" is a plain
 * text comparison. Values read from gsettings are never parsed: they are written back verbatim.
 */

const escapes: Record<string, string> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\t': '\\t',
  '\r': '\\r',
  '\b': '\\b',
  '\f': '\\f',
  '\v': '\\v',
  '\u0007': '\\a',
};

/** A GVariant string literal: single quotes, or double quotes when the text holds a `'` (as GLib does). */
export const gvString = (text: string): string => {
  const quote = text.includes("'") ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === quote) out += `\\${ch}`;
    else if (escapes[ch] !== undefined) out += escapes[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + quote;
};

/** A GVariant `as`: `['a', 'b']`, or `@as []` when empty (as gsettings prints it). */
export const gvStringArray = (items: readonly string[]): string =>
  items.length === 0 ? '@as []' : `[${items.map(gvString).join(', ')}]`;

export const gvInt = (value: number): string => String(Math.trunc(value));

export const gvBool = (value: boolean): string => (value ? 'true' : 'false');
