-- The token registry of one settlement shard. The ledger's invariants are restated as
-- constraints: positive amounts, known currencies, each token spent at most once (the primary
-- key of settlement.spent) and only a token that exists (its foreign key). Spending inserts a
-- row rather than updating one, so a batch commit is inserts only. created_by and spent_by name
-- transactions written in the same database transaction as the row; they carry no foreign key
-- because the per-row check cost a third of the commit time in bench/settle (docs/benchmarks.md).
CREATE TABLE settlement.tx (
  tx_id             bytea PRIMARY KEY CHECK (length(tx_id) = 32),
  kind              smallint NOT NULL CHECK (kind IN (1, 2, 3)),  -- issue, transfer, redeem
  signed_tx         bytea NOT NULL,    -- wire SignedTx: canonical body and signatures
  batch_seq         bigint NOT NULL CHECK (batch_seq > 0),
  client_request_id text NOT NULL DEFAULT '',
  settled_at        timestamptz NOT NULL
);

CREATE TABLE settlement.token (
  token_id     bytea PRIMARY KEY CHECK (length(token_id) = 32),
  created_by   bytea NOT NULL,
  idx          integer NOT NULL CHECK (idx >= 0),
  currency     char(3) NOT NULL CHECK (currency IN ('CNY', 'HKD', 'THB', 'AED', 'SAR', 'USD')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  owner_key    bytea NOT NULL CHECK (length(owner_key) > 1)
);
CREATE INDEX token_owner ON settlement.token (owner_key);

CREATE TABLE settlement.spent (
  token_id bytea PRIMARY KEY REFERENCES settlement.token (token_id),
  spent_by bytea NOT NULL
);

-- Issued and redeemed totals per currency, updated in the same transaction as each batch.
CREATE TABLE settlement.supply (
  currency       char(3) PRIMARY KEY,
  issued_minor   bigint NOT NULL DEFAULT 0 CHECK (issued_minor >= 0),
  redeemed_minor bigint NOT NULL DEFAULT 0 CHECK (redeemed_minor >= 0),
  CHECK (redeemed_minor <= issued_minor)
);
