import { create } from '@bufbuild/protobuf';
import { DataClassification, TaskRequestSchema } from '@aion/contracts';
import { AionError } from '@aion/errors';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { paramsFromStrings, parseTaskId, taskRequestParser } from './task-request';

const parseRequest = taskRequestParser(new JurisdictionRegistry(), 'DE');
const request = (over: Parameters<typeof create<typeof TaskRequestSchema>>[1] = {}) =>
  create(TaskRequestSchema, { intent: 'summarize', params: { text: 'Some text.' }, ...over });

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AionError);
    expect((err as AionError).code).toBe('validation.invalid_argument');
    return ((err as AionError).details ?? []).map((d) => d.field).sort();
  }
  throw new Error('expected the request to be refused');
}

describe('the public TaskRequest, checked as REST checks a task', () => {
  it('types string params by the intent schema and leaves other intents as strings', () => {
    expect(paramsFromStrings('summarize', { text: '42', max_sentences: '2' })).toEqual({
      text: '42',
      max_sentences: 2,
    });
    // A value that does not convert stays a string, for the schema to report.
    expect(paramsFromStrings('summarize', { max_sentences: 'two' })).toEqual({
      max_sentences: 'two',
    });
    expect(paramsFromStrings('summarize', { max_sentences: '' })).toEqual({ max_sentences: '' });
    expect(paramsFromStrings('chat', { temperature: '0.5' })).toEqual({ temperature: '0.5' });
  });

  it('accepts a blueprint request: defaults, and the default jurisdiction without data_context', () => {
    const body = parseRequest(
      request({
        taskId: 't-1',
        params: { text: 'Some text.', max_sentences: '2' },
        sla: { budgetUsd: 0.5, p95Ms: 2000, privacy: 'local-only' },
        metadata: { team: 'x' },
      }),
    );
    expect(body).toMatchObject({
      schema_version: '1.0',
      task_id: 't-1',
      intent: 'summarize',
      params: { text: 'Some text.', max_sentences: 2 },
      priority: 'normal',
      sla: { budget_usd: 0.5, p95_ms: 2000, privacy: 'local-only' },
      metadata: { team: 'x' },
      data_context: { jurisdiction: 'DE', classification: 'none' },
    });
    expect(parseRequest(request()).sla).toEqual({ budget_usd: 0, p95_ms: 0, privacy: 'hybrid' });
  });

  it('takes structured params as params_json, and data_context as sent', () => {
    const body = parseRequest(
      request({
        intent: 'chat',
        params: {},
        paramsJson: '{"messages":[{"role":"user","content":"Hi"}]}',
        dataContext: { jurisdiction: 'FR', classification: DataClassification.HEALTH },
        projectId: 'p-1',
      }),
    );
    expect(body).toMatchObject({
      params: { messages: [{ role: 'user', content: 'Hi' }] },
      data_context: { jurisdiction: 'FR', classification: 'health' },
      project_id: 'p-1',
    });
  });

  it('lists every problem at once', () => {
    expect(
      problemsOf(() =>
        parseRequest(
          request({
            taskId: 'no spaces allowed',
            priority: 'urgent',
            sla: { budgetUsd: -1, p95Ms: 0, privacy: 'anywhere' },
            dataContext: { jurisdiction: 'XX', classification: DataClassification.UNSPECIFIED },
            waitMs: 120_000,
          }),
        ),
      ),
    ).toEqual([
      'data_context.classification',
      'data_context.jurisdiction',
      'priority',
      'sla.budget_usd',
      'sla.privacy',
      'task_id',
      'wait_ms',
    ]);
    expect(
      problemsOf(() =>
        parseRequest(request({ params: { max_sentences: 'two' }, priority: 'urgent' })),
      ),
    ).toEqual(['params.max_sentences', 'params.text', 'priority']);
    expect(problemsOf(() => parseRequest(request({ paramsJson: '{"text": "x"}' })))).toEqual([
      'params_json',
    ]);
    expect(
      problemsOf(() => parseRequest(request({ params: {}, paramsJson: '{not json' }))),
    ).toEqual(['params.text', 'params_json']);
    expect(
      problemsOf(() =>
        parseRequest(request({ params: {}, paramsJson: '['.repeat(40) + ']'.repeat(40) })),
      ),
    ).toEqual(['(request)']);
    expect(
      problemsOf(() => parseRequest(request({ metadata: { note: 'nul \u0000 byte' } }))),
    ).toEqual(['(request)']);
    expect(problemsOf(() => parseRequest(request({ intent: '' })))).toEqual(['intent']);
  });

  it('checks task ids as REST checks them in paths', () => {
    expect(parseTaskId('t-1')).toBe('t-1');
    expect(problemsOf(() => parseTaskId(''))).toEqual(['task_id']);
    expect(problemsOf(() => parseTaskId('../etc/passwd'))).toEqual(['task_id']);
  });
});
