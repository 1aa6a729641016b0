import { AionError } from '@aion/errors';
import { isExpired, refuseWhileInUse } from './upload-retention';
import type { UploadJob } from './uploads';

const job = (id: string, status: UploadJob['status']): UploadJob => ({
  id,
  status,
  createdAt: new Date('2026-01-01T00:00:00Z'),
});

describe('upload retention', () => {
  it('counts an upload as expired from its expiry on, not a moment before', () => {
    const expires = new Date('2026-03-08T12:00:00Z');
    expect(isExpired({ expiresAt: expires }, new Date(expires.getTime() - 1))).toBe(false);
    expect(isExpired({ expiresAt: expires }, expires)).toBe(true);
  });

  it('refuses deleting an upload a pending or running job names, naming those jobs (409)', () => {
    let refusal: unknown;
    try {
      refuseWhileInUse({ id: 'u-1' }, [
        job('j-1', 'succeeded'),
        job('j-2', 'running'),
        job('j-3', 'pending'),
        job('j-4', 'failed'),
      ]);
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(AionError);
    expect(refusal).toMatchObject({
      code: 'state.upload_in_use',
      httpStatus: 409,
      details: [
        { field: 'jobs', reason: 'in_use', message: 'job j-2 is running' },
        { field: 'jobs', reason: 'in_use', message: 'job j-3 is pending' },
      ],
    });
  });

  it('lets an upload go whose jobs all finished, or that no job named', () => {
    expect(() =>
      refuseWhileInUse({ id: 'u-1' }, [job('j-1', 'succeeded'), job('j-2', 'canceled')]),
    ).not.toThrow();
    expect(() => refuseWhileInUse({ id: 'u-1' }, [])).not.toThrow();
  });
});
