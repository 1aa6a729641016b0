import {
  assertTransition,
  canTransition,
  isTerminal,
  TASK_STATUSES,
  type TaskStatus,
} from './task-state';

describe('task state machine', () => {
  const allowed: [TaskStatus, TaskStatus][] = [
    ['QUEUED', 'ROUTED'],
    ['QUEUED', 'ERROR'],
    ['QUEUED', 'CANCELED'],
    ['ROUTED', 'RUNNING'],
    ['ROUTED', 'ERROR'],
    ['ROUTED', 'CANCELED'],
    ['RUNNING', 'OK'],
    ['RUNNING', 'ERROR'],
    ['RUNNING', 'TIMEOUT'],
    ['RUNNING', 'CANCELED'],
  ];

  it('allows exactly the listed transitions', () => {
    for (const from of TASK_STATUSES) {
      for (const to of TASK_STATUSES) {
        expect([from, to, canTransition(from, to)]).toEqual([
          from,
          to,
          allowed.some(([f, t]) => f === from && t === to),
        ]);
      }
    }
  });

  it('refuses illegal transitions with state.conflict', () => {
    expect(() => assertTransition('t1', 'OK', 'RUNNING')).toThrow(
      expect.objectContaining({
        code: 'state.conflict',
        message: 'task t1 cannot go from OK to RUNNING',
      }),
    );
    expect(() => assertTransition('t1', 'QUEUED', 'OK')).toThrow(/cannot go from QUEUED to OK/);
  });

  it('knows the terminal states', () => {
    expect(TASK_STATUSES.filter(isTerminal)).toEqual(['OK', 'ERROR', 'TIMEOUT', 'CANCELED']);
  });
});
