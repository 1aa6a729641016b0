-- A budget step's reads in one statement (applyBudgetSteps, adapters/db/budget-writes.ts): the
-- tenant's budget lock first, then the reservations and budget rows the steps touch, read under
-- it. PL/pgSQL runs its statements in order, which a single SELECT does not promise. Invoker's
-- rights: row-level security and the transaction's tenant bind as for any other statement.
CREATE FUNCTION orc_budget_state(p_tenant text, p_ids text[], p_scopes text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('aion-budget/' || p_tenant));
  RETURN jsonb_build_object(
    'reservations', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
        'request_id', request_id, 'project_id', project_id, 'amount_usd', amount_usd::text,
        'committed_usd', committed_usd::text, 'status', status))
      FROM orc_budget_reservations
      WHERE tenant_id = p_tenant AND request_id = ANY (p_ids)), '[]'::jsonb),
    'budgets', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
        'project_id', project_id, 'limit_usd', limit_usd::text,
        'reserved_usd', reserved_usd::text, 'committed_usd', committed_usd::text))
      FROM orc_budgets
      WHERE tenant_id = p_tenant AND (project_id = ANY (p_scopes) OR project_id IN (
        SELECT r.project_id FROM orc_budget_reservations r
        WHERE r.tenant_id = p_tenant AND r.request_id = ANY (p_ids)))), '[]'::jsonb));
END
$$;
