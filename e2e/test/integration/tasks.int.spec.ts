import { Client } from 'pg';
import { toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  TaskOrchestrator,
  ChosenBy,
  DataClassification,
  LearningGovernanceService,
  OrchestratorAdminService,
  Privacy,
  StreamEventKind,
  TaskStatus,
  ClassificationTier,
  ResidencyAction,
  SovereignService,
} from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import {
  createEvent,
  DLQ_HEADERS,
  dlqTopicOf,
  KafkaBus,
  payloadOf,
  TOPICS,
  type IncomingEvent,
} from '@aion/events';
import { createGrpcClient, type ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import {
  eventually,
  startOpenAiTestServer,
  startPlatform,
  testBrokers,
  uniqueName,
  type OpenAiTestServer,
  type Platform,
} from '@aion/testing';
import { LOCAL_SUMMARIZE_ENGINE, SUMMARY_SOURCE_TEXT } from '../support/fixtures';

const SECRET = 'e2e-tasks-secret-0123456789abcdef0123';
const tokens = new InternalTokens(SECRET, 'e2e');
const dev = (tenantId = 'acme') => ({
  tenantId,
  subject: 'dev',
  roles: ['developer'],
  requestId: uniqueName('req'),
});
const admin = { tenantId: 'acme', subject: 'ops', roles: ['admin'], requestId: 'admin' };

let platform: Platform;
let healthy: OpenAiTestServer;
let broken: OpenAiTestServer;
let tasks: ClientOf<typeof TaskOrchestrator>;
let adminApi: ClientOf<typeof OrchestratorAdminService>;
let governance: ClientOf<typeof LearningGovernanceService>;
let sovereign: ClientOf<typeof SovereignService>;
let healthRuleId: string;
let bus: KafkaBus;
const lifecycle: IncomingEvent[] = [];
const usage: IncomingEvent[] = [];

const summarize = (over: Record<string, unknown> = {}) => ({
  task: {
    intent: 'summarize',
    params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 2 },
    sla: { privacy: Privacy.HYBRID, budgetUsd: 0, p95Ms: 0 },
    dataContext: { jurisdiction: 'DE', classification: DataClassification.NONE },
    ...over,
  },
});

async function finished(id: string, tenant = dev()) {
  return eventually(async () => {
    const { result } = await runWithTenant(tenant, () => tasks.statusById({ taskId: id }));
    return result &&
      [TaskStatus.OK, TaskStatus.ERROR, TaskStatus.TIMEOUT, TaskStatus.CANCELED].includes(
        result.status,
      )
      ? result
      : undefined;
  }, 20_000);
}

