-- Pay-outs from the vault to many wallets at once (FundMany), once per request id: the signed
-- transaction is recorded before it is sent, so a retry sends that very transaction again
-- (settlement answers already_settled) rather than paying a second time.
CREATE TABLE bank.payout (
  request_id text PRIMARY KEY CHECK (length(request_id) BETWEEN 1 AND 128),
  tx_id      bytea NOT NULL CHECK (length(tx_id) = 32),
  signed_tx  bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
