/**
 * `pinhole profile import LINK [--name N] | list [--json] | show NAME [--json] | remove NAME`.
 * Passwords go to the OS keychain (or, with --secrets-file FILE, the passphrase-encrypted file whose
 * passphrase comes from PINHOLE_SECRETS_PASSPHRASE); nothing here ever prints a secret.
 */
import { parseArgs } from 'node:util';
import { PinholeError } from '../../shared/errors.js';
import { decodeLink } from '../../shared/link.js';
import { createLogger } from '../../shared/log.js';
import { formatEndpoint, formatPin, parseEndpoint, type GatewayTarget, type Profile } from '../../shared/profile.js';
import { signInForImport } from '../identity/sign-in.js';
import { terminalSignIn } from './sign-in-prompt.js';
import { openSecretStore } from '../keychain/keychain.js';
import type { SecretStore } from '../keychain/secret-store.js';
import { forgetProfile, importLink, ProfileStore } from '../profiles/store.js';
import { USAGE } from './usage.js';
import { loadManagedForCommand } from '../managed/managed-config.js';
import { LINK_FILE_OPTION, linkOnCommandLineWarning, readLinkFile } from './link-source.js';
import { rememberSecretsFile, secretsFileFor } from './secrets-file.js';
import { reportStartFailure } from '../../node/start-failure.js';

const usageError = (message: string): PinholeError => new PinholeError('PINHOLE_USAGE', message);

/** What `show` and `list --json` print: the profile without anything secret (it holds only a reference anyway). */
export const describeProfile = (profile: Profile, defaultId: string | null) => ({
  id: profile.id,
  name: profile.name,
  default: profile.id === defaultId,
  endpoints: profile.endpoints,
  serverName: profile.serverName,
  user: profile.user,
  transport: profile.transport,
  trust: profile.trust.kind === 'pin' ? `pin ${formatPin(profile.trust.pin)}` : profile.trust.kind === 'ca' ? `ca ${profile.trust.caFile}` : profile.trust.kind,
  domains: profile.domains,
  secretRef: profile.secretRef,
  defaultAppAction: profile.defaultAppAction,
  appRules: profile.appRules,
  ...(profile.managed ? { managed: true } : {}),
  ...(profile.issuer ? { issuer: profile.issuer } : {}),
});

/** A plain text table, columns padded to the widest cell. */
export const formatTable = (rows: string[][]): string => {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0))).join('  ').trimEnd()).join('\n');
};

const server = (p: Profile): string => {
  const first = p.endpoints[0];
  const parsed = first ? parseEndpoint(first) : undefined;
  return parsed ? formatEndpoint(parsed) : p.serverName;
};

/** A sign-in link's import: sign in now (the code on standard error). */
const signInForImportHere = (target: GatewayTarget, write: (text: string) => void): Promise<{ user: string; refreshToken: string }> => {
  const prompt = terminalSignIn(write);
  return signInForImport(target, {
    logger: createLogger({ name: 'pinhole', level: 'warn', destination: { write } }),
    onDevicePrompt: (p) => p && prompt.onDevicePrompt?.(p),
    ...(prompt.openBrowser === undefined ? {} : { openBrowser: prompt.openBrowser }),
  });
};

