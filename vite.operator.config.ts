// The operator's console (`pinhole-gateway console`): a second Vite app beside the desktop renderer,
// in renderer/operator/, sharing the renderer's components, styles and i18n. Served over HTTP(S) by
// gateway/console/server.ts from renderer/operator/dist.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('./renderer/operator', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts or styles: the console runs under a strict CSP (no data: fonts or images but the QR code).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  logLevel: 'warn',
});
