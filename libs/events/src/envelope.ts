import { randomUUID } from 'node:crypto';
import {
  create,
  createRegistry,
  fromBinary,
  toBinary,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { anyPack, anyUnpack, timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { EventEnvelopeSchema, type EventEnvelope } from '@aion/contracts';
import { currentTenant } from '@aion/tenancy';
import { currentTraceparent } from '@aion/telemetry';
import {
  EVENT_CATALOG,
  isEventType,
  topicOf,
  type EventType,
  type PayloadSchemaOf,
} from './catalog';

const registry = createRegistry(...new Set(Object.values(EVENT_CATALOG).map((e) => e.schema)));

export interface NewEvent<T extends EventType> {
  type: T;
  payload: MessageInitShape<PayloadSchemaOf<T>>;
  /** Producing service, e.g. "aion/orchestrator". */
  source: string;
  /** Partition key: the aggregate id (task id, rule id ...), so its events stay ordered. */
  key: string;
  /** Defaults to the current tenant context. */
  tenantId?: string;
  /** Defaults to the current request id. */
  correlationId?: string;
}

/** What the bus publishes: one Kafka record. */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Uint8Array;
  headers: Record<string, string>;
}

export function createEvent<T extends EventType>(
  event: NewEvent<T>,
): { envelope: EventEnvelope; message: OutgoingMessage } {
  const tenant = currentTenant();
  const tenantId = event.tenantId ?? tenant?.tenantId ?? '';
  const schema = EVENT_CATALOG[event.type].schema as PayloadSchemaOf<T>;
  const envelope = create(EventEnvelopeSchema, {
    id: randomUUID(),
    type: event.type,
    source: event.source,
    time: timestampFromDate(new Date()),
    tenantId,
    correlationId: event.correlationId ?? tenant?.requestId ?? '',
    traceparent: currentTraceparent() ?? '',
    payload: anyPack(schema, create(schema, event.payload) as MessageShape<PayloadSchemaOf<T>>),
  });
  return { envelope, message: toMessage(envelope, topicOf(event.type), event.key) };
}

/** Headers duplicate the routing fields so tools can filter without decoding protobuf. */
export function toMessage(envelope: EventEnvelope, topic: string, key: string): OutgoingMessage {
  const headers: Record<string, string> = {
    'aion-event-id': envelope.id,
    'aion-event-type': envelope.type,
    'x-aion-tenant-id': envelope.tenantId,
    'content-type': 'application/x-protobuf; messageType=aion.v1.EventEnvelope',
  };
  if (envelope.traceparent) headers['traceparent'] = envelope.traceparent;
  if (envelope.correlationId) headers['x-request-id'] = envelope.correlationId;
  return { topic, key, value: toBinary(EventEnvelopeSchema, envelope), headers };
}

export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/** Decodes and checks a record's value; a malformed one is a poison message, not a crash. */
export function decodeEnvelope(value: Uint8Array | Buffer | null): EventEnvelope {
  if (!value || value.length === 0) throw new InvalidEventError('empty message');
  let envelope: EventEnvelope;
  try {
    envelope = fromBinary(EventEnvelopeSchema, value);
  } catch (err) {
    throw new InvalidEventError(
      `not an EventEnvelope: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!envelope.id) throw new InvalidEventError('envelope has no id');
  if (!isEventType(envelope.type))
    throw new InvalidEventError(`unknown event type ${JSON.stringify(envelope.type)}`);
  if (!envelope.payload) throw new InvalidEventError('envelope has no payload');
  return envelope;
}

/** The typed payload of an envelope, checked against the catalog's message for its type. */
export function payloadOf<T extends EventType>(
  envelope: EventEnvelope,
  type: T,
): MessageShape<PayloadSchemaOf<T>> {
  if (envelope.type !== type) throw new InvalidEventError(`expected ${type}, got ${envelope.type}`);
  const schema = EVENT_CATALOG[type].schema;
  const message = envelope.payload ? anyUnpack(envelope.payload, registry) : undefined;
  if (!message || message.$typeName !== schema.typeName) {
    throw new InvalidEventError(`payload of ${type} is not ${schema.typeName}`);
  }
  return message as MessageShape<PayloadSchemaOf<T>>;
}

export function eventTime(envelope: EventEnvelope): Date | undefined {
  return envelope.time ? timestampDate(envelope.time) : undefined;
}
