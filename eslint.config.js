// Import boundaries (see ../shared/DESIGN.md, "Layout"): the folder says the environment,
// and this file is what enforces it, not memory.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'net', 'tls', 'http', 'http2', 'https', 'crypto', 'os', 'path', 'child_process', 'stream', 'events', 'dns', 'url', 'util', 'zlib', 'buffer'];
const pattern = (group, message) => ({ group, message });

const noNode = pattern(nodeBuiltins, 'shared/ and renderer/ run everywhere: no Node built-ins here.');
const noElectron = pattern(['electron', 'electron/*', 'electron-store'], 'Only app/ may import Electron.');
const noApp = pattern(['**/app/**', '../app/*'], 'Nothing imports from app/: it is the thin shell on top.');
const noMain = pattern(['**/main/**', '../main/*'], 'This folder may not import the engine in main/.');
const noGateway = pattern(['**/gateway/**', '../gateway/*'], 'This folder may not import the gateway.');
const noRenderer = pattern(['**/renderer/**', '../renderer/*'], 'Only the renderer imports renderer code.');
const noNodeLayer = pattern(['**/node/**', '../node/*'], 'node/ is plain-Node plumbing for main/ and gateway/ only.');

const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'release/**', 'out/**', 'test-results/**', 'playwright-report/**', 'renderer/dist/**', 'renderer/operator/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  { files: ['shared/**/*.ts'], ignores: ['**/*.test.ts'], rules: restrict(noNode, noElectron, noApp, noMain, noGateway, noRenderer, noNodeLayer) },
  { files: ['renderer/**/*.{ts,tsx}'], ignores: ['**/*.test.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } }, rules: restrict(noNode, noElectron, noApp, noMain, noGateway, noNodeLayer) },
  // Tests run in Node whatever they test, so they may use node:test and friends, but still respect the layering.
  { files: ['shared/**/*.test.ts'], rules: restrict(noElectron, noApp, noMain, noGateway, noRenderer, noNodeLayer) },
  { files: ['renderer/**/*.test.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } }, rules: restrict(noElectron, noApp, noMain, noGateway, noNodeLayer) },
  // node/ (VS Code's base/node): plain Node plumbing both sides share; it may import shared/ and Node only.
  { files: ['node/**/*.ts'], rules: restrict(noElectron, noApp, noMain, noGateway, noRenderer) },
  { files: ['main/**/*.ts'], rules: restrict(noElectron, noApp, noGateway, noRenderer) },
  { files: ['gateway/**/*.ts'], rules: restrict(noElectron, noApp, noMain, noRenderer) },
  { files: ['app/**/*.ts'], rules: restrict(noGateway, noRenderer) },
  // Product code never imports a test double: those live in test/support/ and only tests import them.
  // (The typescript-eslint variant adds to the folder rules above instead of replacing them.)
  {
    files: ['{shared,node,main,gateway,app,renderer}/**/*.{ts,tsx}'],
    ignores: ['**/*.test.{ts,tsx}'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['**/test/**', '../test/*'], message: 'Product code never imports test code or test doubles (test/support/): only tests do.' }] }] },
  },
);
