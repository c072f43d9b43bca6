/**
 * Where a command's link comes from (issue 25): a link carries a secret, and on a command line
 * `ps` and the shell history show it to every local user. Every command takes a stored profile's
 * name or `--link-file FILE|-` (standard input); a link given on the command line still works,
 * with a one-line warning.
 */
import { readFile } from 'node:fs/promises';
import { PinholeError } from '../../shared/errors.js';

export const LINK_FILE_OPTION = { 'link-file': { type: 'string' } } as const;

export const isLinkText = (text: string): boolean => text.trim().toLowerCase().startsWith('pinhole:');

/** The one line a command prints (on stderr) when a link was given on its command line. */
export const linkOnCommandLineWarning = (program: string): string =>
  `${program}: warning: a link on the command line is visible to every user of this machine (ps, shell history); import it once (pinhole profile import --link-file FILE) and use the profile's name, or pass --link-file FILE or --link-file - (standard input).`;

const firstLine = (text: string): string => text.split(/\r?\n/).map((line) => line.trim()).find((line) => line !== '') ?? '';

/** The link in FILE, or on standard input for "-": its first non-empty line. */
export const readLinkFile = async (file: string, stdin: AsyncIterable<Buffer | string> = process.stdin): Promise<string> => {
  let text: string;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new PinholeError('PINHOLE_FILE_UNREADABLE', `The link file ${file} could not be read.`, { cause, details: { file } });
    }
  }
  const link = firstLine(text);
  if (!isLinkText(link)) throw new PinholeError('PINHOLE_LINK_INVALID', `${file === '-' ? 'Standard input' : `The link file ${file}`} holds no pinhole:// link.`);
  return link;
};
