/**
 * `pinhole doctor [PROFILE | --link-file FILE|-] [--json] [--bundle FILE]`
 * The path check (main/doctor/check.ts): each hop to the gateway in order, stopping at the first
 * that fails, a verdict and what to do for each, and what the firewall must allow last. Exit 0
 * only when no hop failed; 1 when one did; 2 for bad input. `--bundle FILE` also writes the
 * diagnostics archive (main/doctor/bundle.ts), with every secret removed.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PinholeError } from '../../shared/errors.js';
import { targetFromLink } from '../../shared/link-target.js';
import { parseEndpoint, type Endpoint, type GatewayTarget } from '../../shared/profile.js';
import type { DoctorReport } from '../../shared/doctor.js';
import { reportStartFailure } from '../../node/start-failure.js';
import { packageRoot } from '../../node/package-root.js';
import { createEngineLog } from '../engine-log.js';
import { openSecretStore } from '../keychain/keychain.js';
import type { SecretStore } from '../keychain/secret-store.js';
import { configDir } from '../profiles/paths.js';
import { STORE_CONFIG_NAME } from '../profiles/schema.js';
import { ProfileStore } from '../profiles/store.js';
import { buildBundle } from '../doctor/bundle.js';
import { runDoctor } from '../doctor/check.js';
import { reportText } from '../doctor/report-text.js';
import { profileSecrets, upstreamForProfile } from '../doctor/profile-secrets.js';
import { readSystemProxy } from '../doctor/system-proxy.js';
import type { UpstreamProxy } from '../tunnel/transport.js';
import { fetchPac, resolveOsUpstream } from '../upstream/auto.js';
import { envCredentialsFor, proxyFromEnv } from '../upstream/credentials.js';
import { USAGE } from './usage.js';

const OPTIONS = {
  'link-file': { type: 'string' },
  json: { type: 'boolean' },
  bundle: { type: 'string' },
  destination: { type: 'string' },
  'upstream-proxy': { type: 'string' },
  'local-proxy': { type: 'string' },
  'secrets-file': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

const packageVersion = async (): Promise<string> =>
  ((JSON.parse(await readFile(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown');

interface Plan {
  target: GatewayTarget;
  password: string;
  profileName: string;
  upstreamProxy?: UpstreamProxy;
}

const readLinkFile = async (file: string): Promise<string> => {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').trim();
  }
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new PinholeError('PINHOLE_FILE_UNREADABLE', `The link file ${file} could not be read.`, { cause: err });
  }
};

const hasStore = (): boolean => existsSync(join(configDir(), `${STORE_CONFIG_NAME}.json`));

const openSecrets = (secretsFile: string | undefined): Promise<SecretStore> =>
  openSecretStore({ ...(secretsFile !== undefined ? { secretsFile } : {}), allowEncryptedFile: secretsFile !== undefined || process.env.PINHOLE_SECRETS === 'encrypted-file' });

/** A stored profile (the default when unnamed), its password and its corporate proxy. */
const planFromProfile = async (name: string | undefined, secrets: () => Promise<SecretStore>): Promise<Plan> => {
  if (!hasStore()) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'No profile yet: import one with `pinhole profile import LINK`, or check a link with `pinhole doctor --link-file FILE`.');
  const store = new ProfileStore();
  const profile = name === undefined ? store.getDefault() : store.require(name);
  if (!profile) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', 'No default profile: give a profile name, or check a link with `pinhole doctor --link-file FILE`.');
  const secretStore = await secrets();
  const password = await secretStore.get(profile.secretRef);
  if (!password) throw new PinholeError('PINHOLE_AUTH_MISSING', `Profile "${profile.name}" has no password ${secretStore.location}; import its link again.`);
  const upstreamProxy = await upstreamForProfile(profile, store.getSettings().upstreamProxy, (ref) => secretStore.get(ref));
  return { target: profile, password, profileName: profile.name, ...(upstreamProxy ? { upstreamProxy } : {}) };
};

const planFromLink = (link: string): Plan => {
  const { target, password, name } = targetFromLink(link);
  return { target, password, profileName: name };
};

const endpointFlag = (flag: string, value: string | undefined): Endpoint | undefined => {
  if (value === undefined) return undefined;
  const endpoint = parseEndpoint(value);
  if (!endpoint) throw new UsageError(`${flag} must be HOST:PORT, got "${value}".`);
  return endpoint;
};

/** Whether Pinhole's local proxy answers at `at` (it serves its PAC there). */
const localProxyRuns = async (at: Endpoint): Promise<boolean> => {
  try {
    return /FindProxyForURL/.test(await fetchPac(`http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/proxy.pac`, 2_000));
  } catch {
    return false;
  }
};

