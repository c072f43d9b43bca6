/**
 * A console with a scripted engine and in-memory store, for looking at the UI with live-looking
 * data (screenshots, design review). Prints the URL like `pinhole console`. Not used by the e2e
 * spec, which runs the real `bin/pinhole console` against a real gateway.
 */
import { createLogger } from '../../../shared/log.js';
import { encodeLink } from '../../../shared/link.js';
import { EngineHost } from '../../../main/console/host.js';
import { MemoryProfiles, MemorySecrets, ScriptedEngine } from '../../support/memory-deps.js';
import { ensureRendererBuilt } from '../../../main/console/renderer-build.js';
import { startConsole } from '../../../main/console/server.js';

const engine = new ScriptedEngine();
const profiles = new MemoryProfiles();
const secrets = new MemorySecrets();
const host = new EngineHost({ engine, profiles, secrets, version: '0.1.0', platform: process.platform, shellExportLine: (h, p) => `export http_proxy=http://${h}:${p} https_proxy=http://${h}:${p}` });
const staticDir = await ensureRendererBuilt();
const logger = createLogger({ name: 'demo-console', level: 'silent' });
const running = await startConsole({ handlers: host.handlers, onEvent: (l) => host.onEvent(l), staticDir, logger, listen: process.argv[2] ?? '127.0.0.1:0' });
console.log(running.url);
console.log(encodeLink({ name: 'Acme cloud', endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', pin: 'C0FFEE'.repeat(10) + 'ABCD', user: 'alice', secret: 'pw', domains: ['api.acme.example', '*.acme-cdn.example'] }));
let tick = 0;
setInterval(() => {
  tick += 1;
  if (engine.status.state !== 'connected') return;
  const burst = Math.round(40_000 + 30_000 * Math.sin(tick / 3) + Math.random() * 20_000);
  engine.stats = { ...engine.stats, openTunnels: 2 + (tick % 4), totalTunnels: engine.stats.totalTunnels + 1, bytesUp: engine.stats.bytesUp + burst / 8, bytesDown: engine.stats.bytesDown + burst, rttMs: 38 + (tick % 7), gatewayConnections: 1 };
  engine.emit('stats', engine.stats);
  if (tick % 2 === 0) engine.addLog(tick % 10 === 0 ? 'warn' : 'info', tick % 10 === 0 ? 'The destination answered slowly.' : 'Tunnel opened.', { target: `api.acme.example:443`, app: '/usr/bin/firefox', connId: tick });
  if (engine.apps.length === 0) {
    engine.apps = [
      { path: '/usr/bin/firefox', name: 'firefox', lastSeen: Date.now(), connections: 12 },
      { path: '/usr/bin/curl', name: 'curl', lastSeen: Date.now(), connections: 3 },
      { path: '/opt/slack/slack', name: 'slack', lastSeen: Date.now(), connections: 7 },
    ];
    engine.emit('apps', engine.apps);
  }
}, 500);
process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
