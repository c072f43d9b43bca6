/**
 * The delay relay of test/support/relay.ts as its own process, so its timers never share an
 * event loop with the load generator that is decrypting a download:
 *   node --import tsx bench/delay-relay.ts TARGET_PORT DELAY_MS
 * prints `{"msg":"The delay relay is listening.","listen":"127.0.0.1:PORT","delayMs":D}` and
 * relays 127.0.0.1:PORT -> 127.0.0.1:TARGET_PORT, holding every chunk D ms each way (RTT = 2D),
 * until SIGTERM.
 */
import { startDelayRelay } from '../test/support/relay.js';

const targetPort = Number(process.argv[2]);
const delayMs = Number(process.argv[3]);
if (!Number.isInteger(targetPort) || targetPort <= 0 || !Number.isFinite(delayMs) || delayMs < 0) {
  process.stderr.write('usage: delay-relay.ts TARGET_PORT DELAY_MS\n');
  process.exit(2);
}
const relay = await startDelayRelay({ target: { port: targetPort }, delayMs });
process.stdout.write(`${JSON.stringify({ msg: 'The delay relay is listening.', listen: `127.0.0.1:${relay.port}`, delayMs })}\n`);
const quit = (): void => {
  void relay.stop().then(() => process.exit(0));
};
process.once('SIGTERM', quit);
process.once('SIGINT', quit);
