-- Banks catch up on what was settled while they were not listening: the transactions of the
-- batches after the last one they indexed. batch_seq grows with the table, so a BRIN index (a
-- few pages, next to nothing per insert on the payment path) finds the recent ones.
CREATE INDEX tx_by_batch ON settlement.tx USING brin (batch_seq)
  WITH (pages_per_range = 32, autosummarize = on);
