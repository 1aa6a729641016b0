// Upload retention: when an upload expires and what keeps it (the sweep: upload-sweeper.ts).
import { AionError } from '@aion/errors';
import type { JobStatus } from './model';

/** Jobs that still need an upload's bytes: a pending one reads them yet, a running one may again. */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['pending', 'running'];

/** An upload a pending or running job names cannot be deleted: 409 naming those jobs. */
export function refuseWhileInUse(
  upload: { id: string },
  jobs: readonly { id: string; status: JobStatus }[],
): void {
  const active = jobs.filter((j) => ACTIVE_JOB_STATUSES.includes(j.status));
  if (active.length === 0) return;
  throw new AionError(
    'state.upload_in_use',
    `upload ${upload.id} is the source of ${active.length} pending or running job(s); cancel them or wait until they finish`,
    {
      details: active.map((j) => ({
        field: 'jobs',
        reason: 'in_use',
        message: `job ${j.id} is ${j.status}`,
      })),
    },
  );
}

/** An upload whose expiry has passed is no source for a new job (one already queued still reads it). */
export const isExpired = (upload: { expiresAt: Date }, now: Date) =>
  upload.expiresAt.getTime() <= now.getTime();
