/**
 * The far end of idle tunnels as its own process (so its sockets do not count against the load
 * generator's open-file limit): `node --import tsx bench/hold-server.ts` prints
 * `{"msg":"The hold server is listening.","listen":"127.0.0.1:PORT"}`, then accepts and holds
 * every connection without a byte until SIGTERM.
 */
import { startHoldServer } from './load.js';

const hold = await startHoldServer();
process.stdout.write(`${JSON.stringify({ msg: 'The hold server is listening.', listen: `127.0.0.1:${hold.port}` })}\n`);
const quit = (): void => {
  void hold.stop().then(() => process.exit(0));
};
process.once('SIGTERM', quit);
process.once('SIGINT', quit);
