import {
  Client,
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServiceError,
} from '@grpc/grpc-js';
import { retryAfterFor } from './aion-error';
import { ERROR_TRAILER, errorEnvelopeInterceptor, fromGrpcError } from './grpc';

/** A raw grpc-js handler (no Aion wrapper) that fails with internal text in its status. */
describe('errorEnvelopeInterceptor', () => {
  const server = new Server({ interceptors: [errorEnvelopeInterceptor] });
  let client: Client;
  const passthrough = (b: Buffer) => b;

  beforeAll(async () => {
    server.addService(
      {
        Leak: {
          path: '/test.Raw/Leak',
          requestStream: false,
          responseStream: false,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
        Missing: {
          path: '/test.Raw/Missing',
          requestStream: false,
          responseStream: false,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
        Away: {
          path: '/test.Raw/Away',
          requestStream: false,
          responseStream: false,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
        Ok: {
          path: '/test.Raw/Ok',
          requestStream: false,
          responseStream: false,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
      },
      {
        Leak: (_call: unknown, callback: (err: Partial<ServiceError>) => void) =>
          callback({
            code: GrpcStatus.INTERNAL,
            details: 'relation "secrets" does not exist: SELECT password FROM secrets',
          }),
        Missing: (_call: unknown, callback: (err: Partial<ServiceError>) => void) =>
          callback({ code: GrpcStatus.NOT_FOUND, details: 'row 42 in table users' }),
        Away: (_call: unknown, callback: (err: Partial<ServiceError>) => void) =>
          callback({ code: GrpcStatus.UNAVAILABLE, details: 'connect ECONNREFUSED 10.1.1.1' }),
        Ok: (_call: unknown, callback: (err: null, value: Buffer) => void) =>
          callback(null, Buffer.from('fine')),
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const call = (method: string) =>
    new Promise<{ err: ServiceError | null; value?: Buffer }>((resolve) =>
      client.makeUnaryRequest(
        `/test.Raw/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from('x'),
        new Metadata(),
        (err, value) => resolve({ err, ...(value ? { value } : {}) }),
      ),
    );

  it('replaces internal text with a generic message and attaches the envelope trailer', async () => {
    const { err } = await call('Leak');
    expect(err?.code).toBe(GrpcStatus.INTERNAL);
    expect(err?.details).not.toMatch(/secrets|SELECT/);
    expect(err?.metadata.get(ERROR_TRAILER)).toHaveLength(1);
    expect(fromGrpcError(err!)).toMatchObject({
      code: 'internal.error',
      message: 'an internal error occurred',
    });
  });

  it('keeps the status family but not the text of other raw failures', async () => {
    const { err } = await call('Missing');
    expect(err?.code).toBe(GrpcStatus.NOT_FOUND);
    expect(err?.details).not.toContain('users');
    expect(fromGrpcError(err!).code).toBe('resource.not_found');
  });

  it('answers a raw UNAVAILABLE with the envelope and no internal text', async () => {
    const { err } = await call('Away');
    expect(err?.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err?.details).not.toMatch(/ECONNREFUSED/);
    expect(err?.metadata.get(ERROR_TRAILER)).toHaveLength(1);
    const error = fromGrpcError(err!);
    expect(error.code).toBe('service.unavailable');
    expect(retryAfterFor(error)).toBe(2);
  });

  it('gives a call to a server that is not there 503 (with Retry-After for clients)', async () => {
    const probe = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      probe.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    probe.forceShutdown();
    const dead = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const err = await new Promise<ServiceError | null>((resolve) =>
        dead.makeUnaryRequest(
          '/test.Raw/Ok',
          passthrough,
          passthrough,
          Buffer.from('x'),
          new Metadata(),
          { deadline: Date.now() + 5000 },
          (e) => resolve(e),
        ),
      );
      expect(err?.code).toBe(GrpcStatus.UNAVAILABLE);
      const error = fromGrpcError(err!);
      expect(error.httpStatus).toBe(503);
      expect(retryAfterFor(error)).toBe(2);
    } finally {
      dead.close();
    }
  });

  it('leaves successful calls alone', async () => {
    const { err, value } = await call('Ok');
    expect(err).toBeNull();
    expect(value?.toString()).toBe('fine');
  });
});
