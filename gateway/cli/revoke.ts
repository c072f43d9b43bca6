/**
 * The operator's revocation commands (issue 18):
 *   user disable NAME --dir DIR    mark the user in the users file, and tell the fleet
 *   user enable NAME --dir DIR     take the mark away, and lift the fleet's revocation
 *   revoke --dir DIR --subject SUB | --email ADDR    an identity provider's user
 *   sessions [--admin HOST:PORT] [--json]            who is connected (the admin listener's /sessions)
 * How the running gateways hear of it: through the fleet's Redis (gateway.yaml `state:`), at once;
 * without Redis, the gateway beside the CLI re-reads its users file and `revoked` file when they
 * change (within a second or two). See control/fleet-control.ts.
 */
import { parseArgs } from 'node:util';
import type { GatewayConfig } from '../config.js';
import type { ControlOutcome } from '../control/fleet-control.js';
import type { SessionView } from '../sessions.js';
import { usage } from './common.js';

/** The longest a tunnel credential lives when gateway.yaml does not say (identity.credentialLifetime's default). */
const DEFAULT_LIFETIME_SECONDS = 12 * 3600;

/** `--state URL` wins over gateway.yaml's `state:` (a fleet whose gateways get it as a `run` flag). The console builds its own the same way. */
export const controlFor = async (config: GatewayConfig, state: string | undefined): Promise<import('../control/fleet-control.js').FleetControl> => {
  const { FleetControl, revokedFileControl } = await import('../control/fleet-control.js');
  const { revokedFileOf } = await import('../control/revoked-file.js');
  if (state !== undefined && !/^rediss?:\/\/[^/\s]+/.test(state)) usage(`--state ${state} must be redis://HOST:PORT (or rediss://).`);
  return new FleetControl({ state: state ?? config.state, local: revokedFileControl(revokedFileOf(config.dir)), lifetimeSeconds: config.identity?.credentialLifetime ?? DEFAULT_LIFETIME_SECONDS });
};

/** One sentence on where a change holds; exit 1 when Redis was configured but did not answer. */
const report = (what: string, outcome: ControlOutcome, here: string): number => {
  const until = outcome.until === undefined ? '' : ` until ${outcome.until}`;
  switch (outcome.fleet) {
    case 'sent':
      process.stdout.write(`${what} on every gateway of the fleet${until} (through Redis).\n`);
      return 0;
    case 'no-state':
      process.stdout.write(`${what} on this gateway${until} (${here}: the running gateway reads it within a second or two). There is no state: Redis in gateway.yaml, so no other gateway was told.\n`);
      return 0;
    case 'unreachable':
      process.stderr.write(
        `${what} on this gateway only${until} (${here}), but the rest of the fleet was NOT told: ${outcome.reason ?? 'Redis did not answer'}. Run the same command again once Redis answers.\n`,
      );
      return 1;
  }
};

export async function userStateCommand(action: 'disable' | 'enable', name: string, dir: string, state?: string): Promise<number> {
  const { loadConfig } = await import('../config.js');
  const { setUserDisabled } = await import('./user.js');
  const config = loadConfig(dir);
  const changed = await setUserDisabled(config.usersFile, name, action === 'disable');
  if (changed === 'unknown') {
    process.stderr.write(`There is no user ${name} in ${config.usersFile}.\n`);
    return 1;
  }
  const control = await controlFor(config, state);
  if (action === 'disable') {
    const outcome = await control.revokeUser(name);
    return report(`The user ${name} is disabled: their open tunnels end and new ones are refused (403 PINHOLE_CREDENTIAL_REVOKED),`, outcome, config.usersFile);
  }
  const outcome = await control.restoreUser(name);
  return report(`The user ${name} is enabled again`, outcome, config.usersFile);
}

export async function revokeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string' }, subject: { type: 'string' }, email: { type: 'string' }, lift: { type: 'boolean' }, state: { type: 'string' } }, strict: true });
  const dir = values.dir ?? usage('--dir is required.');
  if ((values.subject === undefined) === (values.email === undefined)) usage('Use: revoke --dir DIR --subject SUB | --email ADDRESS [--lift]');
  const { isRevocationValue } = await import('../control/revocation-list.js');
  const value = values.subject ?? values.email ?? '';
  if (!isRevocationValue(value)) usage(`${JSON.stringify(value)} is not a subject or e-mail address (one word, no spaces).`);
  if (values.email !== undefined && !value.includes('@')) usage(`--email ${value} is not an e-mail address.`);
  const { loadConfig } = await import('../config.js');
  const { revokedFileOf } = await import('../control/revoked-file.js');
  const config = loadConfig(dir);
  const control = await controlFor(config, values.state);
  const who = values.subject !== undefined ? `The subject ${value}` : `The e-mail ${value}`;
  const here = revokedFileOf(config.dir);
  if (values.lift === true) {
    const outcome = await (values.subject !== undefined ? control.restoreSubject(value) : control.restoreEmail(value));
    return report(`${who} may sign in again`, outcome, here);
  }
  const outcome = await (values.subject !== undefined ? control.revokeSubject(value) : control.revokeEmail(value));
  return report(`${who} is revoked: their open tunnels end and new ones are refused (403 PINHOLE_CREDENTIAL_REVOKED),`, outcome, here);
}

/** The admin listener's address when --admin is not given: the one the README and deploy files use. */
export const DEFAULT_ADMIN = '127.0.0.1:9090';

const bytes = (n: number): string => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`);

/** The sessions as a table a person reads. Pure. */
export function formatSessionsTable(sessions: readonly SessionView[], now = Date.now()): string {
  if (sessions.length === 0) return 'Nobody is connected.\n';
  const since = (iso: string): string => {
    const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  };
  const rows = [
    ['USER', 'KIND', 'SOURCE', 'GATEWAY', 'FOR', 'TUNNELS', 'UP', 'DOWN', 'VIA', 'SESSION'],
    ...[...sessions]
      .sort((a, b) => a.user.localeCompare(b.user) || a.since.localeCompare(b.since))
      .map((s) => [s.user, s.kind, s.source, s.gateway, since(s.since), String(s.tunnels), bytes(s.bytesUp), bytes(s.bytesDown), s.transports.join(','), s.id]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')}\n`;
}

export async function sessionsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { admin: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const { parseEndpoint, formatEndpoint } = await import('../../shared/profile.js');
  const admin = parseEndpoint(values.admin ?? DEFAULT_ADMIN) ?? usage(`--admin ${values.admin} is not HOST:PORT.`);
  const url = `http://${formatEndpoint(admin)}/sessions`;
  let body: { sessions?: SessionView[] };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`it answered ${res.status}`);
    body = (await res.json()) as { sessions?: SessionView[] };
  } catch (err) {
    process.stderr.write(`The admin listener at ${formatEndpoint(admin)} could not be asked (${(err as Error).message}). Is the gateway running with --admin ${formatEndpoint(admin)}?\n`);
    return 1;
  }
  const sessions = body.sessions ?? [];
  process.stdout.write(values.json === true ? `${JSON.stringify(sessions, null, 2)}\n` : formatSessionsTable(sessions));
  return 0;
}
