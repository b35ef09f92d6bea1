-- An operator bank's wallets and the payments it forwarded (for daily limits).
CREATE TABLE bank.wallet (
  wallet_id     text PRIMARY KEY CHECK (wallet_id ~ '^w[0-9a-f]{16}$'),
  owner_key     bytea NOT NULL UNIQUE CHECK (length(owner_key) > 1),
  kind          text NOT NULL CHECK (kind IN ('personal', 'merchant')),
  class         smallint NOT NULL CHECK (class BETWEEN 1 AND 4),
  parent_id     text REFERENCES bank.wallet (wallet_id),
  sub_cap_minor bigint CHECK (sub_cap_minor IS NULL OR sub_cap_minor >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (parent_id IS NOT NULL OR sub_cap_minor IS NULL)
);

CREATE TABLE bank.payment (
  tx_id        bytea PRIMARY KEY CHECK (length(tx_id) = 32),
  wallet_id    text NOT NULL REFERENCES bank.wallet (wallet_id),
  local_day    integer NOT NULL,  -- days since 1970-01-01 in the bank's zone
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_wallet_day ON bank.payment (wallet_id, local_day);
