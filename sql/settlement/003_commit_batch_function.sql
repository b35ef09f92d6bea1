-- A batch is written by one call of this function: one round trip to the server instead of one
-- per statement (BEGIN, an insert per table, the supply, COMMIT). Called outside a transaction
-- block, its statement is its transaction, committed (and flushed) before the answer. Each
-- array holds one column; the statements run in order, so a spend sees the tokens inserted
-- before it in the same batch. A spend of a token not in settlement.token refuses the batch.
CREATE FUNCTION settlement.commit_batch(
  p_batch_seq bigint, p_settled_at_us bigint,
  p_tx_ids bytea[], p_kinds smallint[], p_wires bytea[], p_request_ids text[],
  p_token_ids bytea[], p_token_tx bytea[], p_token_idx integer[], p_token_cur text[],
  p_token_amount bigint[], p_token_owner bytea[],
  p_spent_ids bytea[], p_spent_by bytea[],
  p_supply_cur text[], p_supply_issued bigint[], p_supply_redeemed bigint[])
RETURNS void LANGUAGE plpgsql
-- Each statement is planned once per connection (generic plans, made while the tables may be
-- empty, their statistics stale); no plan may read a whole table. The cost that puts on a
-- plan must not start JIT compilation, which would take longer than the batch.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
  inserted bigint;
BEGIN
  INSERT INTO settlement.tx (tx_id, kind, signed_tx, batch_seq, client_request_id, settled_at)
  SELECT t.id, t.kind, t.w, p_batch_seq, t.crid,
         timestamptz 'epoch' + p_settled_at_us * interval '1 microsecond'
  FROM unnest(p_tx_ids, p_kinds, p_wires, p_request_ids) AS t(id, kind, w, crid);

  INSERT INTO settlement.token (token_id, created_by, idx, currency, amount_minor, owner_key)
  SELECT t.id, t.tx, t.idx, t.cur, t.amount, t.owner
  FROM unnest(p_token_ids, p_token_tx, p_token_idx, p_token_cur, p_token_amount, p_token_owner)
       AS t(id, tx, idx, cur, amount, owner);

  -- The lateral subquery with its LIMIT stays a probe of the token's index per input, whatever
  -- the statistics say (an EXISTS may be planned as a join that reads the whole table).
  INSERT INTO settlement.spent (token_id, spent_by)
  SELECT u.id, u.tx FROM unnest(p_spent_ids, p_spent_by) AS u(id, tx)
  CROSS JOIN LATERAL (SELECT 1 FROM settlement.token AS t WHERE t.token_id = u.id LIMIT 1) AS held;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  IF inserted <> coalesce(cardinality(p_spent_ids), 0) THEN
    RAISE EXCEPTION 'settlement.spent: % input(s) of the batch are not in settlement.token',
      coalesce(cardinality(p_spent_ids), 0) - inserted;
  END IF;

  -- A new currency's row starts at zero; the update then keeps redeemed <= issued checked.
  INSERT INTO settlement.supply (currency)
  SELECT c FROM unnest(p_supply_cur) AS c ON CONFLICT DO NOTHING;
  UPDATE settlement.supply AS s
  SET issued_minor = s.issued_minor + d.issued, redeemed_minor = s.redeemed_minor + d.redeemed
  FROM unnest(p_supply_cur, p_supply_issued, p_supply_redeemed) AS d(cur, issued, redeemed)
  WHERE s.currency = d.cur;
END;
$$;
