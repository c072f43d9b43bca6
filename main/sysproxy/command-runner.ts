/** The real `CommandRunner`: execFile with an argument array, a time limit and no shell. */
import { execFile } from 'node:child_process';
import { PinholeError } from '../../shared/errors.js';
import type { CommandRunner } from './types.js';

export const execFileRunner: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { timeout: 15_000, windowsHide: true, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new PinholeError('PINHOLE_SYSTEM_PROXY_FAILED', undefined, {
              cause: error,
              details: { file, args: [...args], stderr: String(stderr).trim().slice(0, 500) },
            }),
          );
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
