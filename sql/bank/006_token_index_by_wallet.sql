-- The index of tokens by wallet covers spent tokens too (a wallet's history reads both), and no
-- longer depends on spent_by: marking a token spent then changes no indexed column, so
-- PostgreSQL updates the row in place (a heap-only update, no new index entries) when its page
-- has room, which the fill factor keeps. Balances come from the bank's memory, not from here.
DROP INDEX bank.token_index_wallet;
CREATE INDEX token_index_by_wallet ON bank.token_index (wallet_id);
ALTER TABLE bank.token_index SET (fillfactor = 80);
