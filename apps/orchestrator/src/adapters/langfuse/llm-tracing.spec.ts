import { JurisdictionRegistry } from '@aion/jurisdictions';
import { parseEngines } from '../../core/engines';
import type { TaskRecord } from '../../core/ports';
import { configuredDecisions, llmTraceEvents, type LlmTracingPolicy } from './llm-tracing';

const jurisdictions = new JurisdictionRegistry();
const engines = parseEngines(
  `
engines:
  - { name: gpt-eu, tier: cloud-standard, kind: openai-compatible, endpoint: "http://127.0.0.1:9/v1", models: [gpt-x], intents: [chat], jurisdiction: DE, region: eu-central, price_per_1k_tokens: { input: 1, output: 2 } }
  - { name: local-sum, tier: local, kind: module, module: summarize_text, intents: [summarize], jurisdiction: DE, region: eu-central, price_per_1k_tokens: { input: 0, output: 0 } }
`,
  jurisdictions,
);
const policy: LlmTracingPolicy = {
  tenants: new Set(['acme']),
  jurisdiction: 'DE',
  jurisdictions,
  target: { url: 'http://langfuse.de.example', publicKey: 'pk', secretKey: 'sk' },
};
const decide = configuredDecisions(policy);

const record = (
  over: Partial<TaskRecord> = {},
  dataContext = { jurisdiction: 'DE', classification: 'none' },
): TaskRecord =>
  ({
    tenantId: 'acme',
    id: 't-1',
    projectId: '',
    subject: 'dev',
    intent: 'chat',
    status: 'OK',
    request: {
      schema_version: '1.0',
      task_id: 't-1',
      intent: 'chat',
      params: { messages: [{ role: 'user', content: 'my IBAN is DE89 3704' }] },
      priority: 'normal',
      sla: { budget_usd: 1, p95_ms: 0, privacy: 'allow-api' },
      metadata: {},
      data_context: dataContext,
      project_id: '',
    },
    requestHash: '',
    engine: { route: 'api', name: 'gpt-eu', chosenBy: 'ai-router', reason: '' },
    result: { text: 'noted' },
    usage: { latencyMs: 120, inputTokens: 12, outputTokens: 3, costUsd: 0.018, model: 'gpt-x' },
    createdAt: new Date('2026-11-30T10:00:00Z'),
    updatedAt: new Date('2026-11-30T10:00:01Z'),
    ...over,
  }) as TaskRecord;

describe('llmTraceEvents', () => {
  it('traces an opted-in tenant’s LLM task as a trace and its generation, with usage and model', () => {
    const [trace, generation] = llmTraceEvents(record(), engines, false);
    expect(trace).toMatchObject({
      type: 'trace-create',
      body: { name: 'chat', tags: ['aion', 'chat'] },
    });
    expect(generation).toMatchObject({
      type: 'generation-create',
      body: {
        traceId: (trace!.body as { id: string }).id,
        model: 'gpt-x',
        usage: { input: 12, output: 3, total: 15, unit: 'TOKENS' },
        input: { messages: [{ role: 'user', content: 'my IBAN is DE89 3704' }] },
        output: { text: 'noted' },
        level: 'DEFAULT',
        startTime: '2026-11-30T10:00:00.000Z',
        endTime: '2026-11-30T10:00:01.000Z',
      },
    });
    // The same task is the same trace wherever it is traced; events are new each time.
    const again = llmTraceEvents(record(), engines, false);
    expect(again[0]!.body['id']).toBe(trace!.body['id']);
    expect(again[0]!.id).not.toBe(trace!.id);
  });

  it('masks prompts and completions when told to, naming the classification', () => {
    const [, generation] = llmTraceEvents(
      record({}, { jurisdiction: 'DE', classification: 'pii' }),
      engines,
      true,
    );
    expect(generation!.body['input']).toEqual({ masked: 'pii', bytes: expect.any(Number) });
    expect(generation!.body['output']).toEqual({ masked: 'pii', bytes: 16 });
    expect(JSON.stringify(generation)).not.toContain('IBAN');
  });

  it('makes none for a module engine or a canceled task', () => {
    const local = record({
      engine: { route: 'local', name: 'local-sum', chosenBy: 'ai-router', reason: '' },
    });
    expect(llmTraceEvents(local, engines, false)).toEqual([]);
    expect(llmTraceEvents(record({ status: 'CANCELED' }), engines, false)).toEqual([]);
  });
  it('marks a failed task’s generation as an error, without output', () => {
    const [, generation] = llmTraceEvents(
      record({
        status: 'ERROR',
        result: undefined,
        error: { code: 'engine.failed', message: 'every allowed engine failed', retryable: true },
      }),
      engines,
      false,
    );
    expect(generation!.body).toMatchObject({
      level: 'ERROR',
      statusMessage: 'every allowed engine failed',
    });
    expect(generation!.body['output']).toBeUndefined();
  });
});

describe('configuredDecisions (one deployment from configuration)', () => {
  it('sends an opted-in tenant’s data that may go where the deployment runs, masked when classified', async () => {
    expect(await decide(record())).toEqual({ send: true, mask: false, target: policy.target });
    expect(await decide(record({}, { jurisdiction: 'DE', classification: 'pii' }))).toMatchObject({
      send: true,
      mask: true,
    });
  });

  it('sends nothing for a tenant that did not opt in, or data the deployment’s jurisdiction does not lie within', async () => {
    expect(await decide(record({ tenantId: 'other' }))).toMatchObject({ send: false });
    // French data is not sent to a German deployment; EU data may be (Germany lies within it)...
    expect(await decide(record({}, { jurisdiction: 'FR', classification: 'none' }))).toMatchObject({
      send: false,
    });
    expect(await decide(record({}, { jurisdiction: 'EU', classification: 'none' }))).toMatchObject({
      send: true,
    });
    // ...but German data is not sent to a deployment that may be anywhere in the EU.
    expect(await configuredDecisions({ ...policy, jurisdiction: 'EU' })(record())).toMatchObject({
      send: false,
    });
  });
});
