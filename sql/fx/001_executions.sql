-- The dealer's executed quotes. A row is written, with the signed transaction, after the central
-- bank cleared the payment and before it goes to settlement; its state is then set from
-- settlement's answer. After a crash, 'executing' rows are sent to settlement again (the same
-- transaction: it settles at most once) and their outcome recorded.
CREATE TABLE fx.execution (
  quote_id         text PRIMARY KEY CHECK (length(quote_id) BETWEEN 1 AND 128),
  payer_bank       text NOT NULL,
  pay_currency     char(3) NOT NULL,
  pay_minor        bigint NOT NULL CHECK (pay_minor > 0),
  receive_currency char(3) NOT NULL CHECK (receive_currency <> pay_currency),
  receive_minor    bigint NOT NULL CHECK (receive_minor > 0),
  mid_pay_minor    bigint NOT NULL CHECK (mid_pay_minor > 0 AND mid_pay_minor <= pay_minor),
  tx_id            bytea NOT NULL UNIQUE CHECK (length(tx_id) = 32),
  signed_tx        bytea NOT NULL,
  state            text NOT NULL CHECK (state IN ('executing', 'settled', 'refused')),
  status           integer NOT NULL DEFAULT 0,
  shard            integer NOT NULL DEFAULT 0,
  batch_seq        bigint NOT NULL DEFAULT 0,
  settled_at_us    bigint NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX execution_open ON fx.execution (created_at) WHERE state = 'executing';
