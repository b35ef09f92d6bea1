-- The central bank's double-entry ledger. Every movement is two or more entries that sum to
-- zero (checked at commit by a deferred constraint trigger). Accounts:
--   external          money entering or leaving the reserve system (funding, withdrawals)
--   reserve:<bank>    the bank's free reserve balance at the central bank
--   backing:<bank>    reserve set aside to back the e-CNY the bank holds (reserve ratio)
--   issued:<bank>     e-CNY issued to the bank and not redeemed (positive)
--   issuance          the contra account of all e-CNY outstanding (negative)
ALTER TABLE issuer.bank
  ADD COLUMN quota_minor bigint CHECK (quota_minor IS NULL OR quota_minor >= 0);

CREATE TABLE issuer.movement (
  movement_id bigserial PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('deposit', 'withdraw', 'mint', 'redeem')),
  request_id  text NOT NULL UNIQUE CHECK (length(request_id) BETWEEN 1 AND 140),
  bank_id     text NOT NULL REFERENCES issuer.bank (bank_id),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  tx_id       bytea CHECK (tx_id IS NULL OR length(tx_id) = 32),  -- mint and redeem
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE issuer.entry (
  entry_id     bigserial PRIMARY KEY,
  movement_id  bigint NOT NULL REFERENCES issuer.movement (movement_id),
  account      text NOT NULL CHECK (account ~ '^(external|issuance|(reserve|backing|issued):[a-z0-9][a-z0-9_.-]{0,63})$'),
  amount_minor bigint NOT NULL CHECK (amount_minor <> 0)
);
CREATE INDEX entry_account ON issuer.entry (account);

CREATE FUNCTION issuer.check_movement_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT coalesce(sum(amount_minor), 0) FROM issuer.entry
      WHERE movement_id = NEW.movement_id) <> 0 THEN
    RAISE EXCEPTION 'movement % does not balance', NEW.movement_id;
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER entry_balances AFTER INSERT OR UPDATE ON issuer.entry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION issuer.check_movement_balances();
