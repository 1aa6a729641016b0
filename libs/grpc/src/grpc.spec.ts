import { context, trace } from '@opentelemetry/api';
import { TaskOrchestrator, StreamEventKind, TaskStatus } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { AionError, retryAfterFor } from '@aion/errors';
import { currentTenant, runWithTenant } from '@aion/tenancy';
import { initTracing, ServiceMetrics, tracer } from '@aion/telemetry';
import { grpcHealthStatus } from '@aion/testing';
import { createGrpcClient, createGrpcClient as createClient } from './client';
import { runWithDeadline } from './deadline';
import { GrpcServer } from './server';
import type { CallContext } from './types';

initTracing({ serviceName: 'grpc-test' });
const tokens = new InternalTokens('k'.repeat(40), 'test');
const seen: {
  tenant?: string;
  owner?: string;
  requestId?: string;
  traceId?: string;
  caller?: string;
  aborted?: boolean;
  streamStopped?: boolean;
} = {};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Handlers these tests never call, and who may call each method. */
const UNUSED_HANDLERS = {
  statusById: async () => ({}),
  cancel: async () => ({}),
  list: async () => ({ tasks: [] }),
  getReceipt: async () => ({}),
};
const TASKS_ACCESS = {
  submit: 'tasks:submit',
  stream: 'tasks:read',
  statusById: 'tasks:read',
  cancel: 'tasks:cancel',
  list: 'tasks:read',
  getReceipt: 'tasks:read',
} as const;

const metrics = new ServiceMetrics('test', { defaultMetrics: false });
const server = new GrpcServer({ tokens, metrics });
server.add(
  TaskOrchestrator,
  {
    submit: async (req, ctx: CallContext) => {
      seen.tenant = currentTenant()?.tenantId;
      seen.owner = currentTenant()?.owner;
      seen.requestId = ctx.requestId;
      seen.traceId = trace.getSpanContext(context.active())?.traceId;
      seen.caller = ctx.principal?.caller;
      const intent = req.task?.intent;
      if (intent === 'missing') throw AionError.notFound('task', 'x');
      if (intent === 'crash') throw new Error('SELECT * FROM secrets WHERE password = hunter2');
      if (intent === 'slow') {
        await sleep(2000, ctx.signal);
        seen.aborted = ctx.signal.aborted;
      }
      return { result: { taskId: req.task?.taskId ?? '', intent, status: TaskStatus.QUEUED } };
    },
    stream: async function* (req, ctx: CallContext) {
      if (req.taskId === 'endless') {
        try {
          for (let i = 1; !ctx.signal.aborted; i++) {
            yield { sequence: BigInt(i), kind: StreamEventKind.TOKEN, token: `t${i}` };
            await sleep(20, ctx.signal);
          }
        } finally {
          seen.streamStopped = true; // aborted, or ended by its reader's return
        }
        return;
      }
      for (let i = 1; i <= 3; i++) {
        if (req.taskId === 'broken' && i === 2)
          throw new AionError('state.conflict', 'task was canceled');
        yield {
          sequence: BigInt(i),
          kind: i === 3 ? StreamEventKind.DONE : StreamEventKind.TOKEN,
          token: `t${i}`,
        };
      }
    },
    ...UNUSED_HANDLERS,
  },
  TASKS_ACCESS,
);

let address: string;
const ctx = {
  tenantId: 'acme',
  subject: 'key:k2',
  owner: 'user:alice',
  roles: ['developer'],
  requestId: 'req-123',
};

beforeAll(async () => {
  const port = await server.start('127.0.0.1', 0);
  server.setServing('SERVING');
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await server.shutdown(1000);
});

