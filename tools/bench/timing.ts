/** Per-call latency of a synchronous function: warm-up, then rounds of individually timed calls. */
export function timeRounds(
  fn: (i: number) => unknown,
  options: { warmup: number; rounds: number; iterations: number },
) {
  for (let i = 0; i < options.warmup; i++) fn(i);
  const samples = new Float64Array(options.iterations);
  const rounds: { p50_us: number; p95_us: number; p99_us: number; max_us: number }[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < options.iterations; i++) {
      const started = process.hrtime.bigint();
      fn(i);
      samples[i] = Number(process.hrtime.bigint() - started) / 1000;
    }
    samples.sort();
    const pct = (p: number) =>
      Number(samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)]!.toFixed(2));
    rounds.push({ p50_us: pct(0.5), p95_us: pct(0.95), p99_us: pct(0.99), max_us: pct(1) });
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    rounds: options.rounds,
    iterations_per_round: options.iterations,
    median_p50_us: median(rounds.map((r) => r.p50_us)),
    median_p99_us: median(rounds.map((r) => r.p99_us)),
    per_round: rounds,
  };
}
