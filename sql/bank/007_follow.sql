-- How far the bank has indexed settlement's notifications, per shard: the last batch it saw. On
-- start it catches up on every batch after it (less a margin), so that balances converge on
-- what settlement holds after the bank was down.
CREATE TABLE bank.follow (
  shard     integer PRIMARY KEY CHECK (shard >= 0),
  batch_seq bigint NOT NULL CHECK (batch_seq >= 0)
);
