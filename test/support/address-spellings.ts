/**
 * One table of address spellings for the destination policy (issue 28): refused addresses written
 * every way the text allows (zero groups, leading zeros, mixed case, dotted tails, every IPv6 form
 * that carries an IPv4 address), and allowed ones written oddly, for the unit tests and for every
 * door end to end. Refused addresses are never connected to, so the table is safe on loopback.
 */

export interface Spelling {
  /** The text as a client writes it (no brackets). */
  readonly text: string;
  /** What it is, for a test's name. */
  readonly what: string;
}

const spell = (what: string, ...texts: string[]): Spelling[] => texts.map((text) => ({ text, what }));

/** Every one of these must be refused with PINHOLE_DEST_FORBIDDEN by the default policy. */
export const REFUSED_SPELLINGS: readonly Spelling[] = [
  ...spell('NAT64 of 10.0.0.53', '64:ff9b::a00:35', '64:ff9b:0::a00:35', '64:ff9b:0:0:0:0:a00:35', '0064:ff9b::0a00:0035', '64:FF9B::A00:35', '64:ff9b::10.0.0.53', '0064:FF9B:0000:0000:0000:0000:0A00:0035'),
  ...spell('NAT64 of loopback and metadata', '64:ff9b::7f00:1', '64:ff9b:0::127.0.0.1', '64:ff9b::a9fe:a9fe', '64:ff9b::169.254.169.254'),
  ...spell('local-use NAT64', '64:ff9b:1::a00:35', '64:ff9b:1:0::1.1.1.1'),
  ...spell('IPv4-mapped 10.0.0.53', '::ffff:10.0.0.53', '::ffff:a00:35', '0:0:0:0:0:ffff:a00:35', '::FFFF:0A00:0035', '0::ffff:10.0.0.53'),
  ...spell('IPv4-mapped metadata', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe'),
  ...spell('IPv4-compatible 10.0.0.53', '::10.0.0.53', '0::10.0.0.53', '::a00:35', '0:0:0:0:0:0:a00:35', '::0a00:0035'),
  ...spell('IPv4-translated 10.0.0.53', '::ffff:0:10.0.0.53', '::ffff:0:a00:35', '0:0:0:0:ffff:0:a00:35'),
  ...spell('6to4 of 10.0.0.53', '2002:a00:35::1', '2002:0a00:0035:0::1', '2002:A00:35::'),
  ...spell('Teredo with a private server', '2001:0:a00:35::1', '2001:0000:0a00:0035:0:0:0:1'),
  ...spell('Teredo with a private client', '2001:0:101:101::f5ff:ffca', '2001::101:101:0:0:f5ff:ffca'),
  ...spell('unique-local', 'fc00::1', 'FD00:EC2::254', 'fd00:0ec2:0:0:0:0:0:254'),
  ...spell('link-local', 'fe80::1', 'FE80:0::1'),
  ...spell('site-local', 'fec0::1', 'FEC0:0:0:0::1'),
  ...spell('multicast', 'ff02::1', 'FF02:0::0001'),
  ...spell('unspecified', '::', '0::0', '0:0:0:0:0:0:0:0'),
  ...spell('loopback', '::1', '0:0:0:0:0:0:0:1', '0000::0001'),
  ...spell('documentation', '2001:db8::1', '2001:0DB8::1'),
];

/** Every one of these is allowed by the default policy (each to its canonical form). */
export const ALLOWED_SPELLINGS: ReadonlyArray<Spelling & { readonly canonical: string }> = [
  { what: 'NAT64 of a public address', text: '64:ff9b:0::1.1.1.1', canonical: '64:ff9b::101:101' },
  { what: 'IPv4-mapped public address', text: '0:0:0:0:0:FFFF:0101:0101', canonical: '::ffff:101:101' },
  { what: '6to4 of a public address', text: '2002:0101:0101::1', canonical: '2002:101:101::1' },
  { what: 'Teredo, public server and client', text: '2001:0:101:101::fefe:fefe', canonical: '2001:0:101:101::fefe:fefe' },
  { what: 'a public IPv6 address', text: '2606:4700:0:0::1111', canonical: '2606:4700::1111' },
  { what: 'a public IPv4 address', text: '1.1.1.1', canonical: '1.1.1.1' },
];
