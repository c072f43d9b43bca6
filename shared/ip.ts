/**
 * IPv6 text from bytes, once for every side: the gateway's PROXY header parser and the client's
 * /proc/net/tcp6 reader must print addresses the same way for them to compare.
 */

/** RFC 5952 text for 16 address bytes from `at`: lower case, the longest run of two or more zero groups as "::", IPv4-mapped as ::ffff:a.b.c.d. */
export const formatIPv6 = (bytes: ArrayLike<number>, at = 0): string => {
  const byte = (i: number): number => bytes[at + i] ?? 0;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((byte(i) << 8) | byte(i + 1));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${byte(12)}.${byte(13)}.${byte(14)}.${byte(15)}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
};

/** "::ffff:127.0.0.1" -> "127.0.0.1". */
export const unmapV4 = (address: string): string => (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address);
