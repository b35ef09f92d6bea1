-- settlement.token is looked up by token id only by equality (a spend's existence probe, a
-- status query), and token ids are uniform hashes: a hash index serves those lookups with one
-- bucket page per insert instead of a btree descent that compares 32-byte keys at every level
-- (the btree inserts were the largest PostgreSQL cost in bench/settle's profile; with the hash
-- index bench/settle settles about 10% more payments per second, docs/benchmarks.md).
-- A hash index cannot be unique, so token_id loses its primary key. It stays unique because
-- the store writes a token only with its creating transaction's settlement.tx row (primary key
-- tx_id) and computes the token's id from that transaction's id and the output's index
-- (token_id_of in core/codec.hpp), so a second token with the same id needs a hash collision.
-- owner_key keeps its btree: one owner (a bank's vault, a busy merchant) can hold very many
-- tokens, and a hash index keeps all entries of one key in one bucket's chain of overflow
-- pages, which every insert of that key walks from its start.
ALTER TABLE settlement.token DROP CONSTRAINT token_pkey;
CREATE INDEX token_id_hash ON settlement.token USING hash (token_id);
