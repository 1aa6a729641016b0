import type { TaskMetrics } from '@aion/telemetry';
import { countsAgainstEngine } from '../../core/engine-health';
import type { Engine } from '../../core/engines';
import type { EngineCall, EngineExecutor, EngineOutput, TaskRepository } from '../../core/ports';
import { estimateCost } from '../../core/router';
import { isTerminal } from '../../core/task-state';

/** A metric is never worth failing a task or an engine call for. */
function quietly(record: () => void): void {
  try {
    record();
  } catch {
    // prom-client refuses a value that is not a number; the task goes on regardless.
  }
}

/**
 * Times and counts every engine call, and the tokens and cost of those that answered: measured
 * where the model is called, so a call whose task was later canceled still shows what it spent.
 */
export class MeteredExecutor implements EngineExecutor {
  constructor(
    private readonly inner: EngineExecutor,
    private readonly metrics: TaskMetrics,
  ) {}

  async execute(engine: Engine, call: EngineCall): Promise<EngineOutput> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let output: EngineOutput;
    try {
      output = await this.inner.execute(engine, call);
    } catch (err) {
      const outcome = call.signal.aborted
        ? 'canceled'
        : countsAgainstEngine(err)
          ? 'failed'
          : 'refused';
      quietly(() => this.metrics.engineCall(engine.name, outcome, seconds()));
      throw err;
    }
    quietly(() => {
      this.metrics.engineCall(engine.name, 'ok', seconds());
      this.metrics.llmUsage({
        model: output.model,
        inputTokens: output.inputTokens,
        outputTokens: output.outputTokens,
        costUsd: estimateCost(engine, output),
      });
    });
    return output;
  }
}

/**
 * Counts each task once as it ends, from the transition that ended it (its final stream event
 * comes with the task as that transaction left it; only the replica that wrote it hears it).
 */
export function observeTaskEnds(
  repository: Pick<TaskRepository, 'onAppended'>,
  metrics: TaskMetrics,
): void {
  repository.onAppended((_tenantId, _taskId, event, record) => {
    if (!record || !isTerminal(record.status)) return;
    if (event.kind !== 'done' && event.kind !== 'error') return;
    quietly(() => {
      metrics.taskEnded({
        intent: record.intent,
        engine: record.engine?.name ?? '',
        status: record.status,
        seconds: (record.updatedAt.getTime() - record.createdAt.getTime()) / 1000,
      });
      if (record.error?.code === 'sovereign.residency_violation')
        metrics.residencyDecided('denied');
      else if (record.sovereignty) metrics.residencyDecided('allowed');
    });
  });
}
