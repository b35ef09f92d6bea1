-- A key's unspent tokens are listed from cbdc-settle's memory (engine::list_unspent), which
-- holds the unspent set anyway. The btree by owner_key cost a random leaf page per new token,
-- about a fifth of PostgreSQL's work per payment in bench/settle (docs/benchmarks.md), for a
-- query the engine answers without it.
DROP INDEX settlement.token_owner;
