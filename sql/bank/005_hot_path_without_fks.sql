-- The payment path's tables without foreign keys to bank.wallet: every inserted row ran a check
-- that also locked its wallet's row (a write per payment). The bank is the only writer of these
-- tables and writes only rows of wallets it hosts (payments of hosted payers, checked in memory;
-- index rows joined with bank.wallet), and wallets are never deleted.
ALTER TABLE bank.payment DROP CONSTRAINT payment_wallet_id_fkey;
ALTER TABLE bank.token_index DROP CONSTRAINT token_index_wallet_id_fkey;
