import {
  derivedTaskId,
  idempotencyScope,
  repeatOf,
  TASK_ID_NAMESPACE,
  uuidV5,
  type IdempotencyRecord,
} from './idempotency';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidV5', () => {
  it('matches RFC 9562 (the DNS namespace example, as Python and the uuid package compute it)', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => uuidV5('not-a-uuid', 'x')).toThrow(/not a UUID/);
  });
});

describe('idempotencyScope', () => {
  const scope = (tenant = 'acme', subject = 'key:1', path = '/v1/tasks', key = 'k-1') =>
    idempotencyScope(tenant, subject, 'POST', path, key);

  it('derives the same task id on every call (every replica, every restart)', () => {
    expect(scope().taskId).toMatch(UUID_V5);
    expect(scope()).toEqual(scope());
    // Pinned: a change here would make retries across an upgrade start second tasks.
    expect(scope().taskId).toBe('c999d8ba-53fa-5976-9b7b-a903d8be33dd');
    expect(scope().taskId).toBe(uuidV5(TASK_ID_NAMESPACE, 'acme\nkey:1\nPOST /v1/tasks\nk-1'));
  });

  it('gives another tenant, principal, route or key its own task and record', () => {
    const base = scope();
    for (const other of [
      scope('globex'),
      scope('acme', 'key:2'),
      scope('acme', 'key:1', '/v1/chat/completions'),
      scope('acme', 'key:1', '/v1/tasks', 'k-2'),
    ]) {
      expect(other.taskId).not.toBe(base.taskId);
      // A record is found by tenant and key hash together.
      expect([other.tenantId, other.keyHash]).not.toEqual([base.tenantId, base.keyHash]);
    }
  });

  it('cannot be confused by moving text between the parts', () => {
    // Newlines separate the parts; a key (visible ASCII) cannot contain one.
    expect(derivedTaskId('ac', 'me\nkey:1')).not.toBe(derivedTaskId('acme', 'key:1'));
    expect(scope('acme', 'key:1', '/v1/tasks', 'k').taskId).not.toBe(
      scope('acme', 'key:1', '/v1/task', 'sk').taskId,
    );
  });
});

describe('repeatOf', () => {
  const record = (over: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
    requestHash: 'h',
    leased: true,
    ...over,
  });
  const answered = { status: 202, body: { task_id: 't' }, headers: {} };

  it('refuses another payload under the same key, whatever the record holds', () => {
    expect(repeatOf(record(), 'other', true)).toBe('reused');
    expect(repeatOf(record({ response: answered }), 'other', false)).toBe('reused');
  });

  it('replays a stored answer', () => {
    expect(repeatOf(record({ response: answered }), 'h', true)).toBe('replay');
    expect(repeatOf(record({ response: answered, leased: false }), 'h', false)).toBe('replay');
  });

  it('submits a task route again when there is no answer: after a 5xx, a crash, or meanwhile', () => {
    expect(repeatOf(record({ leased: true }), 'h', true)).toBe('resubmit');
    expect(repeatOf(record({ leased: false }), 'h', true)).toBe('resubmit');
  });

  it('lets other routes wait for a running first request, and take over an abandoned one', () => {
    expect(repeatOf(record({ leased: true }), 'h', false)).toBe('in_progress');
    expect(repeatOf(record({ leased: false }), 'h', false)).toBe('retake');
  });
});
