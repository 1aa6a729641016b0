-- Budget arithmetic and task writes inside PostgreSQL (issue 14): a task's start and its finish
-- are each one statement, one round trip, whatever their budget step and events.
-- Invoker's rights throughout: row-level security binds every statement to the tenant each
-- function sets for its own transaction.

-- One budget step against the reservation as it stands and the tenant's totals, applied at once.
-- The caller holds the tenant's budget lock (orc_budget_apply, orc_write_tasks). Answers
-- {reservation, remaining} when applied (or when there was nothing to do), {error} when refused.
CREATE FUNCTION orc_budget_step(p_tenant text, p_step jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_id text := p_step->>'request_id';
  v_kind text := p_step->>'kind';
  v_row orc_budget_reservations%ROWTYPE;
  v_project text;
  v_amount numeric;
  v_delta numeric;
  v_actual numeric;
  v_done text;
  v_budget orc_budgets%ROWTYPE;
BEGIN
  SELECT * INTO v_row FROM orc_budget_reservations
    WHERE tenant_id = p_tenant AND request_id = v_id;
  IF v_kind = 'reserve' THEN
    v_project := coalesce(p_step->>'project_id', '');
    v_amount := round((p_step->>'amount_usd')::numeric, 8);
    IF FOUND AND (v_row.status <> 'RESERVED' OR v_row.amount_usd >= v_amount) THEN
      RETURN orc_budget_outcome(p_tenant, v_row);
    END IF;
    IF FOUND AND v_row.project_id <> v_project THEN
      RETURN jsonb_build_object('error', jsonb_build_object('code', 'state.conflict',
        'message', format('reservation %s belongs to another project', v_id)));
    END IF;
    v_delta := v_amount - coalesce(v_row.amount_usd, 0);
    -- The tenant's row ('') and the project's: both limits apply.
    FOR v_budget IN SELECT * FROM orc_budgets
      WHERE tenant_id = p_tenant AND project_id IN ('', v_project) ORDER BY project_id
    LOOP
      IF v_budget.reserved_usd + v_budget.committed_usd + v_delta > v_budget.limit_usd THEN
        RETURN jsonb_build_object('error', jsonb_build_object('code', 'budget.exceeded',
          'message', format('%s budget exceeded: $%s left of $%s, $%s requested',
            CASE WHEN v_budget.project_id = '' THEN 'tenant'
              ELSE 'project ' || v_budget.project_id END,
            round(greatest(0, v_budget.limit_usd - v_budget.reserved_usd - v_budget.committed_usd), 6),
            trim_scale(v_budget.limit_usd),
            round((p_step->>'amount_usd')::numeric, 6))));
      END IF;
    END LOOP;
    UPDATE orc_budgets SET reserved_usd = reserved_usd + v_delta, updated_at = now()
      WHERE tenant_id = p_tenant AND project_id IN ('', v_project);
    INSERT INTO orc_budget_reservations AS r
        (tenant_id, request_id, project_id, amount_usd, committed_usd, status)
      VALUES (p_tenant, v_id, v_project, v_amount, NULL, 'RESERVED')
      ON CONFLICT (tenant_id, request_id) DO UPDATE SET
        amount_usd = excluded.amount_usd, committed_usd = NULL, status = 'RESERVED',
        updated_at = now()
      RETURNING * INTO v_row;
    RETURN orc_budget_outcome(p_tenant, v_row);
  END IF;

  IF NOT FOUND THEN
    RETURN jsonb_build_object('error', jsonb_build_object('code', 'resource.not_found',
      'message', format('reservation %s was not found', v_id)));
  END IF;
  v_done := CASE v_kind WHEN 'commit' THEN 'COMMITTED' ELSE 'RELEASED' END;
  IF v_row.status = v_done THEN
    RETURN orc_budget_outcome(p_tenant, v_row);
  END IF;
  IF v_row.status <> 'RESERVED' THEN
    RETURN jsonb_build_object('error', jsonb_build_object('code', 'state.conflict',
      'message', format('reservation %s was %s and cannot be %s', v_id, lower(v_row.status),
        lower(v_done))));
  END IF;
  v_actual := CASE v_kind WHEN 'commit' THEN round((p_step->>'actual_usd')::numeric, 8) ELSE 0 END;
  UPDATE orc_budgets SET
      reserved_usd = greatest(0, reserved_usd - v_row.amount_usd),
      committed_usd = committed_usd + v_actual,
      updated_at = now()
    WHERE tenant_id = p_tenant AND project_id IN ('', v_row.project_id);
  UPDATE orc_budget_reservations SET
      committed_usd = CASE v_kind WHEN 'commit' THEN v_actual ELSE committed_usd END,
      status = v_done, updated_at = now()
    WHERE tenant_id = p_tenant AND request_id = v_id
    RETURNING * INTO v_row;
  RETURN orc_budget_outcome(p_tenant, v_row);
END
$$;
--> statement-breakpoint

-- An applied step's answer: the reservation, and what is left for its project now (the least of
-- the tenant's and the project's budgets; null when neither has a limit): the routing hint.
CREATE FUNCTION orc_budget_outcome(p_tenant text, p_row orc_budget_reservations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'reservation', jsonb_build_object(
      'request_id', p_row.request_id, 'project_id', p_row.project_id,
      'amount_usd', p_row.amount_usd::text, 'committed_usd', p_row.committed_usd::text,
      'status', p_row.status),
    'remaining', jsonb_build_object(
      'project_id', p_row.project_id,
      'usd', (SELECT min(limit_usd - reserved_usd - committed_usd)::text FROM orc_budgets
              WHERE tenant_id = p_tenant AND project_id IN ('', p_row.project_id))))
