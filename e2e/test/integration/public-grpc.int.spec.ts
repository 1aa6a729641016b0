import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ErrorEnvelopeSchema } from '@aion/contracts';
import {
  eventually,
  httpCall,
  issueTestCertificates,
  startOpenAiTestServer,
  startPlatform,
  testIdentityProvider,
  uniqueName,
  type OpenAiTestServer,
  type Platform,
  type ServiceProcess,
  type TestCertificates,
} from '@aion/testing';
import { LOCAL_SUMMARIZE_ENGINE, SUMMARY_SOURCE_TEXT } from '../support/fixtures';

/**
 * The public gRPC API as a client generated from the blueprint's proto text sees it: the fixture
 * is seed 004 section 3.2 verbatim, loaded with @grpc/proto-loader (no Aion code on the client).
 */
const BOOTSTRAP = 'e2e-public-grpc-admin-key-0123456789abcdef';
const idp = testIdentityProvider();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-e2e-public-grpc-'));

interface TaskResult {
  schema_version: string;
  task_id: string;
  intent: string;
  status: string;
  engine: { route: string; chosen_by: string; reason: string } | null;
  result_json: string;
  usage: { latency_ms: string; tokens: string; cost_usd: number } | null;
  error: { code: string; message: string } | null;
}
type Unary = (
  request: unknown,
  metadata: grpc.Metadata,
  callback: (err: grpc.ServiceError | null, value?: TaskResult) => void,
) => void;
type BlueprintClient = grpc.Client & {
  Submit: Unary;
  StatusById: Unary;
  Stream: (request: unknown, metadata: grpc.Metadata) => grpc.ClientReadableStream<TaskResult>;
};

const definition = protoLoader.loadSync(
  path.join(__dirname, 'fixtures', 'blueprint-aion-v1.proto'),
  {
    // Field names as the proto spells them; int64 as decimal strings.
    keepCase: true,
    longs: String,
    defaults: true,
    oneofs: true,
  },
);
const AionTasks = (
  grpc.loadPackageDefinition(definition) as unknown as {
    aion: { v1: { AionTasks: grpc.ServiceClientConstructor } };
  }
).aion.v1.AionTasks;
/** A client of the blueprint's AionTasks; its methods are the ones the proto declares. */
const connectAionTasks = (
  port: number,
  creds: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => new AionTasks(`127.0.0.1:${port}`, creds, options) as unknown as BlueprintClient;

let platform: Platform;
let slowLlm: OpenAiTestServer;
let certificates: TestCertificates;
let client: BlueprintClient;
let gatewayHttp: string;
let tlsPort: number;
let developer: string;
let observer: string;
let otherTenant: string;

const metadataOf = (headers: Record<string, string>) => {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return metadata;
};
const withKey = (key: string) => metadataOf({ 'x-api-key': key });

function unary(
  on: BlueprintClient,
  method: 'Submit' | 'StatusById' | 'Cancel',
  request: unknown,
  metadata: grpc.Metadata,
): Promise<TaskResult> {
  return new Promise((resolve, reject) => {
    const callback = (err: grpc.ServiceError | null, value?: TaskResult) =>
      err ? reject(err) : resolve(value!);
    if (method !== 'Cancel') return on[method](request, metadata, callback);
    // Cancel was added after the blueprint; it takes TaskId and answers TaskResult, so a client
    // built from the blueprint's messages calls it with them.
    const statusById = AionTasks.service['StatusById']!;
    on.makeUnaryRequest(
      '/aion.v1.AionTasks/Cancel',
      statusById.requestSerialize,
      statusById.responseDeserialize as (b: Buffer) => TaskResult,
      request,
      metadata,
      callback,
    );
  });
}

async function streamAll(
  request: unknown,
  metadata: grpc.Metadata,
  onResult?: (r: TaskResult) => void,
): Promise<TaskResult[]> {
  const results: TaskResult[] = [];
  for await (const result of client.Stream(request, metadata) as AsyncIterable<TaskResult>) {
    results.push(result);
    onResult?.(result);
  }
  return results;
}

/** The gRPC status, its envelope (trailer `aion-error-bin`) and retry-after of a failed call. */
async function failure(promise: Promise<unknown>) {
  const err = (await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  )) as grpc.ServiceError;
  const trailer = err.metadata?.get('aion-error-bin')[0];
  return {
    code: err.code,
    envelope: Buffer.isBuffer(trailer) ? fromBinary(ErrorEnvelopeSchema, trailer) : undefined,
  };
}

