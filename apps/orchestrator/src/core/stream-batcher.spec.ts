import type { NewStreamEvent, StreamEvent } from './ports';
import { contiguous, StreamBatcher } from './stream-batcher';

const event = (sequence: number): StreamEvent => ({ sequence, kind: 'token', data: {} });

describe('contiguous', () => {
  it('takes only the run that follows the last sequence and keeps what lies after a gap', () => {
    const buffer = [event(9), event(5), event(3), event(6)];
    expect(contiguous(buffer, 4).map((e) => e.sequence)).toEqual([5, 6]);
    expect(buffer.map((e) => e.sequence)).toEqual([9]);
    expect(contiguous(buffer, 6)).toEqual([]);
    expect(contiguous(buffer, 8).map((e) => e.sequence)).toEqual([9]);
  });
});

describe('StreamBatcher', () => {
  it('writes events arriving together in one batch, in order, and hands back the unwritten rest', async () => {
    const batches: NewStreamEvent[][] = [];
    const batcher = new StreamBatcher(async (events) => void batches.push(events), 5);
    batcher.push({ kind: 'partial', data: 1 });
    batcher.push({ kind: 'partial', data: 2 });
    await new Promise((r) => setTimeout(r, 20));
    batcher.push({ kind: 'partial', data: 3 });
    const rest = await batcher.drain();
    expect(batches).toEqual([
      [
        { kind: 'partial', data: 1 },
        { kind: 'partial', data: 2 },
      ],
    ]);
    expect(rest).toEqual([{ kind: 'partial', data: 3 }]);
  });

  it('keeps going when a write fails', async () => {
    let calls = 0;
    const batcher = new StreamBatcher(async () => {
      calls++;
      throw new Error('database down');
    }, 1);
    batcher.push({ kind: 'token', data: 'a' });
    await new Promise((r) => setTimeout(r, 10));
    batcher.push({ kind: 'token', data: 'b' });
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(2);
    expect(await batcher.drain()).toEqual([]);
  });
});
