-- The token registry of one settlement shard. Restates the ledger invariants as constraints.
CREATE TABLE settlement.tx (
  tx_id             bytea PRIMARY KEY CHECK (length(tx_id) = 32),
  kind              smallint NOT NULL CHECK (kind IN (1, 2, 3)),  -- issue, transfer, redeem
  signed_tx         bytea NOT NULL,    -- wire SignedTx: canonical body and signatures
  batch_seq         bigint NOT NULL CHECK (batch_seq > 0),
  client_request_id text NOT NULL DEFAULT '',
  settled_at        timestamptz NOT NULL
);
CREATE INDEX tx_batch_seq ON settlement.tx (batch_seq);

CREATE TABLE settlement.token (
  token_id     bytea PRIMARY KEY CHECK (length(token_id) = 32),
  created_by   bytea NOT NULL REFERENCES settlement.tx (tx_id),
  idx          integer NOT NULL CHECK (idx >= 0),
  currency     char(3) NOT NULL CHECK (currency IN ('CNY', 'HKD', 'THB', 'AED', 'SAR', 'USD')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  owner_key    bytea NOT NULL CHECK (length(owner_key) > 1),
  -- A token is spent at most once: one column, set once (see the UPDATE in store.cpp).
  spent_by     bytea REFERENCES settlement.tx (tx_id),
  UNIQUE (created_by, idx)
);
CREATE INDEX token_unspent_owner ON settlement.token (owner_key) WHERE spent_by IS NULL;

-- Issued and redeemed totals per currency, updated in the same transaction as each batch.
CREATE TABLE settlement.supply (
  currency       char(3) PRIMARY KEY,
  issued_minor   bigint NOT NULL DEFAULT 0 CHECK (issued_minor >= 0),
  redeemed_minor bigint NOT NULL DEFAULT 0 CHECK (redeemed_minor >= 0),
  CHECK (redeemed_minor <= issued_minor)
);
