/**
 * The terminal's side of signing in (issue 18): the device code and its page printed as one
 * sentence, and the system browser opened (argument arrays, never a shell) for providers without
 * device sign-in. `PINHOLE_NO_BROWSER=1` prints the browser's URL instead of opening it.
 */
import { execFile } from 'node:child_process';
import type { DevicePrompt, InteractiveSignIn } from '../identity/issuer-client.js';

/** The sentence a person reads to sign in with a device code. */
export const devicePromptSentence = (prompt: DevicePrompt, now = Date.now()): string =>
  `To sign in, open ${prompt.verificationUri} and enter the code ${prompt.userCode} (valid for ${Math.max(1, Math.round((prompt.expiresAt - now) / 60_000))} min)${prompt.verificationUriComplete ? `, or open ${prompt.verificationUriComplete}` : ''}.`;

const browserCommand = (url: string): [string, string[]] =>
  process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]] : ['xdg-open', [url]];

export const terminalSignIn = (write: (line: string) => void, onPrompt?: (prompt: DevicePrompt) => void): InteractiveSignIn => ({
  onDevicePrompt: (prompt) => {
    write(`${devicePromptSentence(prompt)}\n`);
    onPrompt?.(prompt);
  },
  openBrowser: (url) => {
    write(`Signing in through your browser; if it does not open, open ${url}\n`);
    if (process.env['PINHOLE_NO_BROWSER'] === '1') return;
    const [command, args] = browserCommand(url);
    execFile(command, args, { windowsHide: true }, () => undefined).unref();
  },
});
