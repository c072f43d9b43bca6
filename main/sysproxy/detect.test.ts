import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectAdapter } from './detect.js';
import { shellExportLine } from './bypass.js';
import { PinholeError } from '../../shared/errors.js';

test('the adapter follows the platform, then the desktop, and PINHOLE_DESKTOP overrides both', () => {
  const table: Array<[NodeJS.Platform, Record<string, string>, string]> = [
    ['darwin', {}, 'macos'],
    ['win32', { XDG_CURRENT_DESKTOP: 'KDE' }, 'windows'],
    ['linux', { XDG_CURRENT_DESKTOP: 'GNOME' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'ubuntu:GNOME' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'Unity' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'X-Cinnamon' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'Budgie:GNOME' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'MATE' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'Pantheon' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'KDE' }, 'kde5'],
    ['linux', { XDG_CURRENT_DESKTOP: 'KDE', KDE_SESSION_VERSION: '6' }, 'kde6'],
    ['linux', { DESKTOP_SESSION: 'plasma' }, 'kde5'],
    ['linux', { DESKTOP_SESSION: 'cinnamon' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'XFCE', PINHOLE_DESKTOP: 'gnome' }, 'gnome'],
    ['linux', { XDG_CURRENT_DESKTOP: 'GNOME', PINHOLE_DESKTOP: 'kde6' }, 'kde6'],
    ['darwin', { PINHOLE_DESKTOP: 'GNOME' }, 'gnome'],
  ];
  for (const [platform, env, expected] of table) {
    assert.equal(detectAdapter(env, { platform }).name, expected, `${platform} ${JSON.stringify(env)}`);
  }
  assert.equal(detectAdapter({ XDG_CURRENT_DESKTOP: 'XFCE' }, { platform: 'linux', desktop: 'kde' }).name, 'kde5');
});

test('an unrecognised desktop is refused with the shell export line to use instead', () => {
  for (const env of [{ XDG_CURRENT_DESKTOP: 'XFCE' }, {}, { PINHOLE_DESKTOP: 'sway' }]) {
    assert.throws(
      () => detectAdapter(env, { platform: 'linux', port: 18080 }),
      (error: unknown) =>
        error instanceof PinholeError &&
        error.code === 'PINHOLE_SYSTEM_PROXY_UNSUPPORTED' &&
        error.message.includes('export http_proxy=http://127.0.0.1:18080 https_proxy=http://127.0.0.1:18080 no_proxy=localhost,127.0.0.1,::1'),
    );
  }
});

test('the shell export line names the local proxy for http and https and keeps loopback direct', () => {
  assert.equal(shellExportLine('127.0.0.1', 8080), 'export http_proxy=http://127.0.0.1:8080 https_proxy=http://127.0.0.1:8080 no_proxy=localhost,127.0.0.1,::1');
  assert.equal(shellExportLine('::1', 8080), 'export http_proxy=http://[::1]:8080 https_proxy=http://[::1]:8080 no_proxy=localhost,127.0.0.1,::1');
});
