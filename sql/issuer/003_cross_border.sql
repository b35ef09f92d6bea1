-- The central bank's controls on cross-border payments out of its currency: every PvP that pays
-- this currency away is cleared here first, once per clearance id (the dealer's quote id), and
-- counts against the corridor's and the paying bank's daily caps until it is released (the PvP
-- was refused by settlement).
CREATE TABLE issuer.clearance (
  clearance_id text PRIMARY KEY CHECK (length(clearance_id) BETWEEN 1 AND 128),
  bank_id      text NOT NULL REFERENCES issuer.bank (bank_id),
  to_currency  char(3) NOT NULL CHECK (to_currency IN ('CNY', 'HKD', 'THB', 'AED', 'SAR', 'USD')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  day          bigint NOT NULL,
  released     boolean NOT NULL DEFAULT false,
  cleared_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX clearance_by_day ON issuer.clearance (day, to_currency) WHERE NOT released;
