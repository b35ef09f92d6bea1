-- What the bank learned from settlement's notifications: the tokens its wallets received, and
-- which transaction spent them. Balances and history are answered from here.
CREATE TABLE bank.token_index (
  token_id     bytea PRIMARY KEY CHECK (length(token_id) = 32),
  wallet_id    text NOT NULL REFERENCES bank.wallet (wallet_id),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  created_by   bytea NOT NULL CHECK (length(created_by) = 32),
  received_at  timestamptz NOT NULL DEFAULT now(),
  spent_by     bytea CHECK (spent_by IS NULL OR length(spent_by) = 32),
  spent_at     timestamptz
);
CREATE INDEX token_index_wallet ON bank.token_index (wallet_id) WHERE spent_by IS NULL;