beforeAll(async () => {
  healthy = await startOpenAiTestServer({ reply: 'A healthy answer.' });
  broken = await startOpenAiTestServer({ fail: { status: 500, times: 1_000_000 } });
  bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('e2e-tasks') });
  await bus.ensureTopics([
    TOPICS.tasksLifecycle,
    TOPICS.usageBilling,
    dlqTopicOf(TOPICS.tasksLifecycle),
  ]);
  await bus.subscribe({
    groupId: uniqueName('lifecycle'),
    topics: [TOPICS.tasksLifecycle],
    fromBeginning: false,
    handler: async (e) => void lifecycle.push(e),
  });
  await bus.subscribe({
    groupId: uniqueName('usage'),
    topics: [TOPICS.usageBilling],
    fromBeginning: false,
    handler: async (e) => void usage.push(e),
  });
  platform = await startPlatform({
    database: 'e2etasks',
    engines: `engines:
${LOCAL_SUMMARIZE_ENGINE}
  - { name: flaky-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${broken.url}", models: [test-model], intents: [chat], jurisdiction: EU, region: eu, price_per_1k_tokens: { input: 0.0001, output: 0.0001 } }
  - { name: steady-llm, tier: cloud-premium, kind: openai-compatible, endpoint: "${healthy.url}", models: [test-model], intents: [chat], jurisdiction: EU, region: eu, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
  - { name: doomed-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${broken.url}", models: [test-model], intents: [draft], jurisdiction: EU, region: eu, price_per_1k_tokens: { input: 0, output: 0 } }
  - { name: us-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${healthy.url}", models: [test-model], intents: [translate], jurisdiction: US, region: us, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
  - { name: local-extract, tier: local, kind: openai-compatible, endpoint: "${broken.url}", models: [test-model], intents: [extract], jurisdiction: EU, region: eu, price_per_1k_tokens: { input: 0, output: 0 } }
  - { name: cloud-extract, tier: cloud-standard, kind: openai-compatible, endpoint: "${healthy.url}", models: [test-model], intents: [extract], jurisdiction: EU, region: eu, price_per_1k_tokens: { input: 0.001, output: 0.002 } }
`,
    // No gateway: the suite calls the orchestrator's internal gRPC API, as the gateway does.
    migrate: ['module-host', 'orchestrator', 'sovereign-ai'],
    internalTokenSecret: SECRET,
    modules: ['summarize_text'],
    beforeOrchestrator: async (sovereignAi) => {
      sovereign = createGrpcClient(SovereignService, `127.0.0.1:${sovereignAi.grpcPort}`, {
        tokens,
      });
      // The residency rule the routing tests run under: health data from the EU stays in the EU.
      healthRuleId = (
        await runWithTenant({ ...admin, tenantId: 'acme' }, () =>
          sovereign.createResidencyRule({
            rule: {
              dataJurisdiction: 'EU',
              tier: ClassificationTier.HEALTH,
              action: ResidencyAction.ALLOW,
              targetJurisdictions: ['EU'],
              priority: 10,
            },
          }),
        )
      ).rule!.id;
    },
    orchestrator: {
      // acme is the platform operator's tenant: its admins reset the breakers all tenants share.
      AION_BOOTSTRAP_TENANT: admin.tenantId,
      AION_ORCHESTRATOR_BREAKER_FAILURES: '2',
      AION_ORCHESTRATOR_BREAKER_HALF_OPEN_MS: '60000',
      AION_ORCHESTRATOR_REAPER_INTERVAL_MS: '500',
    },
  });
  const orchestrator = `127.0.0.1:${platform.orchestrator.grpcPort}`;
  tasks = createGrpcClient(TaskOrchestrator, orchestrator, { tokens });
  adminApi = createGrpcClient(OrchestratorAdminService, orchestrator, { tokens });
  governance = createGrpcClient(LearningGovernanceService, orchestrator, { tokens });
}, 180_000);

afterAll(async () => {
  tasks?.close();
  adminApi?.close();
  governance?.close();
  sovereign?.close();
  await platform?.stop();
  await Promise.all([healthy?.close(), broken?.close(), bus?.close()]);
});

