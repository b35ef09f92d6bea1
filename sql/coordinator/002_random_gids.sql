-- Gids are random ("cbdc-" and 32 hex digits): one derived from the transaction id could be
-- addressed to a shard by anyone before the coordinator used it. Older gids stay valid.
ALTER TABLE coordinator.decision DROP CONSTRAINT decision_gid_check;
ALTER TABLE coordinator.decision ADD CONSTRAINT decision_gid_check
  CHECK (gid ~ '^cbdc-[0-9a-f]{32}$' OR gid ~ '^cbdc-[0-9a-f]{64}-[0-9]+$');
