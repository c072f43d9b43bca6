/** The fleet's part of the CLI (issue 10): `run`'s --admin, --drain-grace, --ticket-keys, and `ticket-keys rotate`. */
import { parseArgs } from 'node:util';
import { parseListen, type GatewayConfig } from '../config.js';
import { ROTATE_KEEP, readTicketKeys, rotateTicketKeys } from '../ticket-keys.js';
import type { FleetOptions } from './run.js';
import { usage } from './common.js';
import { PinholeError } from '../../shared/errors.js';

/** Option definitions for node:util parseArgs, merged into `run`'s own. */
export const FLEET_FLAG_OPTIONS = {
  admin: { type: 'string' },
  'drain-grace': { type: 'string' },
  'ticket-keys': { type: 'string' },
} as const;

export interface FleetFlagValues {
  admin?: string;
  'drain-grace'?: string;
  'ticket-keys'?: string;
}

export function fleetOptionsFrom(values: FleetFlagValues, config: GatewayConfig): FleetOptions {
  const admin = values.admin === undefined ? undefined : (parseListen(values.admin) ?? usage(`--admin ${values.admin} is not HOST:PORT.`));
  const listen = parseListen(config.listen);
  if (admin !== undefined && listen !== undefined && admin.port !== 0 && admin.port === listen.port) {
    throw new PinholeError(
      'PINHOLE_ADMIN_ON_PUBLIC_ADDRESS',
      `--admin ${values.admin} uses the public port ${listen.port} (--listen ${config.listen}); the admin listener must be on another port, e.g. --admin 127.0.0.1:9090 (it is for the balancer and Prometheus only).`,
    );
  }
  const grace = values['drain-grace'] === undefined ? 0 : Number(values['drain-grace']);
  if (!Number.isFinite(grace) || grace < 0) usage(`--drain-grace ${values['drain-grace']} is not a number of seconds.`);
  const ticketKeysFile = values['ticket-keys'];
  // A bad file stops the start with one clear line, instead of each worker failing on its own.
  if (ticketKeysFile !== undefined) readTicketKeys(ticketKeysFile);
  return { drainGraceSeconds: grace, ...(admin === undefined ? {} : { admin }), ...(ticketKeysFile === undefined ? {} : { ticketKeysFile }) };
}

/** `ticket-keys rotate --file FILE [--keep N]`: a new first key; the previous ones stay to decrypt. */
export async function ticketKeysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { file: { type: 'string' }, keep: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals[0] !== 'rotate' || positionals.length > 1) usage('Use: ticket-keys rotate --file FILE [--keep N]');
  const file = values.file ?? usage('--file is required.');
  const keep = values.keep === undefined ? ROTATE_KEEP : Number(values.keep);
  if (!Number.isInteger(keep) || keep < 1) usage(`--keep ${values.keep} must be a whole number of keys, 1 or more.`);
  const keys = await rotateTicketKeys(file, keep);
  process.stderr.write(`${file} now holds ${keys.length} key${keys.length === 1 ? '' : 's'}; the new one encrypts, the others still decrypt.\n`);
  return 0;
}
