import type { StageProgress } from './ports';
import { ProgressCheckpointer } from './progress';

describe('ProgressCheckpointer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('writes the latest report at most once per interval, only when it changed, none after stop', async () => {
    const written: StageProgress[] = [];
    const progress = new ProgressCheckpointer(async (p) => {
      written.push(p);
    }, 1000);
    for (let i = 1; i <= 500; i++) {
      progress.report({ percent: i / 5 });
      if (i % 100 === 0) await jest.advanceTimersByTimeAsync(500);
    }
    // 500 reports over 2.5 s: two intervals passed, so two writes, each the latest at the time.
    expect(written).toEqual([{ percent: 40 }, { percent: 80 }]);
    await jest.advanceTimersByTimeAsync(5000);
    // Nothing new was reported after the last write but 100: one more write, then none.
    expect(written).toEqual([{ percent: 40 }, { percent: 80 }, { percent: 100 }]);
    await progress.stop();
    progress.report({ percent: 100, rows: 9 });
    await jest.advanceTimersByTimeAsync(5000);
    expect(written).toHaveLength(3);
  });

  it('keeps going after a failed write, and stop waits for the write in flight', async () => {
    let release: () => void = () => undefined;
    const calls: number[] = [];
    const progress = new ProgressCheckpointer((p) => {
      calls.push(p.percent);
      if (p.percent === 10) return Promise.reject(new Error('database away'));
      return new Promise<void>((resolve) => (release = resolve));
    }, 100);
    progress.report({ percent: 10 });
    await jest.advanceTimersByTimeAsync(100);
    progress.report({ percent: 20 });
    await jest.advanceTimersByTimeAsync(100);
    expect(calls).toEqual([10, 20]);
    let stopped = false;
    const stopping = progress.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(stopped).toBe(true);
  });
});
