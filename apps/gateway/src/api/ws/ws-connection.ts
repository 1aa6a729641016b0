import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import * as z from 'zod/v4';
import type { PipelineService, TaskOrchestrator } from '@aion/contracts';
import { can, type Principal } from '@aion/auth';
import { AionError, retryAfterFor, toAionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import type { BucketLimit, TokenBucketStore } from '@aion/resilience';
import { runWithTenant } from '@aion/tenancy';
import type { Logger } from '@aion/telemetry';
import { jobEvent } from '../http/routes/pipeline-events';
import { sseEventName, streamEventJson } from '../tasks/task-json';
import { boundedSender } from './bounded-sender';

/** A job's subscription key: `/` never occurs in a task id, so the two never meet. */
const jobKey = (jobId: string) => `job/${jobId}`;

/** Close code for a credential that was revoked, expired or lost its permission. */
export const CLOSE_CREDENTIAL = 4001;
/** Close code for a connection older than the gateway allows: reconnect. */
export const CLOSE_TOO_OLD = 4002;

const ClientMessage = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('subscribe'),
    task_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
    after_sequence: z.int().min(0).optional(),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), task_id: z.string().max(128) }),
  z.strictObject({
    type: z.literal('subscribe_job'),
    job_id: z.uuid(),
    after_sequence: z.int().min(0).optional(),
  }),
  z.strictObject({ type: z.literal('unsubscribe_job'), job_id: z.string().max(128) }),
  z.strictObject({
    type: z.literal('ping'),
    id: z.union([z.string().max(64), z.number()]).optional(),
  }),
]);

export interface ConnectionOptions {
  tasks: ClientOf<typeof TaskOrchestrator>;
  /** Data-pipeline jobs' progress (subscribe_job). */
  pipeline: ClientOf<typeof PipelineService>;
  logger: Logger;
  maxBufferedBytes: number;
  maxSubscriptions: number;
  /** Every subscribe takes a token from the credential's bucket, as a request does. */
  buckets: TokenBucketStore;
  perKey: BucketLimit;
}

