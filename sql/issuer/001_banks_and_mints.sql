-- The central bank's view of its operator banks and of every mint it performed.
CREATE TABLE issuer.bank (
  bank_id    text PRIMARY KEY CHECK (bank_id ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  currency   char(3) NOT NULL CHECK (currency IN ('CNY', 'HKD', 'THB', 'AED', 'SAR', 'USD')),
  domestic   boolean NOT NULL DEFAULT true,
  vault_key  bytea NOT NULL CHECK (length(vault_key) > 1),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per mint request id: the request is idempotent, the same id answers the same mint.
CREATE TABLE issuer.mint (
  request_id   text PRIMARY KEY CHECK (length(request_id) BETWEEN 1 AND 128),
  bank_id      text NOT NULL REFERENCES issuer.bank (bank_id),
  currency     char(3) NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  tx_id        bytea NOT NULL UNIQUE CHECK (length(tx_id) = 32),
  signed_tx    bytea NOT NULL,
  settled      boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now()
);
