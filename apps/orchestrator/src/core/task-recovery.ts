import { runWithTenant } from '@aion/tenancy';
import type { ExecutionDeps, TaskExecution } from './task-execution';

/**
 * Recovers tasks whose replica died: a task still QUEUED long after it was accepted runs here;
 * one RUNNING past the task timeout (its own replica would have ended it) ends TIMEOUT as
 * lost, goes to the dead-letter queue and gives back its budget reservation.
 */
export async function recoverStale(
  deps: Pick<ExecutionDeps, 'repository' | 'taskTimeoutMs' | 'logger'>,
  execution: TaskExecution,
  options: { queuedForMs: number; limit?: number },
): Promise<number> {
  const claimed = await deps.repository.claimStale({
    queuedForMs: options.queuedForMs,
    runningForMs: (deps.taskTimeoutMs ?? 60_000) + options.queuedForMs,
    limit: options.limit ?? 100,
  });
  let recovered = 0;
  for (const task of claimed) {
    // Not lost: this replica runs it, and its outcome is being written (after a database outage
    // it can be older than the stale age, retrying). The claim only took it over from itself.
    if (execution.isRunning(task.tenantId, task.id)) continue;
    recovered += 1;
    const context = {
      tenantId: task.tenantId,
      subject: task.subject,
      // Its submitter held tasks:submit; the least role granting it carries the task on.
      roles: ['developer'],
      requestId: `recover-${task.id}`,
    };
    deps.logger?.warn('recovering a task whose replica stopped', {
      task_id: task.id,
      tenant_id: task.tenantId,
      status: task.status,
    });
    if (task.status === 'QUEUED') {
      setImmediate(
        () => void runWithTenant(context, () => execution.run(task)).catch(() => undefined),
      );
      continue;
    }
    const error = {
      code: 'task.lost',
      message: `the orchestrator replica running this task stopped while it was ${task.status}`,
      retryable: true,
    };
    await runWithTenant(context, async () => {
      await deps.repository.transition(
        task,
        task.status,
        task.status === 'RUNNING' ? 'TIMEOUT' : 'ERROR',
        { error, deadLetter: { attempts: 1 }, budget: { kind: 'release' } },
        { kind: 'error', data: error },
      );
    });
  }
  return recovered;
}
