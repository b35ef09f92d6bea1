-- Customers' deposit accounts at the bank, and exchanges between deposits and e-CNY. An
-- exchange into e-CNY records the vault's signed transaction before sending it, so that a retry
-- after a crash sends the same transaction and cannot pay twice.
CREATE TABLE bank.deposit_account (
  wallet_id     text PRIMARY KEY REFERENCES bank.wallet (wallet_id),
  balance_minor bigint NOT NULL DEFAULT 0 CHECK (balance_minor >= 0)
);

CREATE TABLE bank.exchange (
  request_id   text PRIMARY KEY CHECK (length(request_id) BETWEEN 1 AND 128),
  wallet_id    text NOT NULL REFERENCES bank.wallet (wallet_id),
  direction    text NOT NULL CHECK (direction IN ('credit', 'to_ecny', 'to_deposit')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  signed_tx    bytea,
  tx_id        bytea UNIQUE CHECK (tx_id IS NULL OR length(tx_id) = 32),
  done         boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now()
);
