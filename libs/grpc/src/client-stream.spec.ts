import { createHash } from 'node:crypto';
import { PipelineService } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { AionError } from '@aion/errors';
import { currentTenant, runWithTenant } from '@aion/tenancy';
import { createGrpcClient } from './client';
import { GrpcServer } from './server';

// Client-streaming calls (PipelineService.UploadSource is one) over the network and in-process:
// the handler reads the messages as they come, answers once; refusals and failures on either
// side reach the other as the same AionError.

const tokens = new InternalTokens('k'.repeat(40), 'test');
const unused = async () => {
  throw new AionError('validation.method_not_allowed', 'not used here');
};
const seen: { tenant?: string; chunks: number } = { chunks: 0 };

const server = new GrpcServer({ tokens, maxMessageBytes: 64 * 1024 });
server.add(
  PipelineService,
  {
    createJob: unused,
    getJob: unused,
    listJobs: unused,
    cancelJob: unused,
    profileDataset: unused,
    getQualityReport: unused,
    listDatasetVersions: unused,
    listUploads: unused,
    getUpload: unused,
    deleteUpload: unused,
    // eslint-disable-next-line require-yield -- a stream these tests never call
    watchJob: async function* () {
      await unused();
    },
    uploadSource: async (requests) => {
      seen.tenant = currentTenant()?.tenantId;
      seen.chunks = 0;
      const hash = createHash('sha256');
      let bytes = 0;
      let format = '';
      for await (const message of requests) {
        if (message.part.case === 'header') format = message.part.value.format;
        if (message.part.case !== 'chunk') continue;
        seen.chunks++;
        bytes += message.part.value.length;
        // Refuses early, before the caller sent everything.
        if (format === 'refuse' && bytes > 10)
          throw new AionError('validation.payload_too_large', 'too large');
        hash.update(message.part.value);
      }
      return { upload: { id: format, bytes: BigInt(bytes), sha256: hash.digest('hex') } };
    },
  },
  {
    createJob: 'tasks:submit',
    getJob: 'tasks:read',
    listJobs: 'tasks:read',
    cancelJob: 'tasks:cancel',
    profileDataset: 'tasks:read',
    getQualityReport: 'tasks:read',
    listDatasetVersions: 'tasks:read',
    uploadSource: 'tasks:submit',
    listUploads: 'tasks:read',
    getUpload: 'tasks:read',
    deleteUpload: 'tasks:submit',
    watchJob: 'tasks:read',
  },
);

let address: string;
beforeAll(async () => {
  address = `127.0.0.1:${await server.start('127.0.0.1', 0)}`;
});
afterAll(() => server.shutdown(1000));

const tenant = { tenantId: 'acme', subject: 'key:k', roles: ['developer'], requestId: 'r-1' };

async function* messages(format: string, chunks: number, sent: { n: number }, failAt = -1) {
  yield { part: { case: 'header' as const, value: { format, fileName: '', idempotencyKey: '' } } };
  for (let i = 0; i < chunks; i++) {
    if (i === failAt) throw new AionError('validation.payload_too_large', 'the caller stopped');
    sent.n++;
    yield { part: { case: 'chunk' as const, value: new Uint8Array(32 * 1024).fill(i % 256) } };
  }
}

describe.each([
  ['over gRPC', false],
  ['in-process (co-located)', true],
])('client-streaming calls %s', (_transport, inProcess) => {
  const client = () => createGrpcClient(PipelineService, address, { tokens, inProcess });

  it('delivers every message in order, in the caller tenant, and returns the one answer', async () => {
    const expected = createHash('sha256');
    for (let i = 0; i < 100; i++) expected.update(new Uint8Array(32 * 1024).fill(i % 256));
    const sent = { n: 0 };
    const answer = await runWithTenant(tenant, () =>
      client().uploadSource(messages('csv', 100, sent)),
    );
    expect(answer.upload).toMatchObject({
      id: 'csv',
      bytes: BigInt(100 * 32 * 1024),
      sha256: expected.digest('hex'),
    });
    expect(seen).toEqual({ tenant: 'acme', chunks: 100 });
  });

  it("stops sending once the server refused, and reports the server's error", async () => {
    const sent = { n: 0 };
    await expect(
      runWithTenant(tenant, () => client().uploadSource(messages('refuse', 10_000, sent))),
    ).rejects.toMatchObject({ code: 'validation.payload_too_large', httpStatus: 413 });
    // Flow control: far fewer than all 10,000 chunks were produced.
    expect(sent.n).toBeLessThan(10_000);
  });

  it("fails with the caller's own error when producing the messages fails", async () => {
    await expect(
      runWithTenant(tenant, () => client().uploadSource(messages('csv', 10, { n: 0 }, 3))),
    ).rejects.toThrow('the caller stopped');
  });

  it('refuses a caller without the permission', async () => {
    await expect(
      runWithTenant({ ...tenant, roles: ['observer'] }, () =>
        client().uploadSource(messages('csv', 1, { n: 0 })),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });
});
