/**
 * The guessing flood of the `auth` case in its own process (so it never shares an event loop with
 * the requests being timed): `node --import tsx bench/guess-flood.ts '<FloodOptions JSON>'`.
 * Prints one JSON line: every answer's status and arrival time.
 */
import { guessFlood, type FloodOptions } from '../test/support/guesser.js';

const options = JSON.parse(process.argv[2] ?? '{}') as FloodOptions;
const guesses = await guessFlood(options);
process.stdout.write(`${JSON.stringify({ msg: 'The flood ended.', answers: guesses.map((g) => ({ status: g.status, at: g.at, code: g.code })) })}\n`);
