-- A clearance names the PvP transaction it clears, so that the central bank can tell a payment
-- that was refused (its clearance may be released, giving its amount back to the day's caps)
-- from one that settled (its amount stays counted: releasing it is refused, and the audit lists
-- a released clearance whose payment settled later). Clearances made before this migration
-- have none.
ALTER TABLE issuer.clearance
  ADD COLUMN tx_id bytea CHECK (tx_id IS NULL OR length(tx_id) = 32);
