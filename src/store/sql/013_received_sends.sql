-- 013_received_sends.sql: what a user received names its send.
--
-- The send id and Braze dispatch id of the message, so that its
-- conversions count under that send id in /sends/data_series and their
-- Currents events carry both. Rows from before: '' (no send).
ALTER TABLE received ADD COLUMN send_id TEXT NOT NULL DEFAULT '';
ALTER TABLE received ADD COLUMN dispatch_id TEXT NOT NULL DEFAULT '';
