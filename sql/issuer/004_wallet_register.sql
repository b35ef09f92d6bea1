-- The registration centre ("one currency, two repositories, three centres"): every wallet key
-- with its one hosting bank and its class. A bank registers a wallet here before it hosts it,
-- so a key is hosted once: a second bank cannot host it (nor a squatter at another bank).
CREATE TABLE issuer.wallet_register (
  owner_key     bytea PRIMARY KEY CHECK (length(owner_key) BETWEEN 2 AND 80),
  bank_id       text NOT NULL REFERENCES issuer.bank (bank_id),
  wallet_class  smallint NOT NULL CHECK (wallet_class BETWEEN 1 AND 4),
  registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wallet_register_by_bank ON issuer.wallet_register (bank_id);
