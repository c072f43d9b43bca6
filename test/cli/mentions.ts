/**
 * The commands and flags a piece of user text names. `pinhole connect`, `pinhole-gateway user add`
 * start a mention (sub-words only count inside backticks or at the start of a usage line, so
 * "Run `pinhole console` again" names console, not "again"); a `--flag` belongs to the mention
 * before it on the same line, else to the one that starts the line it continues (a usage line and
 * its option lines), else to the text's own command (a command's help), else to none.
 */
export type CliName = 'pinhole' | 'pinhole-gateway';

export interface Mention {
  cli: CliName | undefined;
  /** The command and any sub-words, e.g. ['profile', 'import'] (empty for `pinhole <command>`). */
  words: string[];
  /** A flag named in its context, without dashes; undefined for the command mention itself. */
  flag?: string;
  /** The line it came from, for the failure message. */
  line: string;
}

interface Context {
  cli: CliName | undefined;
  words: string[];
}

const INVOCATION = /\b(pinhole-gateway|pinhole)\b((?:[ \t]+[a-z][a-z0-9-]*)*)/g;
const FLAG = /(?<![\w-])--([a-z][a-z0-9-]*)/g;

/** Whether `index` in `line` is inside a backtick span. */
const inBackticks = (line: string, index: number): boolean => (line.slice(0, index).split('`').length - 1) % 2 === 1;

/** The words after the CLI name (the regex stops at a backtick or an upper-case placeholder); in prose, only the command. */
const wordsOf = (line: string, match: RegExpMatchArray, lineStart: boolean): string[] => {
  const words = (match[2] ?? '').trim().split(/\s+/).filter(Boolean);
  return lineStart || inBackticks(line, match.index ?? 0) ? words : words.slice(0, 1);
};

export const mentionsIn = (text: string, own: Context = { cli: undefined, words: [] }): Mention[] => {
  const out: Mention[] = [];
  let lineContext = own;
  for (const line of text.split('\n')) {
    let context = lineContext;
    const events: { at: number; apply: () => void }[] = [];
    for (const match of line.matchAll(INVOCATION)) {
      const at = match.index;
      const lineStart = /^\s*(?:usage:\s*)?$/i.test(line.slice(0, at));
      const mention: Context = { cli: match[1] as CliName, words: wordsOf(line, match, lineStart) };
      events.push({
        at,
        apply: () => {
          context = mention;
          if (lineStart) lineContext = mention;
          out.push({ ...mention, line });
        },
      });
    }
    for (const match of line.matchAll(FLAG)) {
      const flag = match[1] ?? '';
      events.push({ at: match.index, apply: () => out.push({ ...context, flag, line }) });
    }
    for (const event of events.sort((a, b) => a.at - b.at)) event.apply();
  }
  return out;
};
