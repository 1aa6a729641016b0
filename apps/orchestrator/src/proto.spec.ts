import { DataClassification, TaskStatus } from '@aion/contracts';
import {
  CLASSIFICATION_BY_PROTO,
  PROTO_CLASSIFICATION,
  PROTO_STATUS,
  STATUS_BY_PROTO,
} from './proto';

describe('domain <-> wire enums, read off the descriptors', () => {
  it('maps every task status both ways, and nothing to UNSPECIFIED', () => {
    expect(PROTO_STATUS).toEqual({
      QUEUED: TaskStatus.QUEUED,
      ROUTED: TaskStatus.ROUTED,
      RUNNING: TaskStatus.RUNNING,
      OK: TaskStatus.OK,
      ERROR: TaskStatus.ERROR,
      TIMEOUT: TaskStatus.TIMEOUT,
      CANCELED: TaskStatus.CANCELED,
    });
    for (const [name, number] of Object.entries(PROTO_STATUS))
      expect(STATUS_BY_PROTO[number]).toBe(name);
    expect(STATUS_BY_PROTO[TaskStatus.UNSPECIFIED]).toBeUndefined();
  });

  it('maps every classification both ways', () => {
    expect(PROTO_CLASSIFICATION).toEqual({
      none: DataClassification.NONE,
      pii: DataClassification.PII,
      financial: DataClassification.FINANCIAL,
      health: DataClassification.HEALTH,
      biometric: DataClassification.BIOMETRIC,
    });
    expect(CLASSIFICATION_BY_PROTO[DataClassification.HEALTH]).toBe('health');
    expect(CLASSIFICATION_BY_PROTO[DataClassification.UNSPECIFIED]).toBeUndefined();
  });
});
