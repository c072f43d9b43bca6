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
