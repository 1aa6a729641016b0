import { AionError } from '@aion/errors';

export const TASK_STATUSES = [
  'QUEUED',
  'ROUTED',
  'RUNNING',
  'OK',
  'ERROR',
  'TIMEOUT',
  'CANCELED',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['OK', 'ERROR', 'TIMEOUT', 'CANCELED']);

/** The task state machine: every allowed transition, and nothing else. */
const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  QUEUED: ['ROUTED', 'ERROR', 'CANCELED'],
  ROUTED: ['RUNNING', 'ERROR', 'CANCELED'],
  RUNNING: ['OK', 'ERROR', 'TIMEOUT', 'CANCELED'],
  OK: [],
  ERROR: [],
  TIMEOUT: [],
  CANCELED: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(taskId: string, from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to))
    throw AionError.conflict(`task ${taskId} cannot go from ${from} to ${to}`);
}

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL.has(status);
}
