/**
 * A real `bin/pinhole-gateway run` that a test can freeze with SIGSTOP and wake with SIGCONT:
 * the kernel keeps its connections up and even completes new TCP handshakes into the backlog,
 * but nothing answers, not a TLS handshake, not a PING. Exactly the "gateway in use froze under
 * a connected client" story. Stopping it always sends SIGCONT first, or SIGTERM would wait.
 */
import { startGateway, type GatewayOptions, type RunningGateway } from './gateway.js';
import type { ExitStatus } from './processes.js';

export interface FreezableGateway extends RunningGateway {
  readonly frozen: boolean;
  /** SIGSTOP to the gateway's own PID. */
  freeze: () => void;
  /** SIGCONT to the gateway's own PID. */
  thaw: () => void;
}

export const startFreezableGateway = async (options: GatewayOptions = {}): Promise<FreezableGateway> => {
  const gateway = await startGateway(options);
  let frozen = false;
  const thaw = (): void => {
    if (!frozen) return;
    gateway.program.signal('SIGCONT');
    frozen = false;
  };
  return {
    ...gateway,
    get frozen() {
      return frozen;
    },
    freeze: () => {
      if (frozen) return;
      gateway.program.signal('SIGSTOP');
      frozen = true;
    },
    thaw,
    stop: (): Promise<ExitStatus> => {
      thaw();
      return gateway.stop();
    },
  };
};
