import {
  DataClassificationSchema,
  enumByShortName,
  TaskStatusSchema,
  type DataClassification,
  type TaskStatus as ProtoTaskStatus,
} from '@aion/contracts';
import { CLASSIFICATIONS, type Classification } from './core/residency';
import { TASK_STATUSES, type TaskStatus } from './core/task-state';

// The orchestrator's domain words and the generated protobuf enums, mapped once (api/ and
// adapters/ both speak them), off the enums' descriptors (enumByShortName).
const status = enumByShortName<TaskStatus, ProtoTaskStatus>(TaskStatusSchema, TASK_STATUSES);
/** Task status, domain -> wire. */
export const PROTO_STATUS = status.toProto;
/** Task status, wire -> domain (UNSPECIFIED has none). */
export const STATUS_BY_PROTO = status.fromProto;

const classification = enumByShortName<Classification, DataClassification>(
  DataClassificationSchema,
  CLASSIFICATIONS,
);
/** Data classification, domain -> wire. */
export const PROTO_CLASSIFICATION = classification.toProto;
/** Data classification, wire -> domain (UNSPECIFIED has none: callers choose its default). */
export const CLASSIFICATION_BY_PROTO = classification.fromProto;