/** Every secret this machine holds for Pinhole, so the bundle can remove each wherever it appears. */
const knownSecrets = async (plan: Plan | undefined, secrets: SecretStore | undefined): Promise<string[]> => {
  const out: string[] = [];
  if (plan) out.push(plan.password, plan.upstreamProxy?.password ?? '');
  const passphrase = process.env['PINHOLE_SECRETS_PASSPHRASE'];
  if (passphrase) out.push(passphrase);
  const fromEnv = proxyFromEnv(process.env)?.credentials?.password;
  if (fromEnv) out.push(fromEnv);
  if (secrets && hasStore()) out.push(...(await profileSecrets(new ProfileStore().list(), (ref) => secrets.get(ref))));
  return out.filter((s) => s !== '');
};

export async function run(argv: string[]): Promise<number> {
  let values: { [K in keyof typeof OPTIONS]?: string | boolean };
  let positionals: string[];
  let timeoutMs: number;
  let destination: Endpoint | undefined;
  let localProxy: Endpoint;
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
    if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}".`);
    if (positionals.length === 1 && values['link-file'] !== undefined) throw new UsageError('Give either a profile or --link-file, not both.');
    const seconds = values.timeout === undefined ? 10 : Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--timeout must be a number of seconds.');
    timeoutMs = seconds * 1000;
    destination = endpointFlag('--destination', values.destination as string | undefined);
    localProxy = endpointFlag('--local-proxy', values['local-proxy'] as string | undefined) ?? { host: '127.0.0.1', port: 8080 };
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      process.stderr.write(`pinhole doctor: ${(err as Error).message}\n${USAGE.doctor}\n`);
      return 2;
    }
    throw err;
  }
  const secretsFile = values['secrets-file'] as string | undefined;
  let secretStore: SecretStore | undefined;
  const secrets = async (): Promise<SecretStore> => (secretStore ??= await openSecrets(secretsFile));
  const { logger, ring } = createEngineLog({ logLevel: 'debug' });
  const bundleFile = values.bundle as string | undefined;

  let plan: Plan | undefined;
  let planError: unknown;
  try {
    const [first] = positionals;
    if (values['link-file'] !== undefined) plan = planFromLink(await readLinkFile(String(values['link-file'])));
    else if (first !== undefined && first.trim().toLowerCase().startsWith('pinhole:')) {
      process.stderr.write('pinhole doctor: a link on the command line is visible to every local user (ps, shell history); prefer a profile name or --link-file FILE|-.\n');
      plan = planFromLink(first);
    } else plan = await planFromProfile(first, secrets);
    const upstream = values['upstream-proxy'] as string | undefined;
    if (upstream === 'auto') {
      const gateway = parseEndpoint(plan.target.endpoints[0] ?? '');
      const found = gateway ? await resolveOsUpstream({ gateway, logger }) : undefined;
      plan = { ...plan, ...(found ? { upstreamProxy: found } : {}) };
    } else if (upstream !== undefined) {
      const endpoint = endpointFlag('--upstream-proxy', upstream) as Endpoint;
      const credentials = envCredentialsFor(endpoint, process.env);
      plan = { ...plan, upstreamProxy: credentials ? { ...endpoint, user: credentials.user, password: credentials.password } : endpoint };
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`pinhole doctor: ${err.message}\n${USAGE.doctor}\n`);
      return 2;
    }
    planError = err;
  }
  if (planError !== undefined && bundleFile === undefined) return reportStartFailure('pinhole doctor', planError, { logWhere: 'on standard error' });

  let report: DoctorReport | undefined;
  if (plan) {
    const local = (await localProxyRuns(localProxy)) ? localProxy : undefined;
    report = await runDoctor({
      target: plan.target,
      password: plan.password,
      profileName: plan.profileName,
      logger,
      timeoutMs,
      ...(plan.upstreamProxy ? { upstreamProxy: plan.upstreamProxy } : {}),
      ...(destination ? { destination } : {}),
      ...(local ? { localProxy: local } : {}),
      readSystemProxy,
    });
    process.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : reportText(report));
  }

  if (bundleFile !== undefined) {
    const store = hasStore() ? new ProfileStore() : undefined;
    const reading = await readSystemProxy().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
    const archive = buildBundle({
      ...(report ? { report } : { reportMissing: planError instanceof Error ? planError.message : 'No profile to check.' }),
      version: await packageVersion(),
      logs: ring.get(),
      profiles: store?.list() ?? [],
      settings: store?.getSettings() ?? {},
      systemProxy: reading,
      env: process.env,
      secrets: await knownSecrets(plan, await secrets().catch(() => undefined)),
    });
    await writeFile(bundleFile, archive, { mode: 0o600 });
    process.stderr.write(`pinhole doctor: the diagnostics bundle is in ${bundleFile} (passwords, tokens and link secrets removed).\n`);
  }
  return report?.ok === true ? 0 : 1;
}