export interface ProfileCliDeps {
  store?: ProfileStore;
  openSecrets?: (options: { allowEncryptedFile: boolean; secretsFile?: string }) => Promise<SecretStore>;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

export const run = async (argv: string[], deps: ProfileCliDeps = {}): Promise<number> => {
  const out = deps.stdout ?? ((text: string) => process.stdout.write(text));
  const err = deps.stderr ?? ((text: string) => process.stderr.write(text));
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: argv,
          allowPositionals: true,
          options: {
            name: { type: 'string' },
            json: { type: 'boolean', default: false },
            'secrets-file': { type: 'string' },
            ...LINK_FILE_OPTION,
            help: { type: 'boolean', short: 'h', default: false },
          },
        });
      } catch (error) {
        throw usageError(error instanceof Error ? error.message : String(error));
      }
    })();
    const [sub, arg, extra] = positionals;
    if (values.help || sub === 'help') {
      out(`${USAGE.profile}\n`);
      return 0;
    }
    if (!sub) throw usageError('profile needs a subcommand: import, list, show or remove.');
    if (extra !== undefined) throw usageError(`unexpected argument "${extra}".`);
    // Opened only when needed, after the keychain: a refused keychain must leave no file behind.
    let opened = deps.store;
    // The administrator's managed profiles are listed and locked (a malformed file is said in one line).
    const managed = deps.store === undefined ? await loadManagedForCommand('pinhole profile', err) : undefined;
    const openStore = (): ProfileStore => (opened ??= new ProfileStore(managed === undefined ? {} : { managed }));
    // A chosen --secrets-file is remembered in the settings; without one, the remembered one is used.
    const secretsFile = secretsFileFor(values['secrets-file']);
    const openSecrets = (): Promise<SecretStore> =>
      (deps.openSecrets ?? ((o) => openSecretStore(o)))({
        allowEncryptedFile: secretsFile !== undefined || process.env.PINHOLE_SECRETS === 'encrypted-file',
        ...(secretsFile !== undefined ? { secretsFile } : {}),
      });

    switch (sub) {
      case 'import': {
        if (values['link-file'] !== undefined && arg !== undefined) throw usageError('Give the link or --link-file, not both.');
        if (values['link-file'] === undefined && !arg) throw usageError('profile import needs --link-file FILE (- for standard input) or a pinhole:// link.');
        if (values.name !== undefined && !values.name.trim()) throw usageError('--name must not be empty.');
        const link = arg ?? (await readLinkFile(values['link-file'] ?? '-'));
        const { signIn } = decodeLink(link);
        if (arg !== undefined) err(`${linkOnCommandLineWarning('pinhole profile import')}
`);
        const secrets = await openSecrets();
        const store = openStore();
        const profile = await importLink(link, { store, secrets, ...(values.name ? { name: values.name.trim() } : {}), signIn: (target) => signInForImportHere(target, err) });
        rememberSecretsFile(store, values['secrets-file']);
        if (values.json) out(`${JSON.stringify(describeProfile(profile, store.defaultId()))}\n`);
        else if (signIn) out(`Imported profile "${profile.name}" (${server(profile)}), signed in as ${profile.user}; the sign-in is kept ${secrets.location}, no password is stored.\n`);
        else out(`Imported profile "${profile.name}" (${server(profile)}, user ${profile.user}); the password is stored ${secrets.location}.\n`);
        return 0;
      }
      case 'list': {
        if (arg !== undefined) throw usageError(`profile list takes no argument (got "${arg}").`);
        const store = openStore();
        const defaultId = store.defaultId();
        const profiles = store.list();
        if (values.json) {
          out(`${JSON.stringify(profiles.map((p) => describeProfile(p, defaultId)))}\n`);
          return 0;
        }
        if (profiles.length === 0) {
          out('No profiles yet. Import one with: pinhole profile import LINK\n');
          return 0;
        }
        const rows = [['', 'NAME', 'SERVER', 'USER', 'TRANSPORT', 'DOMAINS']];
        for (const p of profiles)
          rows.push([p.id === defaultId ? '*' : '', p.managed ? `${p.name} (managed)` : p.name, server(p), p.user, p.transport, p.domains.length === 0 ? 'all' : String(p.domains.length)]);
        out(`${formatTable(rows)}\n`);
        return 0;
      }
      case 'show': {
        if (!arg) throw usageError('profile show needs a profile name.');
        const store = openStore();
        const profile = store.require(arg);
        const view = describeProfile(profile, store.defaultId());
        if (values.json) out(`${JSON.stringify(view)}\n`);
        else
          out(
            `${formatTable([
              ['name', view.name + (view.default ? ' (default)' : '')],
              ['id', view.id],
              ['server', view.endpoints.join(', ')],
              ['TLS name', view.serverName],
              ['trust', view.trust],
              ['user', view.user],
              ['transport', view.transport],
              ['domains', view.domains.length === 0 ? 'all through the tunnel' : view.domains.join(', ')],
              ['password', `in the keychain as "${view.secretRef}"`],
            ])}\n`,
          );
        return 0;
      }
      case 'remove': {
        if (!arg) throw usageError('profile remove needs a profile name.');
        const store = openStore();
        // A managed profile is refused before the keychain is asked anything.
        store.assertRemovable(store.require(arg));
        const profile = await forgetProfile(arg, { store, secrets: await openSecrets() });
        out(`Removed profile "${profile.name}" and its password.\n`);
        return 0;
      }
      default:
        throw usageError(`unknown profile subcommand "${sub}" (use import, list, show or remove).`);
    }
  } catch (error) {
    // Bad input, a file or a link the line names: 2; the keychain, the disk, a bug: 1.
    return reportStartFailure('pinhole profile', error, { logWhere: 'on standard error, just above this line', stderr: err });
  }
};
