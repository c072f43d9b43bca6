/**
 * The terminal's side of signing in (issue 18): the device code and its page printed as one
 * sentence, and the system browser opened (argument arrays, never a shell) for providers without
 * device sign-in. `PINHOLE_NO_BROWSER=1` prints the browser's URL instead of opening it.
 */
import { execFile } from 'node:child_process';
import type { DevicePrompt, InteractiveSignIn } from '../identity/issuer-client.js';
import { devicePromptSentence } from '../identity/sign-in.js';

/** Opens `url` in the system browser (argument arrays, never a shell); PINHOLE_NO_BROWSER=1 leaves it to the person. */
export const openSystemBrowser = (url: string): void => {
  if (process.env['PINHOLE_NO_BROWSER'] === '1') return;
  const [command, args] = browserCommand(url);
  execFile(command, args, { windowsHide: true }, () => undefined).unref();
};

const browserCommand = (url: string): [string, string[]] =>
  process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]] : ['xdg-open', [url]];

export const terminalSignIn = (write: (line: string) => void, onPrompt?: (prompt: DevicePrompt) => void): InteractiveSignIn => ({
  onDevicePrompt: (prompt) => {
    write(`${devicePromptSentence(prompt)}\n`);
    onPrompt?.(prompt);
  },
  openBrowser: (url) => {
    write(`Signing in through your browser; if it does not open, open ${url}\n`);
    openSystemBrowser(url);
  },
});
