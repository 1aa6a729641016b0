-- Custom SQL migration file, put your code below! --
-- Published outbox rows are marked (or deleted, where none are kept) by the next task write's own
-- statement instead of a transaction of their own every 200 ms (issue 14: that transaction was the
-- third round trip of a request). `p_published` is {"ids": [event ids], "remove": bool}, or null.
-- The marks come after the task writes, with the relay's cross-tenant view switched on only for
-- them; a mark that cannot apply (a row swept and deleted meanwhile) changes nothing.
CREATE FUNCTION orc_write_task_batches(p_replica text, p_batches jsonb, p_published jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_out jsonb := orc_write_task_batches(p_replica, p_batches);
  v_ids uuid[];
BEGIN
  IF p_published IS NULL OR jsonb_array_length(p_published->'ids') = 0 THEN
    RETURN v_out;
  END IF;
  v_ids := ARRAY(SELECT jsonb_array_elements_text(p_published->'ids'))::uuid[];
  PERFORM set_config('aion.outbox_relay', 'on', true);
  IF (p_published->>'remove')::boolean THEN
    DELETE FROM orc_outbox WHERE event_id = ANY (v_ids);
  ELSE
    UPDATE orc_outbox SET published_at = now(), attempts = attempts + 1
      WHERE event_id = ANY (v_ids) AND published_at IS NULL;
  END IF;
  PERFORM set_config('aion.outbox_relay', '', true);
  RETURN v_out;
END
$$;
