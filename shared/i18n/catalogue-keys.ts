/**
 * The keys of a translation catalogue as code uses them: nested objects flattened to dotted
 * paths, and plural forms (`_one`, `_other`, ...) folded onto their base key. Pure, for the
 * catalogue checks of shared/ and renderer/.
 */
export const flattenCatalogue = (value: unknown, prefix = ''): Map<string, string> => {
  const out = new Map<string, string>();
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof child === 'string') out.set(path, child);
    else for (const [k, v] of flattenCatalogue(child, path)) out.set(k, v);
  }
  return out;
};

/** A key as code uses it: plural suffixes folded away. */
export const baseKey = (key: string): string => key.replace(/_(zero|one|two|few|many|other)$/, '');
