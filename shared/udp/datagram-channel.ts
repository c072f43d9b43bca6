/**
 * A UDP flow through the tunnel as both ends see it: datagrams in, datagrams out, one close.
 * The client's local listener (main/udp/) and the gateway's flows (gateway/udp/) are written
 * against this, so the h2 (CONNECT-UDP capsules) and WebSocket carriers are interchangeable.
 */
export interface DatagramChannel {
  /** Queues one datagram; false when it was dropped (the channel is closed or its queue is full). UDP may drop. */
  send(payload: Uint8Array): boolean;
  /** Called for each datagram received; set once. */
  onDatagram(listener: (payload: Uint8Array) => void): void;
  /** Called once when the channel ends, with the reason (undefined for a normal end). */
  onClose(listener: (error: Error | undefined) => void): void;
  close(): void;
  readonly closed: boolean;
}

/** The listener bookkeeping every DatagramChannel shares: one datagram listener, one close, fired once. */
export abstract class DatagramChannelBase implements DatagramChannel {
  private datagramListener: ((payload: Uint8Array) => void) | undefined;
  private closeListeners: Array<(error: Error | undefined) => void> = [];
  private ended = false;

  abstract send(payload: Uint8Array): boolean;
  /** Release the carrier (stream, WebSocket, socket); called once, from close() or fail(). */
  protected abstract release(error: Error | undefined): void;

  get closed(): boolean {
    return this.ended;
  }

  onDatagram(listener: (payload: Uint8Array) => void): void {
    this.datagramListener = listener;
  }

  onClose(listener: (error: Error | undefined) => void): void {
    if (this.ended) listener(undefined);
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.end(undefined);
  }

  /** Deliver one received datagram (dropped when nobody listens yet: UDP may drop). */
  protected deliver(payload: Uint8Array): void {
    if (!this.ended) this.datagramListener?.(payload);
  }

  protected end(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.release(error);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const listener of listeners) listener(error);
  }
}