const summarize = (over: Record<string, unknown> = {}) => ({
  intent: 'summarize',
  params: { text: SUMMARY_SOURCE_TEXT, max_sentences: '2' },
  ...over,
});

async function finished(taskId: string, key = developer): Promise<TaskResult> {
  return eventually(async () => {
    const result = await unary(client, 'StatusById', { task_id: taskId }, withKey(key));
    return ['OK', 'ERROR', 'TIMEOUT', 'CANCELED'].includes(result.status) ? result : undefined;
  }, 20_000);
}

beforeAll(async () => {
  certificates = issueTestCertificates(scratch);
  slowLlm = await startOpenAiTestServer({
    reply: 'one two three four five six seven eight nine ten eleven twelve.',
    tokenDelayMs: 250,
  });
  const gatewayEnv = {
    AION_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
    // Blueprint clients send no data_context: their data is of this jurisdiction.
    AION_GATEWAY_DEFAULT_JURISDICTION: 'DE',
    ...idp.gatewayEnv,
  };
  platform = await startPlatform({
    database: 'e2epubgrpc',
    engines: `engines:
${LOCAL_SUMMARIZE_ENGINE}
  - { name: slow-summarize, tier: cloud-standard, kind: openai-compatible, endpoint: "${slowLlm.url}", models: [test-model], intents: [summarize], jurisdiction: DE, region: eu, price_per_1k_tokens: { input: 0, output: 0 } }
`,
    modules: ['summarize_text'],
    gateways: [
      gatewayEnv,
      {
        ...gatewayEnv,
        AION_GATEWAY_GRPC_TLS_CERT_FILE: certificates.server.cert,
        AION_GATEWAY_GRPC_TLS_KEY_FILE: certificates.server.key,
        AION_GATEWAY_GRPC_TLS_CLIENT_CA_FILE: certificates.ca.cert,
      },
    ],
  });
  const [plain, mutualTls] = platform.gateways as [ServiceProcess, ServiceProcess];
  gatewayHttp = `http://127.0.0.1:${plain.httpPort}`;
  tlsPort = mutualTls.grpcPort;
  client = connectAionTasks(plain.grpcPort, grpc.credentials.createInsecure());
  const newKey = async (role: string) => {
    const created = await httpCall(gatewayHttp, 'POST', '/api/v1/auth/keys', {
      key: BOOTSTRAP,
      body: { name: uniqueName(role), role },
    });
    return created.json['key'] as string;
  };
  developer = await newKey('developer');
  observer = await newKey('observer');
  otherTenant = await idp.sign({
    subject: 'mallory',
    tenantId: uniqueName('other'),
    roles: ['developer'],
  });
}, 240_000);