describe('tasks through orchestrator and module-host, each its own process', () => {
  it('runs a summarize task on the local module with a stated routing reason, streaming partials', async () => {
    const tenant = dev();
    const submitted = await runWithTenant(tenant, () => tasks.submit(summarize()));
    const id = submitted.result!.taskId;
    expect(submitted.result!.status).toBe(TaskStatus.QUEUED);
    const kinds: StreamEventKind[] = [];
    let final;
    await runWithTenant(tenant, async () => {
      for await (const event of tasks.stream({ taskId: id })) {
        kinds.push(event.kind);
        if (event.result) final = event.result;
      }
    });
    expect(kinds).toEqual([StreamEventKind.PARTIAL, StreamEventKind.PARTIAL, StreamEventKind.DONE]);
    expect(final!.status).toBe(TaskStatus.OK);
    expect(final!.engine).toMatchObject({
      route: 'local',
      name: 'local-summarize',
      chosenBy: ChosenBy.AI_ROUTER,
    });
    expect(final!.engine!.reason).toMatch(/^local tier first \(privacy hybrid\)/);
    expect((toJson(ValueSchema, final!.result!) as { sentences: string[] }).sentences).toHaveLength(
      2,
    );
    expect(final!.usage!.costUsd).toBe(0);
    // Resuming after the first event replays only what came after it.
    const resumed: StreamEventKind[] = [];
    await runWithTenant(tenant, async () => {
      for await (const event of tasks.stream({ taskId: id, afterSequence: 1n }))
        resumed.push(event.kind);
    });
    expect(resumed).toEqual([StreamEventKind.PARTIAL, StreamEventKind.DONE]);
    await eventually(
      () =>
        lifecycle.filter((e) => payloadOf(e.envelope, 'task.state_changed').taskId === id)
          .length === 4,
      20_000,
    );
    const transitions = lifecycle
      .filter((e) => payloadOf(e.envelope, 'task.state_changed').taskId === id)
      .map((e) => payloadOf(e.envelope, 'task.state_changed').toStatus);
    expect(transitions).toEqual([
      TaskStatus.QUEUED,
      TaskStatus.ROUTED,
      TaskStatus.RUNNING,
      TaskStatus.OK,
    ]);
    await eventually(
      () => usage.find((e) => payloadOf(e.envelope, 'usage.recorded').taskId === id),
      20_000,
    );
  });

  it('is idempotent by task id, and refuses the same id with another request', async () => {
    const tenant = dev();
    const id = uniqueName('task');
    const first = await runWithTenant(tenant, () => tasks.submit(summarize({ taskId: id })));
    const again = await runWithTenant(tenant, () => tasks.submit(summarize({ taskId: id })));
    expect(again.deduplicated).toBe(true);
    expect(again.result!.taskId).toBe(first.result!.taskId);
    await expect(
      runWithTenant(tenant, () =>
        tasks.submit(summarize({ taskId: id, params: { text: 'Different.' } })),
      ),
    ).rejects.toMatchObject({ code: 'state.conflict', httpStatus: 409 });
    // Another tenant's task with the same id is a different task, invisible to this one.
    await runWithTenant(dev('globex'), () => tasks.submit(summarize({ taskId: id })));
    await finished(id, tenant);
    await expect(
      runWithTenant(dev('initech'), () => tasks.statusById({ taskId: id })),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
  });

  it('falls back from a failing engine and says so; the breaker then keeps it out', async () => {
    const tenant = dev();
    const chat = {
      intent: 'chat',
      params: { messages: [{ role: 'user', content: 'Hello' }] },
      sla: { privacy: Privacy.ALLOW_API, budgetUsd: 0, p95Ms: 0 },
      dataContext: { jurisdiction: 'FR', classification: DataClassification.NONE },
    };
    const first = await runWithTenant(tenant, () => tasks.submit({ task: chat }));
    const done = await finished(first.result!.taskId);
    expect(done.status).toBe(TaskStatus.OK);
    // Cloud to cloud, privacy allow-api: the route is api.
    expect(done.engine).toMatchObject({ route: 'api', name: 'steady-llm' });
    expect(done.engine!.reason).toMatch(
      /fell back from flaky-llm \(engine flaky-llm answered HTTP 500.*\) to steady-llm/,
    );
    await finished(
      (await runWithTenant(tenant, () => tasks.submit({ task: chat }))).result!.taskId,
    );
    const breakers = await runWithTenant(admin, () => adminApi.listCircuitBreakers({}));
    expect(breakers.breakers.find((b) => b.name === 'flaky-llm')?.state).toBe('open');
    const third = await finished(
      (await runWithTenant(tenant, () => tasks.submit({ task: chat }))).result!.taskId,
    );
    expect(third.engine!.reason).toMatch(/^cheapest allowed engine: steady-llm/);
    expect((await runWithTenant(admin, () => adminApi.resetCircuitBreakers({}))).reset).toContain(
      'flaky-llm',
    );
    await expect(
      runWithTenant(dev(), () => adminApi.resetCircuitBreakers({})),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });

  it('names the route hybrid when a hybrid-privacy task falls back from a local engine to an API', async () => {
    const tenant = dev('routes');
    const extract = (privacy: Privacy) => ({
      task: {
        intent: 'extract',
        params: { messages: [{ role: 'user', content: 'Names in: Ada met Grace.' }] },
        sla: { privacy, budgetUsd: 0, p95Ms: 0 },
        dataContext: { jurisdiction: 'FR', classification: DataClassification.NONE },
      },
    });
    const hybrid = await finished(
      (await runWithTenant(tenant, () => tasks.submit(extract(Privacy.HYBRID)))).result!.taskId,
      tenant,
    );
    expect(hybrid.status).toBe(TaskStatus.OK);
    expect(hybrid.engine).toMatchObject({ route: 'hybrid', name: 'cloud-extract' });
    expect(hybrid.engine!.reason).toMatch(/fell back from local-extract .* to cloud-extract/);
    // Local engines only: the local one fails and nothing else may run it.
    const local = await finished(
      (await runWithTenant(tenant, () => tasks.submit(extract(Privacy.LOCAL_ONLY)))).result!.taskId,
      tenant,
    );
    expect(local.status).toBe(TaskStatus.ERROR);
    expect(local.engine).toMatchObject({ route: 'local', name: 'local-extract' });
    await runWithTenant(admin, () => adminApi.resetCircuitBreakers({}));
  });

  it('ends in a clear error when no allowed engine serves the intent, residency naming its rule', async () => {
    const none = await finished(
      (await runWithTenant(dev(), () => tasks.submit(summarize({ intent: 'classify' })))).result!
        .taskId,
    );
    expect(none.status).toBe(TaskStatus.ERROR);
    expect(none.error).toMatchObject({
      code: 'validation.no_allowed_engine',
      message: 'no allowed engine serves classify: no engine is configured for this intent',
    });
    const blocked = await finished(
      (
        await runWithTenant(dev(), () =>
          tasks.submit({
            task: {
              intent: 'translate',
              params: { messages: [{ role: 'user', content: 'x' }] },
              sla: { privacy: Privacy.ALLOW_API, budgetUsd: 0, p95Ms: 0 },
              dataContext: { jurisdiction: 'DE', classification: DataClassification.HEALTH },
            },
          }),
        )
      ).result!.taskId,
    );
    expect(blocked.error).toMatchObject({ code: 'sovereign.residency_violation' });
    expect(blocked.error!.message).toContain(`rule ${healthRuleId}`);
  });

  it('enforces budgets: reserve/commit/release over the API and tasks that would overspend', async () => {
    const tenant = { ...admin, tenantId: 'frugal' };
    await runWithTenant(tenant, () => adminApi.setBudgetLimit({ limitUsd: 0.00001 }));
    const chat = {
      intent: 'chat',
      params: { messages: [{ role: 'user', content: 'Hello there, this costs money' }] },
      sla: { privacy: Privacy.ALLOW_API, budgetUsd: 0, p95Ms: 0 },
      dataContext: { jurisdiction: 'FR', classification: DataClassification.NONE },
    };
    const denied = await finished(
      (await runWithTenant(tenant, () => tasks.submit({ task: chat }))).result!.taskId,
      tenant,
    );
    expect(denied.status).toBe(TaskStatus.ERROR);
    expect(denied.error!.message).toMatch(/exceeds the remaining budget/);
    await runWithTenant(tenant, () => adminApi.setBudgetLimit({ limitUsd: 1 }));
    const reserved = await runWithTenant(tenant, () =>
      adminApi.reserveBudget({ requestId: 'r-1', amountUsd: 0.4 }),
    );
    expect(reserved.reservation).toMatchObject({ status: 'RESERVED', amountUsd: 0.4 });
    await runWithTenant(tenant, () => adminApi.commitBudget({ requestId: 'r-1', actualUsd: 0.25 }));
    const state = await runWithTenant(tenant, () => adminApi.getBudgetState({}));
    expect(state.state).toMatchObject({ hasLimit: true, limitUsd: 1, committedUsd: 0.25 });
    await expect(
      runWithTenant(tenant, () => adminApi.releaseBudget({ requestId: 'r-1' })),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    await expect(
      runWithTenant(tenant, () => adminApi.reserveBudget({ requestId: 'r-2', amountUsd: 5 })),
    ).rejects.toMatchObject({ code: 'budget.exceeded', httpStatus: 429 });
  });

  it('cancels a running task, lists tasks with paging, and refuses illegal moves and bad input', async () => {
    const tenant = dev('lister');
    healthy.behave({ tokenDelayMs: 200, reply: 'a slow answer that takes a while to stream out' });
    const chat = {
      intent: 'chat',
      params: { messages: [{ role: 'user', content: 'Hi' }] },
      preferredEngine: 'steady-llm',
      sla: { privacy: Privacy.ALLOW_API, budgetUsd: 0, p95Ms: 0 },
      dataContext: { jurisdiction: 'FR', classification: DataClassification.NONE },
    };
    const slow = await runWithTenant(tenant, () => tasks.submit({ task: chat }));
    await eventually(
      async () =>
        (await runWithTenant(tenant, () => tasks.statusById({ taskId: slow.result!.taskId })))
          .result!.status === TaskStatus.RUNNING,
      10_000,
    );
    const canceled = await runWithTenant(tenant, () =>
      tasks.cancel({ taskId: slow.result!.taskId, reason: 'user changed their mind' }),
    );
    expect(canceled.result!.status).toBe(TaskStatus.CANCELED);
    await expect(
      runWithTenant(tenant, () => tasks.cancel({ taskId: slow.result!.taskId })),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    healthy.behave({ tokenDelayMs: 0, reply: 'A healthy answer.' });
    for (let i = 0; i < 2; i++) await runWithTenant(tenant, () => tasks.submit(summarize()));
    const page = await runWithTenant(tenant, () => tasks.list({ page: { pageSize: 2 } }));
    expect(page.tasks).toHaveLength(2);
    expect(page.page!.totalSize).toBe(3n);
    const rest = await runWithTenant(tenant, () =>
      tasks.list({ page: { pageSize: 2, pageToken: page.page!.nextPageToken } }),
    );
    expect(rest.tasks).toHaveLength(1);
    await expect(
      runWithTenant(tenant, () =>
        tasks.submit({ task: { intent: 'Bad Intent!', dataContext: { jurisdiction: 'XX' } } }),
      ),
    ).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      details: expect.arrayContaining([
        expect.objectContaining({ field: 'intent' }),
        expect.objectContaining({
          field: 'data_context.jurisdiction',
          reason: 'unknown_jurisdiction',
        }),
      ]),
    });
    await expect(
      runWithTenant(tenant, () => tasks.statusById({ taskId: '' })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(
      runWithTenant(tenant, () => tasks.submit({ ...summarize(), waitMs: 600_001 })),
    ).rejects.toMatchObject({
      code: 'validation.invalid_argument',
      details: [expect.objectContaining({ field: 'wait_ms' })],
    });
    // With a wait the answer is the finished task, not the accepted one.
    const waited = await runWithTenant(tenant, () =>
      tasks.submit({ ...summarize(), waitMs: 10_000 }),
    );
    expect(waited.result!.status).toBe(TaskStatus.OK);
  });

  it('dead-letters a task whose every attempt failed; replay runs it again, resolve closes it, once', async () => {
    const tenant = dev('dlq');
    const ops = { ...admin, tenantId: 'dlq' };
    const draft = {
      intent: 'draft',
      params: { messages: [{ role: 'user', content: 'Write something' }] },
      sla: { privacy: Privacy.ALLOW_API, budgetUsd: 0, p95Ms: 0 },
      dataContext: { jurisdiction: 'FR', classification: DataClassification.NONE },
    };
    const failed = await finished(
      (await runWithTenant(tenant, () => tasks.submit({ task: draft }))).result!.taskId,
      tenant,
    );
    expect(failed.status).toBe(TaskStatus.ERROR);
    expect(failed.error!.code).toBe('engine.failed');
    const open = await runWithTenant(ops, () => adminApi.listDeadLetters({ resolved: false }));
    expect(open.total).toBe(1);
    const entry = open.entries[0]!;
    expect(entry).toMatchObject({
      source: 'task',
      ref: failed.taskId,
      subject: 'draft',
      errorCode: 'engine.failed',
      retryCount: 1,
      resolution: '',
    });
    expect(entry.errorMessage).toMatch(/doomed-llm: engine doomed-llm answered HTTP 500/);
    expect((entry.payload as { intent?: string }).intent).toBe('draft');
    // Other tenants never see it; developers may not read the queue at all.
    expect(
      (await runWithTenant({ ...admin, tenantId: 'other' }, () => adminApi.listDeadLetters({})))
        .total,
    ).toBe(0);
    await expect(runWithTenant(tenant, () => adminApi.listDeadLetters({}))).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
    await expect(
      runWithTenant(ops, () => adminApi.getDeadLetter({ id: 'not-a-uuid' })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(
      runWithTenant(ops, () => adminApi.listDeadLetters({ source: 'mail' })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });

    const replayed = await runWithTenant(ops, () =>
      adminApi.replayDeadLetter({ id: entry.id, note: 'upstream fixed' }),
    );
    expect(replayed.entry).toMatchObject({
      resolution: 'replayed',
      resolvedBy: 'ops',
      note: 'upstream fixed',
      replayRef: `replay-${entry.id}`,
    });
    await expect(
      runWithTenant(ops, () => adminApi.replayDeadLetter({ id: entry.id })),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    // The replay failed too (the upstream is still down): it is a new entry of its own.
    const again = await finished(`replay-${entry.id}`, ops);
    expect(again.status).toBe(TaskStatus.ERROR);
    const second = await eventually(async () => {
      const list = await runWithTenant(ops, () => adminApi.listDeadLetters({ resolved: false }));
      return list.entries.find((e) => e.ref === `replay-${entry.id}`);
    }, 10_000);
    const resolved = await runWithTenant(ops, () =>
      adminApi.resolveDeadLetter({ id: second.id, note: "won't fix" }),
    );
    expect(resolved.entry).toMatchObject({ resolution: 'resolved', note: "won't fix" });
    await expect(
      runWithTenant(ops, () => adminApi.resolveDeadLetter({ id: second.id })),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    const closed = await runWithTenant(ops, () => adminApi.listDeadLetters({ resolved: true }));
    expect(closed.entries.map((e) => e.id).sort()).toEqual([entry.id, second.id].sort());
    expect(
      (await runWithTenant(ops, () => adminApi.listDeadLetters({ resolved: false }))).total,
    ).toBe(0);
  });

  it('records dead-lettered bus messages from Kafka and replays them byte for byte', async () => {
    // A tenant of its own per run: the topic keeps earlier runs' dead letters.
    const tenantId = uniqueName('dlq-messages');
    const ops = { ...admin, tenantId };
    const { envelope, message } = createEvent({
      type: 'task.state_changed',
      source: 'aion/test',
      key: 'task-x',
      tenantId,
      payload: { taskId: 'task-x', fromStatus: 1, toStatus: 2, intent: 'summarize' },
    });
    await bus.publish([
      {
        ...message,
        topic: dlqTopicOf(TOPICS.tasksLifecycle),
        headers: {
          ...message.headers,
          [DLQ_HEADERS.error]: 'billing consumer could not parse it',
          [DLQ_HEADERS.attempts]: '5',
          [DLQ_HEADERS.originalTopic]: TOPICS.tasksLifecycle,
          [DLQ_HEADERS.originalPartition]: '1',
          [DLQ_HEADERS.originalOffset]: '42',
          [DLQ_HEADERS.consumerGroup]: 'billing',
          [DLQ_HEADERS.failedAt]: new Date().toISOString(),
        },
      },
    ]);
    const entry = await eventually(async () => {
      const list = await runWithTenant(ops, () => adminApi.listDeadLetters({ source: 'message' }));
      return list.entries[0];
    }, 30_000);
    expect(entry).toMatchObject({
      source: 'message',
      ref: 'tasks.lifecycle/1/42@billing',
      subject: TOPICS.tasksLifecycle,
      errorMessage: 'billing consumer could not parse it',
      retryCount: 5,
    });
    expect(entry.payload).toMatchObject({ event_id: envelope.id, consumer_group: 'billing' });
    const replayed = await runWithTenant(ops, () => adminApi.replayDeadLetter({ id: entry.id }));
    expect(replayed.entry!.replayRef).toBe(envelope.id);
    const republished = await eventually(
      () => lifecycle.find((e) => e.envelope.id === envelope.id),
      20_000,
    );
    expect(republished.headers[DLQ_HEADERS.error]).toBeUndefined();
    expect(payloadOf(republished.envelope, 'task.state_changed').taskId).toBe('task-x');
  });

  it('governs learning: concurrent automatic prompt updates never pass the daily limit or cooldown', async () => {
    const ops = { ...admin, tenantId: 'learning' };
    const learner = { ...dev('learning'), subject: 'learner' };
    await runWithTenant(ops, () =>
      governance.upsertAgentRole({ name: 'support', dailyUpdateLimit: 3, cooldownSeconds: 0 }),
    );
    await runWithTenant(ops, () =>
      governance.upsertAgentRole({
        name: 'triage',
        dailyUpdateLimit: 100,
        cooldownSeconds: 3600,
      }),
    );
    const race = (role: string, n: number) =>
      Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          runWithTenant(learner, () =>
            governance.proposePromptUpdate({
              role,
              prompt: `You are helpful, v${i}`,
              reason: 'eval gain',
            }),
          ),
        ),
      );
    const limited = await race('support', 20);
    const refused = limited.filter((r) => r.status === 'rejected');
    expect(limited.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(refused).toHaveLength(17);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: 'rate_limit.exceeded',
        message: expect.stringContaining('daily limit of 3'),
      });
    const cooled = await race('triage', 10);
    expect(cooled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      (cooled.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason,
    ).toMatchObject({
      code: 'rate_limit.exceeded',
      message: expect.stringContaining('cooling down (3600 s'),
    });
    const { roles } = await runWithTenant(ops, () => governance.getGovernanceStatus({}));
    expect(roles.find((r) => r.name === 'support')).toMatchObject({
      dailyUpdateLimit: 3,
      updatesToday: 3,
      remainingToday: 0,
      activeVersion: 3,
      latestVersion: 3,
    });
    const triage = roles.find((r) => r.name === 'triage')!;
    expect(triage).toMatchObject({ updatesToday: 1, remainingToday: 99, activeVersion: 1 });
    expect(
      new Date(triage.nextUpdateAllowedAt).getTime() -
        new Date(triage.lastAutomaticUpdateAt).getTime(),
    ).toBe(3_600_000);
    // Manual versions are for operators and are not limited.
    await expect(
      runWithTenant(learner, () =>
        governance.proposePromptUpdate({ role: 'support', prompt: 'by hand', source: 'manual' }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    const manual = await runWithTenant(ops, () =>
      governance.proposePromptUpdate({
        role: 'support',
        prompt: 'Reviewed prompt',
        source: 'manual',
      }),
    );
    expect(manual.version).toMatchObject({ version: 4, status: 'active', source: 'manual' });
    const versions = await runWithTenant(ops, () =>
      governance.listPromptVersions({ role: 'support' }),
    );
    expect(versions.versions.map((v) => v.status)).toEqual([
      'superseded',
      'superseded',
      'superseded',
      'active',
    ]);
    await expect(
      runWithTenant(learner, () => governance.proposePromptUpdate({ role: 'ghost', prompt: 'x' })),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
    await expect(
      runWithTenant(ops, () =>
        governance.upsertAgentRole({ name: 'Bad Role', dailyUpdateLimit: 1 }),
      ),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(
      runWithTenant(learner, () =>
        governance.upsertAgentRole({ name: 'mine', dailyUpdateLimit: 9 }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });

  it('holds automatic updates of approval roles until someone other than the proposer approves', async () => {
    const ops = { ...admin, tenantId: 'approvals', subject: 'approver' };
    const learner = { ...admin, tenantId: 'approvals', subject: 'learner' };
    await runWithTenant(ops, () =>
      governance.upsertAgentRole({
        name: 'legal',
        dailyUpdateLimit: 5,
        cooldownSeconds: 0,
        requiresApproval: true,
      }),
    );
    const proposed = await runWithTenant(learner, () =>
      governance.proposePromptUpdate({
        role: 'legal',
        prompt: 'Cite the statute.',
        reason: 'audit',
      }),
    );
    expect(proposed.version).toMatchObject({ version: 1, status: 'pending_approval' });
    let status = (await runWithTenant(ops, () => governance.getGovernanceStatus({}))).roles.find(
      (r) => r.name === 'legal',
    )!;
    expect(status).toMatchObject({ activeVersion: 0, pendingApprovals: 1, updatesToday: 1 });
    await expect(
      runWithTenant(learner, () =>
        governance.decidePromptUpdate({ role: 'legal', version: 1, approve: true }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(
      runWithTenant(dev('approvals'), () =>
        governance.decidePromptUpdate({ role: 'legal', version: 1, approve: true }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    const approved = await runWithTenant(ops, () =>
      governance.decidePromptUpdate({ role: 'legal', version: 1, approve: true, note: 'ok' }),
    );
    expect(approved.version).toMatchObject({ status: 'active', decidedBy: 'approver' });
    await expect(
      runWithTenant(ops, () =>
        governance.decidePromptUpdate({ role: 'legal', version: 1, approve: false }),
      ),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    await runWithTenant(learner, () =>
      governance.proposePromptUpdate({ role: 'legal', prompt: 'Be vaguer.' }),
    );
    const rejected = await runWithTenant(ops, () =>
      governance.decidePromptUpdate({ role: 'legal', version: 2, approve: false, note: 'no' }),
    );
    expect(rejected.version!.status).toBe('rejected');
    status = (await runWithTenant(ops, () => governance.getGovernanceStatus({}))).roles.find(
      (r) => r.name === 'legal',
    )!;
    expect(status).toMatchObject({ activeVersion: 1, pendingApprovals: 0, updatesToday: 2 });
    await expect(
      runWithTenant(ops, () =>
        governance.decidePromptUpdate({ role: 'legal', version: 9, approve: true }),
      ),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
  });

  it('recovers tasks whose replica died: runs the queued one, ends the running one as lost', async () => {
    const tenant = dev('recovery');
    const ops = { ...admin, tenantId: 'recovery' };
    const queuedId = uniqueName('orphan-queued');
    const runningId = uniqueName('orphan-running');
    const request = (id: string) => ({
      schema_version: '1.0',
      task_id: id,
      intent: 'summarize',
      params: { text: SUMMARY_SOURCE_TEXT, max_sentences: 1 },
      priority: 'normal',
      sla: { budget_usd: 0, p95_ms: 0, privacy: 'hybrid' },
      metadata: {},
      data_context: { jurisdiction: 'DE', classification: 'none' },
      project_id: '',
    });
    // As a replica that crashed would leave them: accepted an hour ago, never finished.
    const owner = new Client({ connectionString: platform.db.ownerUrl });
    await owner.connect();
    for (const [id, status] of [
      [queuedId, 'QUEUED'],
      [runningId, 'RUNNING'],
    ] as const)
      await owner.query(
        `insert into orc_tasks (tenant_id, id, subject, intent, status, request, request_hash, engine_route, engine_name, chosen_by, reason, created_at, updated_at)
         values ('recovery', $1, 'dev', 'summarize', $2, $3, 'h', 'local', 'local-summarize', 'ai-router', 'r', now() - interval '1 hour', now() - interval '1 hour')`,
        [id, status, JSON.stringify(request(id))],
      );
    await owner.end();
    const recovered = await finished(queuedId, tenant);
    expect(recovered.error).toBeUndefined();
    expect(recovered.status).toBe(TaskStatus.OK);
    const lost = await finished(runningId, tenant);
    expect(lost.status).toBe(TaskStatus.TIMEOUT);
    expect(lost.error).toMatchObject({ code: 'task.lost' });
    const dlq = await runWithTenant(ops, () => adminApi.listDeadLetters({ resolved: false }));
    expect(dlq.entries.map((e) => e.ref)).toEqual([runningId]);
  });
});
