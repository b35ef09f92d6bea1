-- The cross-shard coordinator's log. A row is written before any shard is asked to prepare;
-- its state becomes 'commit' or 'abort' (durably: the decision) before any shard is told; done
-- once every shard has carried it out. After a crash, 'preparing' rows become 'abort' and every
-- decided row not done is carried out again.
CREATE TABLE coordinator.decision (
  gid        text PRIMARY KEY CHECK (gid ~ '^cbdc-[0-9a-f]{64}-[0-9]+$'),
  tx_id      bytea NOT NULL CHECK (length(tx_id) = 32),
  shards     integer[] NOT NULL CHECK (cardinality(shards) >= 2),
  state      text NOT NULL CHECK (state IN ('preparing', 'commit', 'abort')),
  done       boolean NOT NULL DEFAULT false,
  status     integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz
);
-- A transaction commits at most once.
CREATE UNIQUE INDEX decision_one_commit ON coordinator.decision (tx_id) WHERE state = 'commit';
CREATE INDEX decision_open ON coordinator.decision (created_at) WHERE NOT done;