afterAll(async () => {
  client?.close();
  await platform?.stop();
  await slowLlm?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the public gRPC API, called by a client built from the blueprint proto', () => {
  it('runs a summarize task: Submit, StatusById, the canonical result JSON', async () => {
    const taskId = uniqueName('grpc-sum');
    const submitted = await unary(
      client,
      'Submit',
      summarize({ task_id: taskId }),
      withKey(developer),
    );
    expect(submitted).toMatchObject({
      schema_version: '1.0',
      task_id: taskId,
      intent: 'summarize',
    });
    expect(['QUEUED', 'ROUTED', 'RUNNING', 'OK']).toContain(submitted.status);
    const done = await finished(taskId);
    expect(done).toMatchObject({
      status: 'OK',
      engine: { route: 'local', chosen_by: 'ai-router' },
      error: null,
    });
    expect(done.engine!.reason).toMatch(/local tier first/);
    expect(Number(done.usage!.latency_ms)).toBeGreaterThanOrEqual(0);
    expect(Number(done.usage!.tokens)).toBeGreaterThan(0);
    expect(done.usage!.cost_usd).toBe(0);
    const json = JSON.parse(done.result_json) as Record<string, unknown> & {
      result: { summary: string };
    };
    expect(json).toMatchObject({
      schema_version: '1.0',
      task_id: taskId,
      intent: 'summarize',
      status: 'OK',
      engine: { route: 'local', name: 'local-summarize', chosen_by: 'ai-router' },
      usage: { latency_ms: Number(done.usage!.latency_ms), tokens: Number(done.usage!.tokens) },
      error: null,
    });
    // max_sentences came as the string "2" and was taken as the number 2.
    expect(json.result.summary.split(/(?<=\.)\s+/).length).toBeLessThanOrEqual(2);
    // The same document REST serves.
    const rest = await httpCall(gatewayHttp, 'GET', `/v1/tasks/${taskId}`, { key: developer });
    expect(rest.json).toEqual(json);
    // Submit is idempotent by task_id; a bearer API key works like x-api-key.
    const again = await unary(
      client,
      'Submit',
      summarize({ task_id: taskId }),
      metadataOf({ authorization: `Bearer ${developer}` }),
    );
    expect(again).toMatchObject({ task_id: taskId, status: 'OK' });
  });

  it('streams a task it submits until it ends, and an existing one by id', async () => {
    const taskId = uniqueName('grpc-stream');
    const results = await streamAll(summarize({ task_id: taskId }), withKey(developer));
    expect(results.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.task_id === taskId)).toBe(true);
    const last = results[results.length - 1]!;
    expect(last).toMatchObject({ status: 'OK', engine: { route: 'local' } });
    expect(JSON.parse(last.result_json)).toMatchObject({ status: 'OK', result: {} });
    // A finished task streams as its one final snapshot, to its submitter.
    const again = await streamAll({ task_id: taskId }, withKey(developer));
    expect(again.map((r) => r.status)).toEqual(['OK']);
    // Another caller of the tenant without operations:manage does not see it at all.
    await expect(streamAll({ task_id: taskId }, withKey(observer))).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });

  it('cancels a running task; its stream ends CANCELED, and a finished task cannot be', async () => {
    const taskId = uniqueName('grpc-cancel');
    let canceled: Promise<TaskResult> | undefined;
    const request = summarize({
      task_id: taskId,
      preferred_engine: 'slow-summarize',
      sla: { privacy: 'allow-api', budget_usd: 0, p95_ms: 0 },
    });
    const results = await streamAll(request, withKey(developer), (r) => {
      if (r.status === 'RUNNING' && !canceled)
        canceled = unary(client, 'Cancel', { task_id: taskId }, withKey(developer));
    });
    expect(await canceled).toMatchObject({ task_id: taskId, status: 'CANCELED' });
    expect(results.map((r) => r.status)).toContain('RUNNING');
    const last = results[results.length - 1]!;
    expect(last).toMatchObject({
      status: 'CANCELED',
      engine: { route: 'api' },
      error: { code: 'task.canceled' },
    });
    expect(JSON.parse(last.result_json)).toMatchObject({
      engine: { route: 'api', name: 'slow-summarize' },
    });
    expect(
      await failure(unary(client, 'Cancel', { task_id: taskId }, withKey(developer))),
    ).toMatchObject({ code: grpc.status.ABORTED, envelope: { errorCode: 'state.conflict' } });
    expect(
      await failure(unary(client, 'Cancel', { task_id: taskId }, withKey(observer))),
    ).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  it('refuses callers without a credential, the permission, or the tenant', async () => {
    expect(await failure(unary(client, 'Submit', summarize(), new grpc.Metadata()))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      envelope: { errorCode: 'auth.unauthenticated' },
    });
    expect(
      await failure(
        unary(client, 'Submit', summarize(), withKey(`aion_000000000000_${'x'.repeat(43)}`)),
      ),
    ).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(await failure(unary(client, 'Submit', summarize(), withKey(observer)))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      envelope: {
        errorCode: 'auth.forbidden',
        message: 'this requires the tasks:submit permission',
      },
    });
    // Stream submits when the request has an intent: that needs tasks:submit too.
    expect(await failure(streamAll(summarize(), withKey(observer)))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    // Another tenant's task does not exist for a caller, whether by API key or JWT.
    const taskId = uniqueName('grpc-mine');
    await unary(client, 'Submit', summarize({ task_id: taskId }), withKey(developer));
    const asOther = metadataOf({ authorization: `Bearer ${otherTenant}` });
    expect(await failure(unary(client, 'StatusById', { task_id: taskId }, asOther))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      envelope: { errorCode: 'resource.not_found' },
    });
    expect(await failure(streamAll({ task_id: taskId }, asOther))).toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    expect(await failure(unary(client, 'Cancel', { task_id: taskId }, asOther))).toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    // The same id is a different task in the other tenant.
    const theirs = await unary(client, 'Submit', summarize({ task_id: taskId }), asOther);
    expect(theirs).toMatchObject({ task_id: taskId });
  });

  it('answers bad input with INVALID_ARGUMENT listing every problem', async () => {
    const bad = await failure(
      unary(
        client,
        'Submit',
        {
          task_id: 'not a valid id',
          intent: 'summarize',
          params: { max_sentences: 'two' },
          priority: 'urgent',
          sla: { privacy: 'anywhere', budget_usd: -1, p95_ms: 0 },
        },
        withKey(developer),
      ),
    );
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.envelope?.errorCode).toBe('validation.invalid_argument');
    expect(bad.envelope?.details.map((d) => d.field).sort()).toEqual([
      'params.max_sentences',
      'params.text',
      'priority',
      'sla.budget_usd',
      'sla.privacy',
      'task_id',
    ]);
    expect(
      await failure(unary(client, 'StatusById', { task_id: '../../etc' }, withKey(developer))),
    ).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      envelope: { details: [{ field: 'task_id' }] },
    });
    expect(
      await failure(
        unary(client, 'StatusById', { task_id: uniqueName('nope') }, withKey(developer)),
      ),
    ).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(
      await failure(
        unary(
          client,
          'Submit',
          summarize({ params: { text: 'x'.repeat(2 * 1024 * 1024) } }),
          withKey(developer),
        ),
      ),
    ).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      envelope: { errorCode: 'validation.payload_too_large' },
    });
  });

  it('serves mutual TLS when configured: only clients with a certificate of the CA get in', async () => {
    const ca = readFileSync(certificates.ca.cert);
    const options = { 'grpc.ssl_target_name_override': 'localhost' };
    const connect = (creds: grpc.ChannelCredentials) => connectAionTasks(tlsPort, creds, options);
    const mutual = connect(
      grpc.credentials.createSsl(
        ca,
        readFileSync(certificates.client.key),
        readFileSync(certificates.client.cert),
      ),
    );
    const taskId = uniqueName('grpc-tls');
    await expect(
      unary(mutual, 'Submit', summarize({ task_id: taskId }), withKey(developer)),
    ).resolves.toMatchObject({ task_id: taskId });
    // TLS is the transport; the API key is still what authenticates.
    expect(
      await failure(unary(mutual, 'StatusById', { task_id: taskId }, new grpc.Metadata())),
    ).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    for (const creds of [grpc.credentials.createSsl(ca), grpc.credentials.createInsecure()]) {
      const refused = connect(creds);
      const metadata = withKey(developer);
      expect(
        (await failure(unary(refused, 'StatusById', { task_id: taskId }, metadata))).code,
      ).toBe(grpc.status.UNAVAILABLE);
      refused.close();
    }
    mutual.close();
  });
});
