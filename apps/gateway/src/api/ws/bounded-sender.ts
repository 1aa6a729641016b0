/** Close code for a client that reads too slowly (its send buffer filled up). */
export const CLOSE_TOO_SLOW = 4008;

/** The part of a WebSocket the bounded sender needs. */
export interface SendableSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
}

/**
 * Sends JSON while the socket's queue stays under `maxBufferedBytes`; past it the client is
 * closed with 4008 and nothing more is queued, so a slow reader cannot grow the gateway's memory.
 */
export function boundedSender(
  ws: SendableSocket,
  maxBufferedBytes: number,
  onTooSlow: () => void,
): (message: unknown) => boolean {
  let closed = false;
  return (message) => {
    if (closed || ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > maxBufferedBytes) {
      closed = true;
      ws.close(CLOSE_TOO_SLOW, 'send buffer full: the client is not keeping up');
      onTooSlow();
      return false;
    }
    ws.send(JSON.stringify(message));
    return true;
  };
}