/** One authenticated WebSocket: its subscriptions, and a way to check its credential again. */
export class WsConnection {
  readonly id = randomUUID();
  private readonly subscriptions = new Map<string, AbortController>();
  private readonly send: (message: unknown) => boolean;
  private alive = true;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    private principal: Principal,
    /** Verifies the credential the socket opened with, again (revocation, expiry, role). */
    private readonly reverify: () => Promise<Principal>,
    private readonly options: ConnectionOptions,
  ) {
    this.send = boundedSender(ws, options.maxBufferedBytes, () =>
      options.logger.warn('closed a WebSocket client that reads too slowly', {
        connection: this.id,
      }),
    );
    this.heartbeat = setInterval(() => {
      if (!this.alive) return ws.terminate();
      this.alive = false;
      ws.ping();
    }, 30_000);
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (raw, isBinary) => void this.receive(raw.toString(), isBinary));
    ws.on('error', () => ws.terminate());
    this.send({ type: 'welcome', connection_id: this.id, tenant_id: principal.tenantId });
  }

  get tenantId(): string {
    return this.principal.tenantId;
  }

  /** Verifies the credential again; a refused one closes the socket with 4001. */
  async recheck(): Promise<boolean> {
    try {
      const principal = await this.reverify();
      if (!can(principal.roles, 'tasks:read'))
        throw AionError.forbidden('this requires the tasks:read permission');
      this.principal = principal;
      return true;
    } catch (err) {
      this.close(CLOSE_CREDENTIAL, toAionError(err).message);
      return false;
    }
  }

  close(code: number, reason: string): void {
    // Close reasons are at most 123 bytes.
    this.ws.close(code, Buffer.from(reason).subarray(0, 120).toString());
  }

  /** Called once the socket has closed: stops every subscription. */
  closed(): void {
    clearInterval(this.heartbeat);
    for (const controller of this.subscriptions.values()) controller.abort();
    this.subscriptions.clear();
  }

  private fail(error: AionError, taskId?: string, jobId?: string): void {
    this.send({
      type: 'error',
      ...(taskId ? { task_id: taskId } : {}),
      ...(jobId ? { job_id: jobId } : {}),
      ...(retryAfterFor(error) !== undefined ? { retry_after: retryAfterFor(error) } : {}),
      ...error.toEnvelope(this.id),
    });
  }

  private async receive(raw: string, isBinary: boolean): Promise<void> {
    let message: z.output<typeof ClientMessage>;
    try {
      if (isBinary) throw new Error('binary');
      const parsed = ClientMessage.safeParse(JSON.parse(raw));
      if (!parsed.success)
        return this.fail(
          AionError.validation(
            'message is invalid',
            parsed.error.issues.map((i) => ({
              field: i.path.join('.') || '(root)',
              message: i.message,
            })),
          ),
        );
      message = parsed.data;
    } catch {
      return this.fail(new AionError('validation.malformed_json', 'messages must be JSON text'));
    }
    if (message.type === 'ping')
      return void this.send({
        type: 'pong',
        ...(message.id !== undefined ? { id: message.id } : {}),
      });
    if (message.type === 'unsubscribe') {
      this.subscriptions.get(message.task_id)?.abort();
      this.subscriptions.delete(message.task_id);
      return void this.send({ type: 'unsubscribed', task_id: message.task_id });
    }
    if (message.type === 'unsubscribe_job') {
      this.subscriptions.get(jobKey(message.job_id))?.abort();
      this.subscriptions.delete(jobKey(message.job_id));
      return void this.send({ type: 'unsubscribed', job_id: message.job_id });
    }
    if (message.type === 'subscribe_job')
      return this.subscribeJob(message.job_id, message.after_sequence ?? 0);
    await this.subscribe(message.task_id, message.after_sequence ?? 0);
  }

  /**
   * Admits a subscription (under `key`): within the connection's bound, with the credential
   * still good, and paid for with a token as a request is; its controller, or undefined once
   * the refusal was sent.
   */
  private async admit(
    key: string,
    refused: (error: AionError) => void,
  ): Promise<AbortController | undefined> {
    if (this.subscriptions.size >= this.options.maxSubscriptions) {
      refused(
        new AionError(
          'rate_limit.exceeded',
          `at most ${this.options.maxSubscriptions} subscriptions per connection`,
        ),
      );
      return undefined;
    }
    if (!(await this.recheck())) return undefined;
    const { tenantId, keyId, subject } = this.principal;
    const budget = await this.options.buckets.take(
      `principal:${tenantId}:${keyId ?? subject}`,
      this.options.perKey,
    );
    if (!budget.allowed) {
      const seconds = Math.max(1, Math.ceil(budget.retryAfterMs / 1000));
      refused(
        new AionError('rate_limit.exceeded', `rate limit exceeded; retry in ${seconds} s`, {
          retryAfterSeconds: seconds,
        }),
      );
      return undefined;
    }
    const controller = new AbortController();
    this.subscriptions.set(key, controller);
    return controller;
  }

  private get context() {
    return {
      tenantId: this.principal.tenantId,
      subject: this.principal.subject,
      owner: this.principal.owner,
      roles: this.principal.roles,
      requestId: this.id,
    };
  }

  /** A data-pipeline job's progress: event progress per change, done at the end (as its SSE). */
  private async subscribeJob(jobId: string, after: number): Promise<void> {
    const key = jobKey(jobId);
    if (this.subscriptions.has(key)) return void this.send({ type: 'subscribed', job_id: jobId });
    const controller = await this.admit(key, (error) => this.fail(error, undefined, jobId));
    if (!controller) return;
    await runWithTenant(this.context, async () => {
      try {
        await this.options.pipeline.getJob({ id: jobId });
        this.send({ type: 'subscribed', job_id: jobId });
        for await (const message of this.options.pipeline.watchJob(
          { id: jobId, afterSequence: BigInt(after) },
          { deadlineMs: 3_600_000, signal: controller.signal },
        )) {
          if (!this.send({ type: 'event', job_id: jobId, ...jobEvent(message) })) {
            controller.abort();
            break;
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) this.fail(toAionError(err), undefined, jobId);
      } finally {
        this.subscriptions.delete(key);
      }
    });
  }

  private async subscribe(taskId: string, after: number): Promise<void> {
    if (this.subscriptions.has(taskId))
      return void this.send({ type: 'subscribed', task_id: taskId });
    // A subscribe is a request: the credential must still be good, and it costs a token.
    const controller = await this.admit(taskId, (error) => this.fail(error, taskId));
    if (!controller) return;
    await runWithTenant(this.context, async () => {
      try {
        await this.options.tasks.statusById({ taskId });
        this.send({ type: 'subscribed', task_id: taskId });
        for await (const event of this.options.tasks.stream(
          { taskId, afterSequence: BigInt(after) },
          { deadlineMs: 3_600_000, signal: controller.signal },
        )) {
          const sent = this.send({
            type: 'event',
            task_id: taskId,
            id: Number(event.sequence),
            event: sseEventName(event.kind),
            data: streamEventJson(event),
          });
          if (!sent) {
            controller.abort();
            break;
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) this.fail(toAionError(err), taskId);
      } finally {
        this.subscriptions.delete(taskId);
      }
    });
  }
}
