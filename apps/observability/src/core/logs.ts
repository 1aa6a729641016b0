import { AionError } from '@aion/errors';

export interface LogLine {
  time: Date;
  labels: Record<string, string>;
  line: string;
}

/** Loki's query API, asked as one tenant (its X-Scope-OrgID): it holds no other tenant's lines. */
export interface LogsReader {
  query(
    tenantId: string,
    q: { query: string; start: Date; end: Date; limit: number },
  ): Promise<LogLine[]>;
}

export interface LogsQuery {
  query: string;
  start: Date;
  end: Date;
  limit: number;
}

const MAX_RANGE_MS = 30 * 86_400_000;

/**
 * LogQL for a tenant. Isolation is Loki's multi-tenancy: every request carries the caller's
 * tenant as X-Scope-OrgID, whatever the query says, so no query can read another tenant's lines.
 */
export class LogsQueryService {
  constructor(private readonly reader: LogsReader) {}

  async query(tenantId: string, q: LogsQuery): Promise<LogLine[]> {
    const problems: { field: string; message: string }[] = [];
    if (!q.query.trim()) problems.push({ field: 'query', message: 'is required' });
    else if (q.query.length > 5000)
      problems.push({ field: 'query', message: 'at most 5000 characters' });
    if (!(q.end > q.start)) problems.push({ field: 'end', message: 'after start' });
    else if (q.end.getTime() - q.start.getTime() > MAX_RANGE_MS)
      problems.push({ field: 'start', message: 'at most 30 days before end' });
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 5000)
      problems.push({ field: 'limit', message: 'from 1 to 5000' });
    if (problems.length)
      throw AionError.validation(
        `the log query is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
        problems,
      );
    if (!tenantId) throw new AionError('auth.forbidden', 'logs are read for a tenant');
    return this.reader.query(tenantId, q);
  }
}
