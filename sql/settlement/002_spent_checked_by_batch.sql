-- A spent token must exist: the batch statement that records spending checks it (an index
-- lookup per input, refusing the whole batch if one is missing) instead of a foreign key. The
-- foreign key's per-row check also locked the token's row, which writes that row's heap page:
-- one more page written, and logged, per input (10% of the machine's CPU in bench/settle). The
-- engine commits a batch only after the batches that write its inputs have committed, so the
-- check sees them. Tokens are never deleted, so the check needs no lock.
ALTER TABLE settlement.spent DROP CONSTRAINT spent_token_id_fkey;
