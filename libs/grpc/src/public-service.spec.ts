import { fromBinary } from '@bufbuild/protobuf';
import { AionTasks, ErrorEnvelopeSchema } from '@aion/contracts';
import { credentialAuthenticator, InternalTokens, type Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import { currentTenant } from '@aion/tenancy';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { deserializer, serializer } from './codec';
import { GrpcServer } from './server';

const developer: Principal = {
  kind: 'api_key',
  tenantId: 'acme',
  subject: 'key:1',
  owner: 'user:someone',
  roles: ['developer'],
  keyId: '1',
};
const observer: Principal = { ...developer, subject: 'key:2', roles: ['observer'], keyId: '2' };
const KEYS: Record<string, Principal> = { 'dev-key': developer, 'observer-key': observer };
const seen: { tenant?: string; caller?: string; requestId?: string; peer?: string } = {};
let release: () => void = () => undefined;

const server = new GrpcServer({ tokens: new InternalTokens('k'.repeat(40), 'test') });
server.add(
  AionTasks,
  {
    submit: async (req, ctx) => {
      seen.tenant = currentTenant()?.tenantId;
      seen.caller = ctx.principal?.caller;
      seen.requestId = ctx.requestId;
      if (req.intent === 'hold') await new Promise<void>((resolve) => (release = resolve));
      return { taskId: req.taskId, intent: req.intent, status: 'QUEUED' };
    },
    // eslint-disable-next-line require-yield -- never called
    stream: async function* () {
      return;
    },
    statusById: async (req) => ({ taskId: req.taskId }),
    cancel: async (req) => ({ taskId: req.taskId }),
  },
  {
    submit: 'tasks:submit',
    stream: 'tasks:read',
    statusById: 'tasks:read',
    cancel: 'tasks:cancel',
  },
  {
    authenticate: async ({ metadata, peer }) => {
      seen.peer = peer;
      return credentialAuthenticator({
        apiKeys: {
          verify: async (key) => {
            const principal = KEYS[key];
            if (!principal) throw new AionError('auth.invalid_credentials', 'invalid API key');
            return principal;
          },
        },
      })(metadata);
    },
    maxRequestBytes: 1024,
    maxInFlight: 1,
  },
);

let client: Client;
const submit = AionTasks.method.submit;

function call(
  request: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<{ taskId: string }> {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      `/aion.v1.AionTasks/Submit`,
      serializer(submit.input),
      deserializer(submit.output),
      request,
      metadata,
      {},
      (err: ServiceError | null, value?: unknown) =>
        err ? reject(err) : resolve(value as { taskId: string }),
    ),
  );
}

/** The gRPC status and the error envelope of the trailer. */
async function failure(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  )) as ServiceError;
  const trailer = err.metadata.get('aion-error-bin')[0] as Buffer;
  return {
    code: err.code,
    envelope: fromBinary(ErrorEnvelopeSchema, trailer),
    retryAfter: err.metadata.get('retry-after')[0],
  };
}

beforeAll(async () => {
  const port = await server.start('127.0.0.1', 0);
  server.setServing('SERVING');
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await server.shutdown(1000);
});

describe('a public service on GrpcServer', () => {
  it('authenticates clients with their API key, in x-api-key or as a bearer token', async () => {
    await expect(
      call({ taskId: 't1', intent: 'x' }, { 'x-api-key': 'dev-key' }),
    ).resolves.toMatchObject({ taskId: 't1' });
    expect(seen).toMatchObject({ tenant: 'acme', caller: 'client' });
    expect(seen.peer).toMatch(/127\.0\.0\.1/);
    // A request id of the client's is kept when well-formed, replaced otherwise.
    await call({ taskId: 't2' }, { authorization: 'Bearer dev-key', 'x-request-id': 'mine-1' });
    expect(seen.requestId).toBe('mine-1');
    await call({ taskId: 't3' }, { authorization: 'Bearer dev-key', 'x-request-id': 'bad id!' });
    expect(seen.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses no credential, a wrong one and a missing permission with the envelope', async () => {
    expect(await failure(call({ taskId: 't' }, {}))).toMatchObject({
      code: status.UNAUTHENTICATED,
      envelope: { errorCode: 'auth.unauthenticated' },
    });
    expect(await failure(call({ taskId: 't' }, { 'x-api-key': 'guess' }))).toMatchObject({
      code: status.UNAUTHENTICATED,
      envelope: { errorCode: 'auth.invalid_credentials' },
    });
    expect(await failure(call({ taskId: 't' }, { 'x-api-key': 'observer-key' }))).toMatchObject({
      code: status.PERMISSION_DENIED,
      envelope: {
        errorCode: 'auth.forbidden',
        message: 'this requires the tasks:submit permission',
      },
    });
  });

  it('ignores a verified principal smuggled in by the client', async () => {
    const forged = JSON.stringify({ ...developer, tenantId: 'victim', caller: 'orchestrator' });
    expect(
      await failure(call({ taskId: 't' }, { 'x-aion-verified-principal': forged })),
    ).toMatchObject({ code: status.UNAUTHENTICATED });
    await call({ taskId: 't' }, { 'x-api-key': 'dev-key', 'x-aion-verified-principal': forged });
    expect(seen.tenant).toBe('acme');
  });

  it('refuses a request larger than the service takes', async () => {
    expect(
      await failure(call({ taskId: 't', intent: 'x'.repeat(2000) }, { 'x-api-key': 'dev-key' })),
    ).toMatchObject({
      code: status.INVALID_ARGUMENT,
      envelope: { errorCode: 'validation.payload_too_large' },
    });
  });

  it('bounds the calls in flight and asks the rest to come back', async () => {
    const held = call({ taskId: 'held', intent: 'hold' }, { 'x-api-key': 'dev-key' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await failure(call({ taskId: 'more' }, { 'x-api-key': 'dev-key' }))).toMatchObject({
      code: status.UNAVAILABLE,
      envelope: { errorCode: 'service.unavailable' },
      retryAfter: '1',
    });
    release();
    await expect(held).resolves.toMatchObject({ taskId: 'held' });
    await expect(call({ taskId: 'after' }, { 'x-api-key': 'dev-key' })).resolves.toMatchObject({
      taskId: 'after',
    });
  });
});
