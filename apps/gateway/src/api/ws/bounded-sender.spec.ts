import { boundedSender, CLOSE_TOO_SLOW, type SendableSocket } from './bounded-sender';

function socket(): SendableSocket & {
  sent: string[];
  closedWith?: [number, string];
  buffered: number;
} {
  const s = {
    readyState: 1,
    OPEN: 1,
    buffered: 0,
    sent: [] as string[],
    closedWith: undefined as [number, string] | undefined,
    get bufferedAmount() {
      return s.buffered;
    },
    send(data: string) {
      s.sent.push(data);
      s.buffered += data.length;
    },
    close(code: number, reason: string) {
      s.closedWith = [code, reason];
      s.readyState = 3;
    },
  };
  return s;
}

describe('boundedSender', () => {
  it('sends while the queue is under the bound, then closes the slow client with 4008 and stops queueing', () => {
    const ws = socket();
    let warned = 0;
    const send = boundedSender(ws, 100, () => warned++);
    for (let i = 0; i < 50; i++) send({ type: 'event', token: 'x'.repeat(20) });
    expect(ws.closedWith).toEqual([
      CLOSE_TOO_SLOW,
      'send buffer full: the client is not keeping up',
    ]);
    expect(ws.sent.length).toBeLessThan(5);
    expect(warned).toBe(1);
    expect(send({ late: true })).toBe(false);
  });

  it('keeps sending to a client that drains its queue', () => {
    const ws = socket();
    const send = boundedSender(ws, 100, () => undefined);
    for (let i = 0; i < 50; i++) {
      expect(send({ n: i })).toBe(true);
      ws.buffered = 0;
    }
    expect(ws.closedWith).toBeUndefined();
  });
});
