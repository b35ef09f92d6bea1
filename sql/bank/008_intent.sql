-- Payments the bank has checked and is about to send to settlement (its durable intent),
-- written before a payment leaves the bank and removed once its answer is recorded. After a
-- crash the bank sends each again: settlement settles it or answers already_settled (or its
-- refusal), so that every payment that moved money counts in its payer's day total.
CREATE TABLE bank.intent (
  tx_id        bytea PRIMARY KEY CHECK (length(tx_id) = 32),
  wallet_id    text NOT NULL,
  local_day    bigint NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  signed_tx    bytea NOT NULL,
  written_at   timestamptz NOT NULL DEFAULT now()
);
