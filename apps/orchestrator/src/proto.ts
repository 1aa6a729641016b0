import type { DescEnum } from '@bufbuild/protobuf';
import {
  DataClassificationSchema,
  TaskStatusSchema,
  type DataClassification,
  type TaskStatus as ProtoTaskStatus,
} from '@aion/contracts';
import { CLASSIFICATIONS, type Classification } from './core/residency';
import { TASK_STATUSES, type TaskStatus } from './core/task-state';

/**
 * The orchestrator's domain words and the generated protobuf enums, mapped once (api/ and
 * adapters/ both speak them). The maps are read off the enums' own descriptors: a domain value
 * is the enum value whose short name it is (QUEUED -> TASK_STATUS_QUEUED, pii -> PII), so a
 * value added on one side and not the other fails at startup, not on the wire.
 */
function byShortName<D extends string, E extends number>(
  schema: DescEnum,
  domain: readonly D[],
): { toProto: Record<D, E>; fromProto: Partial<Record<number, D>> } {
  const numbers = new Map(schema.values.map((v) => [v.localName.toLowerCase(), v.number]));
  const toProto = {} as Record<D, E>;
  const fromProto: Partial<Record<number, D>> = {};
  for (const name of domain) {
    const number = numbers.get(name.toLowerCase());
    if (number === undefined) throw new Error(`${schema.typeName} has no value for ${name}`);
    toProto[name] = number as E;
    fromProto[number] = name;
  }
  return { toProto, fromProto };
}

const status = byShortName<TaskStatus, ProtoTaskStatus>(TaskStatusSchema, TASK_STATUSES);
/** Task status, domain -> wire. */
export const PROTO_STATUS = status.toProto;
/** Task status, wire -> domain (UNSPECIFIED has none). */
export const STATUS_BY_PROTO = status.fromProto;

const classification = byShortName<Classification, DataClassification>(
  DataClassificationSchema,
  CLASSIFICATIONS,
);
/** Data classification, domain -> wire. */
export const PROTO_CLASSIFICATION = classification.toProto;
/** Data classification, wire -> domain (UNSPECIFIED has none: callers choose its default). */
export const CLASSIFICATION_BY_PROTO = classification.fromProto;
