-- settlement.token is looked up only by equality: a spend's existence probe and a status query
-- by token id, a wallet's unspent list by owner key. Hash indexes serve both with one bucket
-- page per insert instead of a btree descent that compares 32-byte keys at every level (the
-- btree inserts were the largest PostgreSQL cost in bench/settle's profile; with hash indexes
-- bench/settle settles about 10% more payments per second, docs/benchmarks.md).
-- A hash index cannot be unique, so token_id loses its primary key. It stays unique because
-- the store writes a token only with its creating transaction's settlement.tx row (primary key
-- tx_id) and computes the token's id from that transaction's id and the output's index
-- (token_id_of in core/codec.hpp), so a second token with the same id needs a hash collision.
ALTER TABLE settlement.token DROP CONSTRAINT token_pkey;
CREATE INDEX token_id_hash ON settlement.token USING hash (token_id);
DROP INDEX settlement.token_owner;
CREATE INDEX token_owner ON settlement.token USING hash (owner_key);
