/**
 * A `CommandRunner` that replays recorded output, for the adapters' unit tests: every call is
 * kept (file + argument array) so tests assert exactly what would have been run.
 */
import type { CommandOutput, CommandRunner } from './types.js';

export interface RecordedCall {
  file: string;
  args: string[];
}

export type Reply = string | CommandOutput | Error | ((call: RecordedCall) => string | CommandOutput);

export interface RecordedRunner {
  run: CommandRunner;
  calls: RecordedCall[];
  /** Reply to the command whose `file args...` joined by single spaces equals `line`. */
  on(line: string, reply: Reply): RecordedRunner;
  /** Reply to every command starting with `prefix` (checked after exact lines). */
  onPrefix(prefix: string, reply: Reply): RecordedRunner;
}

export const recordedRunner = (): RecordedRunner => {
  const exact = new Map<string, Reply>();
  const prefixes: Array<[string, Reply]> = [];
  const calls: RecordedCall[] = [];
  const answer = (reply: Reply, call: RecordedCall): CommandOutput => {
    if (reply instanceof Error) throw reply;
    const value = typeof reply === 'function' ? reply(call) : reply;
    return typeof value === 'string' ? { stdout: value, stderr: '' } : value;
  };
  const self: RecordedRunner = {
    calls,
    run: async (file, args) => {
      const call = { file, args: [...args] };
      calls.push(call);
      const line = [file, ...args].join(' ');
      const hit = exact.get(line) ?? prefixes.find(([prefix]) => line.startsWith(prefix))?.[1];
      return answer(hit ?? '', call);
    },
    on: (line, reply) => {
      exact.set(line, reply);
      return self;
    },
    onPrefix: (prefix, reply) => {
      prefixes.push([prefix, reply]);
      return self;
    },
  };
  return self;
};
