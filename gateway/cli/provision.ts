/** `provision`: one line, the provisioning link for a user. */
import { encodeLink } from '../../shared/link.js';
import { parseEndpoint, type Transport } from '../../shared/profile.js';
import { fingerprintOf } from '../certs.js';
import { readCertificate } from '../tls-files.js';
import type { GatewayConfig } from '../config.js';
import { UserStore } from '../users.js';
import { usage } from './common.js';

export interface ProvisionOptions {
  readonly user: string;
  readonly endpoints: readonly string[];
  readonly transport: Transport;
  readonly domains: readonly string[];
  readonly password: string;
  readonly wsPath?: string | undefined;
}

export async function provisionLink(config: GatewayConfig, opts: ProvisionOptions): Promise<string> {
  const endpoints = opts.endpoints.length > 0 ? opts.endpoints : [`${config.hostname}:443`];
  for (const e of endpoints) if (parseEndpoint(e) === undefined) usage(`--endpoint ${e} is not HOST:PORT.`);
  const pin = config.operatorCert ? undefined : fingerprintOf(readCertificate(config.certFile));
  return encodeLink({
    name: config.hostname,
    endpoints: [...endpoints],
    serverName: config.hostname,
    ...(pin === undefined ? {} : { pin }),
    user: opts.user,
    secret: opts.password,
    transport: opts.transport,
    ...(opts.wsPath === undefined ? {} : { wsPath: opts.wsPath }),
    ...(opts.domains.length > 0 ? { domains: [...opts.domains] } : {}),
  });
}

export async function checkPassword(config: GatewayConfig, user: string, password: string): Promise<boolean> {
  return new UserStore(config.usersFile).check(user, password);
}
