import { maintenancePlan, maintenanceSql, type TableActivity } from './pglite-maintenance';

const table = (name: string, counters: Partial<TableActivity>): TableActivity => ({
  schema: 'public',
  table: name,
  liveRows: 0,
  deadRows: 0,
  modifiedSinceAnalyze: 0,
  insertedSinceVacuum: 0,
  ...counters,
});

describe('maintenancePlan', () => {
  it('leaves alone tables under autovacuum thresholds', () => {
    expect(
      maintenancePlan([
        table('quiet', { liveRows: 10_000, modifiedSinceAnalyze: 1_000, deadRows: 2_000 }),
        table('new', { liveRows: 40, modifiedSinceAnalyze: 40, insertedSinceVacuum: 40 }),
      ]),
    ).toEqual([]);
  });

  it('analyzes a table changed by more than 50 rows + 10 %', () => {
    expect(
      maintenancePlan([table('tasks', { liveRows: 1_000, modifiedSinceAnalyze: 151 })]),
    ).toEqual([expect.objectContaining({ table: 'tasks', vacuum: false })]);
  });

  it('vacuums a table with dead rows past 50 + 20 %, or inserts past 1,000 + 20 %', () => {
    const dead = table('budgets', { liveRows: 1, deadRows: 60, modifiedSinceAnalyze: 60 });
    const inserted = table('outbox', { liveRows: 0, insertedSinceVacuum: 1_001 });
    expect(maintenancePlan([dead])).toEqual([expect.objectContaining({ vacuum: true })]);
    expect(maintenancePlan([inserted])).toEqual([expect.objectContaining({ vacuum: true })]);
  });

  it('plans every table past its thresholds, the most overdue first', () => {
    const steps = maintenancePlan([
      table('a', { liveRows: 1_000, modifiedSinceAnalyze: 300 }),
      table('b', { liveRows: 100, modifiedSinceAnalyze: 600 }),
      table('quiet', { liveRows: 1_000, modifiedSinceAnalyze: 100 }),
      table('c', { liveRows: 1_000, modifiedSinceAnalyze: 160 }),
    ]);
    expect(steps.map((s) => s.table)).toEqual(['b', 'a', 'c']);
  });

  it('still plans a big table while a churning one is far more overdue (neither starves)', () => {
    const outbox = table('outbox', { liveRows: 5, deadRows: 10_000 });
    const tasks = table('tasks', { liveRows: 10_000, modifiedSinceAnalyze: 2_000 });
    expect(maintenancePlan([outbox, tasks]).map((s) => s.table)).toEqual(['outbox', 'tasks']);
  });
});

describe('maintenanceSql', () => {
  it('quotes the names it is given', () => {
    expect(maintenanceSql({ schema: 'public', table: 'odd"name', vacuum: true, overdue: 2 })).toBe(
      'vacuum (analyze) "public"."odd""name"',
    );
    expect(maintenanceSql({ schema: 's', table: 't', vacuum: false, overdue: 2 })).toBe(
      'analyze "s"."t"',
    );
  });
});
