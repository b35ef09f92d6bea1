-- Dual-offline payments (docs/offline.md): the devices this bank certified and when it revoked
-- them, the double spends it found, and the latest revocation list each other bank pushed.
CREATE TABLE bank.device (
  device_key   bytea PRIMARY KEY,
  owner_key    bytea NOT NULL,
  wallet_class smallint NOT NULL CHECK (wallet_class BETWEEN 1 AND 4),
  expires_s    bigint NOT NULL,
  revoked_s    bigint
);

CREATE TABLE bank.double_spend (
  token_id   bytea NOT NULL CHECK (length(token_id) = 32),
  refused_tx bytea NOT NULL CHECK (length(refused_tx) = 32),
  settled_tx bytea NOT NULL CHECK (length(settled_tx) = 32),
  device_key bytea NOT NULL,
  found_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (token_id, refused_tx)
);

CREATE TABLE bank.peer_revocations (
  bank_id  text PRIMARY KEY,
  issued_s bigint NOT NULL,
  list     bytea NOT NULL,
  cert     bytea NOT NULL
);