// Every guarantee holds over both transports: the network, and the co-located profile's
// in-process calls to a server this process runs.
describe.each([
  ['over gRPC', false],
  ['in-process (co-located)', true],
])('GrpcServer + createGrpcClient %s', (_transport, inProcess) => {
  const createGrpcClient: typeof createClient = (service, at, options) =>
    createClient(service, at, { ...options, inProcess });

  it('carries tenant, owner, request id, trace context and caller over a unary call', async () => {
    const client = createGrpcClient(TaskOrchestrator, address, { tokens });
    const span = tracer().startSpan('caller');
    const response = await context.with(trace.setSpan(context.active(), span), () =>
      runWithTenant(ctx, () => client.submit({ task: { taskId: 't-1', intent: 'summarize' } })),
    );
    span.end();
    expect(response.result?.taskId).toBe('t-1');
    expect(seen).toMatchObject({
      tenant: 'acme',
      owner: 'user:alice',
      requestId: 'req-123',
      caller: 'test',
      traceId: span.spanContext().traceId,
    });
    client.close();
  });

  it('refuses a call without an internal token and one without the permission', async () => {
    const anonymous = createGrpcClient(TaskOrchestrator, address, { tokens });
    await expect(anonymous.submit({ task: { intent: 'x' } })).rejects.toMatchObject({
      code: 'auth.unauthenticated',
      httpStatus: 401,
    });
    await expect(
      runWithTenant({ ...ctx, roles: ['observer'] }, () =>
        anonymous.submit({ task: { intent: 'x' } }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden', httpStatus: 403 });
    anonymous.close();
    // A forged token is the network's concern; a co-located caller is this process itself.
    if (inProcess) return;
    const forged = createGrpcClient(TaskOrchestrator, address, {
      tokens: new InternalTokens('z'.repeat(40), 'evil'),
    });
    await expect(
      runWithTenant(ctx, () => forged.submit({ task: { intent: 'x' } })),
    ).rejects.toMatchObject({ code: 'auth.unauthenticated' });
    forged.close();
  });

  it('delivers the exact AionError raised by the handler, and hides unexpected ones', async () => {
    const client = createGrpcClient(TaskOrchestrator, address, { tokens });
    await expect(
      runWithTenant(ctx, () => client.submit({ task: { intent: 'missing' } })),
    ).rejects.toMatchObject({ code: 'resource.not_found', message: 'task x was not found' });
    const err = await runWithTenant(ctx, () => client.submit({ task: { intent: 'crash' } })).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'internal.error', message: 'an internal error occurred' });
    expect(JSON.stringify((err as AionError).toEnvelope('r'))).not.toMatch(/hunter2|SELECT/);
    client.close();
  });

  it('enforces deadlines, inherited ones included, and aborts the handler', async () => {
    const client = createGrpcClient(TaskOrchestrator, address, { tokens, defaultDeadlineMs: 5000 });
    const started = Date.now();
    await expect(
      runWithTenant(ctx, () => client.submit({ task: { intent: 'slow' } }, { deadlineMs: 150 })),
    ).rejects.toMatchObject({ code: 'service.timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
    const inherited = Date.now();
    await expect(
      runWithTenant(ctx, () =>
        runWithDeadline(new Date(Date.now() + 150), () =>
          client.submit({ task: { intent: 'slow' } }),
        ),
      ),
    ).rejects.toMatchObject({ code: 'service.timeout' });
    expect(Date.now() - inherited).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.aborted).toBe(true);
    client.close();
  });

  it('streams messages and surfaces a mid-stream error', async () => {
    const client = createGrpcClient(TaskOrchestrator, address, { tokens });
    const tokensSeen: string[] = [];
    await runWithTenant(ctx, async () => {
      for await (const event of client.stream({ taskId: 'ok' })) tokensSeen.push(event.token);
    });
    expect(tokensSeen).toEqual(['t1', 't2', 't3']);
    const partial: string[] = [];
    await expect(
      runWithTenant(ctx, async () => {
        for await (const event of client.stream({ taskId: 'broken' })) partial.push(event.token);
      }),
    ).rejects.toMatchObject({ code: 'state.conflict', message: 'task was canceled' });
    expect(partial).toEqual(['t1']);
    client.close();
  });

  it('stops the handler of a stream its reader left', async () => {
    const client = createGrpcClient(TaskOrchestrator, address, { tokens });
    seen.streamStopped = undefined;
    await runWithTenant(ctx, async () => {
      for await (const event of client.stream({ taskId: 'endless' }))
        if (event.token === 't2') break;
    });
    for (let i = 0; i < 50 && !seen.streamStopped; i++) await sleep(20);
    expect(seen.streamStopped).toBe(true);
    client.close();
  });

  it('answers the standard grpc.health.v1 check without credentials', async () => {
    expect(await grpcHealthStatus(address)).toBe('SERVING');
  });
});

describe('the co-located profile', () => {
  it('calls a server of this process without a token or the network, and any other over gRPC', async () => {
    const counting = new InternalTokens('k'.repeat(40), 'test');
    const issue = jest.spyOn(counting, 'issue');
    const local = createGrpcClient(TaskOrchestrator, address, {
      tokens: counting,
      inProcess: true,
    });
    await runWithTenant(ctx, () => local.submit({ task: { taskId: 'c-1', intent: 'summarize' } }));
    expect(issue).not.toHaveBeenCalled();
    // The port decides: a client of another replica of the same service reaches that one.
    const other = await replica('elsewhere');
    const sibling = createGrpcClient(TaskOrchestrator, `localhost:${other.port}`, {
      tokens: counting,
      inProcess: true,
    });
    const answer = await runWithTenant(ctx, () => sibling.submit({ task: { intent: 'x' } }));
    expect(answer.result?.taskId).toBe('elsewhere');
    expect(issue).not.toHaveBeenCalled();
    sibling.close();
    const remote = createGrpcClient(TaskOrchestrator, `127.0.0.1:${other.port}`, {
      tokens: counting,
      inProcess: true,
    });
    // A server this process no longer runs is called over the network (here: nobody answers).
    await other.server.shutdown(100);
    await expect(
      runWithTenant(ctx, () => remote.submit({ task: { intent: 'x' } }, { deadlineMs: 500 })),
    ).rejects.toMatchObject({ httpStatus: 503 });
    expect(issue).toHaveBeenCalled();
    local.close();
    remote.close();
  });
});

/** A replica that answers every Submit with its own name as the task id. */
async function replica(name: string, port = 0) {
  const metrics = new ServiceMetrics('test', { defaultMetrics: false });
  const server = new GrpcServer({ tokens, metrics });
  server.add(
    TaskOrchestrator,
    {
      submit: async () => ({ result: { taskId: name, intent: 'x', status: TaskStatus.QUEUED } }),
      // eslint-disable-next-line require-yield -- this test never streams
      stream: async function* () {
        return;
      },
      ...UNUSED_HANDLERS,
    },
    TASKS_ACCESS,
  );
  const bound = await server.start('127.0.0.1', port);
  server.setServing('SERVING');
  return { server, port: bound };
}

describe('a client of several replicas', () => {
  it('spreads calls over every address of its target and keeps serving when one goes away', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const client = createGrpcClient(
      TaskOrchestrator,
      `ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`,
      {
        tokens,
      },
    );
    const served = async (calls: number) => {
      const names: string[] = [];
      for (let i = 0; i < calls; i++)
        names.push(
          (await runWithTenant(ctx, () => client.submit({ task: { intent: 'x' } }))).result!.taskId,
        );
      return names;
    };
    try {
      const first = await served(20);
      expect(first.filter((n) => n === 'a').length).toBeGreaterThanOrEqual(5);
      expect(first.filter((n) => n === 'b').length).toBeGreaterThanOrEqual(5);

      await a.server.shutdown(1000);
      // The client learns of the closed connection from its GOAWAY; from then on every call
      // goes to the replica that is left, and none fails.
      const deadline = Date.now() + 5000;
      while ((await served(1).catch(() => [])).length === 0 && Date.now() < deadline);
      expect(new Set(await served(10))).toEqual(new Set(['b']));
    } finally {
      client.close();
      await a.server.shutdown(100).catch(() => undefined);
      await b.server.shutdown(1000);
    }
  });
});

describe('a client whose peer restarts', () => {
  it('is refused 503 with Retry-After while the peer is down, and reaches it within a second of its return', async () => {
    const before = await replica('before');
    const client = createGrpcClient(TaskOrchestrator, `127.0.0.1:${before.port}`, {
      tokens,
      defaultDeadlineMs: 2000,
    });
    const submit = () => runWithTenant(ctx, () => client.submit({ task: { intent: 'x' } }));
    let after: Awaited<ReturnType<typeof replica>> | undefined;
    try {
      expect((await submit()).result?.taskId).toBe('before');
      await before.server.shutdown(100);
      // Down for 3 s: long enough for grpc-js's default backoff to grow past 2.5 s.
      const refusals: unknown[] = [];
      const downUntil = Date.now() + 3000;
      while (Date.now() < downUntil) {
        await submit().catch((err: unknown) => refusals.push(err));
        await sleep(100);
      }
      expect(refusals.length).toBeGreaterThan(10);
      for (const err of refusals) {
        expect(err).toMatchObject({ code: 'service.unavailable', httpStatus: 503 });
        expect(retryAfterFor(err as AionError)).toBe(2);
      }

      after = await replica('after', before.port);
      const backAt = Date.now();
      let served: string | undefined;
      while (!served && Date.now() - backAt < 5000) {
        served = await submit().then(
          (r) => r.result?.taskId,
          () => undefined,
        );
        if (!served) await sleep(20);
      }
      expect(served).toBe('after');
      // The backoff is bounded at 1 s (+20 % jitter).
      expect(Date.now() - backAt).toBeLessThan(1500);
    } finally {
      client.close();
      await after?.server.shutdown(1000);
    }
  }, 20_000);
});

describe('calls in flight (aion_requests_in_flight)', () => {
  const grpcInFlight = async () =>
    (await metrics.requestsInFlight.get()).values.find((v) => v.labels.kind === 'grpc')?.value ?? 0;

  it('counts a call over gRPC while it is served, and not after it ends or times out', async () => {
    const client = createClient(TaskOrchestrator, address, { tokens, defaultDeadlineMs: 5000 });
    const before = await grpcInFlight();
    const slow = runWithTenant(ctx, () =>
      client.submit({ task: { intent: 'slow' } }, { deadlineMs: 400 }),
    ).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 150));
    expect(await grpcInFlight()).toBe(before + 1);
    expect(await slow).toMatchObject({ code: 'service.timeout' });
    await runWithTenant(ctx, () => client.submit({ task: { intent: 'quick' } }));
    await new Promise((r) => setTimeout(r, 100));
    expect(await grpcInFlight()).toBe(before);
    client.close();
  });
});