$$;
--> statement-breakpoint

-- Budget steps in order under the tenant's budget lock: every reservation, commit and release of
-- the tenant is decided on totals nobody else is changing, so concurrent transactions never
-- overspend and two replicas reserving one request id cannot both count it. A refused step is an
-- outcome; the others still apply.
CREATE FUNCTION orc_budget_apply(p_tenant text, p_steps jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_step jsonb;
  v_out jsonb := '[]'::jsonb;
BEGIN
  PERFORM set_config('aion.tenant_id', p_tenant, true);
  PERFORM pg_advisory_xact_lock(hashtext('aion-budget/' || p_tenant));
  FOR v_step IN SELECT value FROM jsonb_array_elements(p_steps) LOOP
    v_out := v_out || jsonb_build_array(orc_budget_step(p_tenant, v_step));
  END LOOP;
  RETURN v_out;
END
$$;
--> statement-breakpoint

-- A batch of task writes (at most one per task) as one statement: new tasks (those started on a
-- paid engine with their reservation; a refused one goes back to QUEUED), transitions (each only
-- from the state its writer saw, with its budget step: a refused reservation leaves the task as
-- it was), dead letters, stream events numbered after each task's last, usage ledger rows, and
-- the outbox rows whose guard holds: `created` (the task is new), `started` (new and RUNNING),
-- `moved` (its transition applied). Built by adapters/db/task-writes.ts, which documents the shape.
CREATE FUNCTION orc_write_tasks(p_tenant text, p_replica text, p_batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_created text[] := '{}';
  v_started text[] := '{}';
  v_moved text[] := '{}';
  v_creates jsonb := '[]'::jsonb;
  v_moves jsonb := '[]'::jsonb;
  v_appended jsonb;
  v_events jsonb;
  v_c record;
  v_m record;
  v_task record;
  v_outcome jsonb;
  v_problem jsonb;
  v_row jsonb;
BEGIN
  PERFORM set_config('aion.tenant_id', p_tenant, true);
  -- Locks in one order whatever the batch, so concurrent batches cannot deadlock: the moved
  -- tasks' rows, then their stream sequences, then (in the budget steps) the tenant's budget.
  PERFORM 1 FROM orc_tasks
    WHERE tenant_id = p_tenant AND id IN (SELECT m->>'id' FROM jsonb_array_elements(p_batch->'moves') m)
    ORDER BY id FOR UPDATE;
  PERFORM pg_advisory_xact_lock(hashtext(k)) FROM (
    SELECT DISTINCT p_tenant || '/' || (s->>'task_id') AS k
    FROM jsonb_array_elements(p_batch->'streams') s ORDER BY 1 OFFSET 0) locks;

  FOR v_c IN SELECT * FROM jsonb_to_recordset(p_batch->'creates') AS v(
      id text, project_id text, subject text, intent text, status text, engine_route text,
      engine_name text, chosen_by text, reason text, sovereignty jsonb, request jsonb,
      request_hash text, reserve_usd numeric)
  LOOP
    INSERT INTO orc_tasks (tenant_id, id, project_id, subject, intent, status, engine_route,
        engine_name, chosen_by, reason, sovereignty, request, request_hash, replica_id)
      VALUES (p_tenant, v_c.id, v_c.project_id, v_c.subject, v_c.intent, v_c.status,
        v_c.engine_route, v_c.engine_name, v_c.chosen_by, v_c.reason, v_c.sovereignty,
        v_c.request, v_c.request_hash, p_replica)
      ON CONFLICT DO NOTHING
      RETURNING to_jsonb(orc_tasks.*) - 'request' INTO v_row;
    IF NOT FOUND THEN
      -- Already there (a retried request): answered as it stands, request included.
      SELECT to_jsonb(t.*) INTO v_row FROM orc_tasks t WHERE t.tenant_id = p_tenant AND t.id = v_c.id;
      v_creates := v_creates || jsonb_build_array(jsonb_build_object('id', v_c.id, 'created', false, 'row', v_row));
      CONTINUE;
    END IF;
    v_created := v_created || v_c.id;
    v_outcome := NULL;
    IF v_c.reserve_usd IS NOT NULL THEN
      PERFORM pg_advisory_xact_lock(hashtext('aion-budget/' || p_tenant));
      v_outcome := orc_budget_step(p_tenant, jsonb_build_object('kind', 'reserve',
        'request_id', v_c.id, 'project_id', v_c.project_id, 'amount_usd', v_c.reserve_usd));
      IF v_outcome ? 'error' THEN
        -- Refused: the task takes the ordinary route from QUEUED.
        UPDATE orc_tasks t SET status = 'QUEUED', engine_route = NULL, engine_name = NULL,
            chosen_by = NULL, reason = NULL, sovereignty = NULL
          WHERE t.tenant_id = p_tenant AND t.id = v_c.id
          RETURNING to_jsonb(t.*) - 'request' INTO v_row;
      END IF;
    END IF;
    IF v_row->>'status' = 'RUNNING' THEN v_started := v_started || v_c.id; END IF;
    v_creates := v_creates || jsonb_build_array(jsonb_build_object('id', v_c.id, 'created', true,
      'row', v_row, 'remaining', v_outcome->'remaining'));
  END LOOP;

  FOR v_m IN SELECT * FROM jsonb_to_recordset(p_batch->'moves') AS v(
      id text, from_status text, to_status text, engine_route text, engine_name text,
      chosen_by text, reason text, set_result boolean, result jsonb, sovereignty jsonb,
      error jsonb, latency_ms integer, input_tokens integer, output_tokens integer,
      cost_usd numeric, budget jsonb, dead_letter_attempts integer)
  LOOP
    SELECT t.status, t.intent, t.request, EXISTS (
        SELECT 1 FROM orc_budget_reservations r
        WHERE r.tenant_id = p_tenant AND r.request_id = t.id AND r.status = 'RESERVED') AS reserved
      INTO v_task FROM orc_tasks t WHERE t.tenant_id = p_tenant AND t.id = v_m.id;
    IF NOT FOUND OR v_task.status <> v_m.from_status THEN
      -- Moved meanwhile (canceled, taken over): nothing happens, no budget step either.
      v_moves := v_moves || jsonb_build_array(jsonb_build_object('id', v_m.id));
      CONTINUE;
    END IF;
    v_outcome := NULL;
    v_problem := NULL;
    IF v_m.budget IS NOT NULL AND (v_m.budget->>'kind' <> 'release' OR v_task.reserved) THEN
      PERFORM pg_advisory_xact_lock(hashtext('aion-budget/' || p_tenant));
      v_outcome := orc_budget_step(p_tenant, v_m.budget || jsonb_build_object('request_id', v_m.id));
      IF v_outcome ? 'error' THEN
        IF v_m.budget->>'kind' = 'reserve' THEN
          v_moves := v_moves || jsonb_build_array(jsonb_build_object('id', v_m.id, 'refused', v_outcome->'error'));
          CONTINUE;
        END IF;
        -- The task moves (its result is recorded); only its reservation could not settle.
        v_problem := v_outcome->'error';
      END IF;
    END IF;
    UPDATE orc_tasks t SET
        status = v_m.to_status,
        updated_at = now(),
        replica_id = coalesce(p_replica, t.replica_id),
        engine_route = coalesce(v_m.engine_route, t.engine_route),
        engine_name = coalesce(v_m.engine_name, t.engine_name),
        chosen_by = coalesce(v_m.chosen_by, t.chosen_by),
        reason = coalesce(v_m.reason, t.reason),
        result = CASE WHEN v_m.set_result THEN v_m.result ELSE t.result END,
        sovereignty = coalesce(v_m.sovereignty, t.sovereignty),
        error = coalesce(v_m.error, t.error),
        latency_ms = coalesce(v_m.latency_ms, t.latency_ms),
        input_tokens = coalesce(v_m.input_tokens, t.input_tokens),
        output_tokens = coalesce(v_m.output_tokens, t.output_tokens),
        cost_usd = coalesce(v_m.cost_usd, t.cost_usd)
      WHERE t.tenant_id = p_tenant AND t.id = v_m.id
      RETURNING to_jsonb(t.*) - 'request' - 'result' INTO v_row;
    IF v_m.dead_letter_attempts IS NOT NULL AND v_row->'error' IS NOT NULL
        AND jsonb_typeof(v_row->'error') = 'object' THEN
      INSERT INTO orc_dead_letters (tenant_id, source, ref, subject, error_code, error_message,
          retry_count, payload)
        VALUES (p_tenant, 'task', v_m.id, v_task.intent, v_row->'error'->>'code',
          left(v_row->'error'->>'message', 4000), v_m.dead_letter_attempts, v_task.request)
        ON CONFLICT DO NOTHING;
    END IF;
    v_moved := v_moved || v_m.id;
    v_moves := v_moves || jsonb_build_array(jsonb_build_object('id', v_m.id,
      'row', v_row, 'remaining', v_outcome->'remaining', 'problem', v_problem));
  END LOOP;

  -- Stream events of the moves that applied, and plain appends, numbered after each task's last.
  WITH inserted AS (
    INSERT INTO orc_task_events (tenant_id, task_id, sequence, kind, data)
    SELECT p_tenant, s.task_id, coalesce(last.sequence, 0) + s.ord, s.kind, s.data
    FROM (
      SELECT v.task_id, v.kind, v.data,
        row_number() OVER (PARTITION BY v.task_id ORDER BY e.n) AS ord
      FROM jsonb_array_elements(p_batch->'streams') WITH ORDINALITY AS e(value, n),
        LATERAL jsonb_to_record(e.value) AS v(task_id text, kind text, data jsonb, guard text)
      WHERE v.guard IS NULL OR v.task_id = ANY (v_moved)
    ) s
    CROSS JOIN LATERAL (
      SELECT max(x.sequence) AS sequence FROM orc_task_events x
      WHERE x.tenant_id = p_tenant AND x.task_id = s.task_id) last
    RETURNING task_id, sequence, kind, data)
  SELECT coalesce(jsonb_agg(to_jsonb(inserted.*) ORDER BY task_id, sequence), '[]'::jsonb)
    INTO v_appended FROM inserted;

  INSERT INTO orc_usage_records (tenant_id, event_id, occurred_at, task_id, project_id, engine,
      model, input_tokens, output_tokens, cost_usd, latency_ms)
    SELECT p_tenant, v.event_id, v.occurred_at, v.task_id, v.project_id, v.engine, v.model,
      v.input_tokens, v.output_tokens, v.cost_usd, v.latency_ms
    FROM jsonb_to_recordset(p_batch->'ledger') AS v(event_id text, occurred_at timestamptz,
      task_id text, project_id text, engine text, model text, input_tokens bigint,
      output_tokens bigint, cost_usd numeric, latency_ms integer)
    WHERE v.task_id = ANY (v_moved)
    ON CONFLICT DO NOTHING;

  -- jsonb_to_recordset keeps the batch's order, so outbox seq does (per-task event order).
  WITH inserted AS (
    INSERT INTO orc_outbox (event_id, tenant_id, topic, key, event_type, value, headers)
    SELECT v.event_id, v.tenant_id, v.topic, v.key, v.event_type, decode(v.value, 'base64'), v.headers
    FROM jsonb_to_recordset(p_batch->'events') AS v(event_id uuid, tenant_id text, topic text,
      key text, event_type text, value text, headers text, task_id text, guard text)
    WHERE CASE v.guard
      WHEN 'created' THEN v.task_id = ANY (v_created)
      WHEN 'started' THEN v.task_id = ANY (v_started)
      ELSE v.task_id = ANY (v_moved) END
    RETURNING event_id)
  SELECT coalesce(jsonb_agg(event_id), '[]'::jsonb) INTO v_events FROM inserted;

  RETURN jsonb_build_object('creates', v_creates, 'moves', v_moves, 'appended', v_appended,
    'events', v_events);
END
$$;
--> statement-breakpoint
-- Several tenants' batches in one statement (a group commit across tenants), each scoped to its
-- tenant by orc_write_tasks. Tenants in one order (the caller sorts them), so that two such
-- statements take their locks in the same order and cannot deadlock.
CREATE FUNCTION orc_write_task_batches(p_replica text, p_batches jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_batch jsonb;
  v_out jsonb := '[]'::jsonb;
BEGIN
  FOR v_batch IN SELECT value FROM jsonb_array_elements(p_batches) LOOP
    v_out := v_out || jsonb_build_array(
      orc_write_tasks(v_batch->>'tenant', p_replica, v_batch->'batch'));
  END LOOP;
  RETURN v_out;
END
$$;
--> statement-breakpoint
-- Replaced by orc_budget_apply: the decision is now made where the totals are.
DROP FUNCTION orc_budget_state(text, text[], text[]);
