/**
 * One clean job (ingest -> clean -> version) of a CSV in the file inbox, run by the
 * data-pipeline's job path in this process, which the benchmark starts with the service's heap
 * limit (`node --max-old-space-size=512`) and whose RSS it samples from outside. Prints one JSON
 * line when done: the job's outcome, its stages' durations and the largest V8 heap seen.
 *   args: <database url> <scratch dir> <inbox dir> <file name in the inbox>
 */
import { pipelineStack } from '../pipeline-stack';

async function main() {
  const [databaseUrl, dir, inbox, file] = process.argv.slice(2);
  if (!databaseUrl || !dir || !inbox || !file)
    throw new Error('usage: <db url> <dir> <inbox> <file>');
  let heapPeak = 0;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 100);
  const stack = pipelineStack({ databaseUrl, dir, inbox });
  try {
    const { job, submitted, finished, marks } = await stack.runJob({
      type: 'clean',
      source: { type: 'file', path: file },
      spec: {},
      idempotencyKey: `clean-${Date.now()}`,
    });
    const stageMs = Object.fromEntries(
      Object.entries(marks.end).map(([stage, end]) => [
        stage,
        end - marks.start[stage as 'ingest']!,
      ]),
    );
    process.stdout.write(
      JSON.stringify({
        status: job.status,
        error: job.errorMessage || undefined,
        rows: job.rowsProcessed,
        ms: finished - submitted,
        stageMs,
        heapPeakMb: heapPeak / 2 ** 20,
        heapLimitMb: (await import('node:v8')).getHeapStatistics().heap_size_limit / 2 ** 20,
      }) + '\n',
    );
  } finally {
    clearInterval(sampler);
    await stack.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
