/**
 * `bin/pinhole console` as a user runs it on a headless Linux box, with a fresh HOME and config
 * folder and a real GNOME Keyring (Secret Service) inside its own D-Bus session, so passwords
 * really go to a keychain. Resolves with the one line it prints: the URL with the one-time token.
 */
import { startDesktopSession } from '../../support/desktop-session.js';
import { Program, pinholeBin } from '../../support/processes.js';

export interface ConsoleProcess {
  url: string;
  home: string;
  configDir: string;
  program: Program;
  stop(): Promise<void>;
}

export const startConsoleProcess = async (): Promise<ConsoleProcess> => {
  const session = await startDesktopSession({ name: 'console-home', keyring: true });
  const program = new Program(pinholeBin, { name: 'pinhole console', args: ['console', '--listen', '127.0.0.1:0'], env: session.env });
  const stop = async (): Promise<void> => {
    await program.stop('SIGTERM', 15_000);
    await session.stop();
  };
  try {
    const line = await program.waitForLine((l) => l.stream === 'stdout' && /^http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(l.text), 120_000, 'the console URL');
    return { url: line.text.trim(), home: session.home, configDir: session.configDir, program, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
