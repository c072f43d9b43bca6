/**
 * The profile this gateway publishes (GET /.well-known/pinhole/profile): gateway.yaml's profile
 * settings plus `run --endpoint`, and the certificates' pins; re-read when gateway.yaml or the
 * certificate changes, so what clients are told follows without a restart.
 */
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../shared/log.js';
import { configPath, loadConfig, type GatewayConfig } from '../config.js';
import { createProfileHandler, type ProfileHandler } from './handler.js';
import { buildProfileDocument, loadProfileSource, type ProfileSource } from './profile-document.js';

export class PublishedProfile {
  private source: ProfileSource;
  private endpointsConfigured = false;
  readonly handler: ProfileHandler;

  constructor(
    private readonly config: GatewayConfig,
    private readonly logger: Logger,
  ) {
    this.source = this.read(config);
    const serve = createProfileHandler((user) => buildProfileDocument(this.source, user), logger);
    // A gateway told no endpoints (gateway.yaml `endpoints:`, `run --endpoint`) cannot say which ones clients should use:
    // it publishes no profile (404: clients keep the link's endpoints) rather than a guess that would drop theirs.
    this.handler = (req, res, user) => {
      if (this.endpointsConfigured) return serve(req, res, user);
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('This gateway publishes no profile: no endpoints are configured.\n');
    };
  }

  private read(config: GatewayConfig): ProfileSource {
    const endpoints = [...new Set([...config.endpoints, ...(this.config.endpointFlags ?? [])])];
    this.endpointsConfigured = endpoints.length > 0;
    return loadProfileSource(config, { ...config, endpoints });
  }

  /** gateway.yaml (or the certificate) changed. A bad file keeps the previous profile. */
  reload(): void {
    try {
      const next = this.read(loadConfig(this.config.dir));
      const changed = JSON.stringify(next) !== JSON.stringify(this.source);
      this.source = next;
      if (changed) this.logger.info({ endpoints: next.endpoints, pins: next.pins.length }, 'The profile served to clients was reloaded.');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, file: configPath(this.config.dir) }, 'The profile settings could not be reloaded; clients keep getting the previous profile.');
    }
  }

  watch(): void {
    watchFile(configPath(this.config.dir), { interval: 1000 }, () => this.reload());
  }

  unwatch(): void {
    unwatchFile(configPath(this.config.dir));
  }
}
