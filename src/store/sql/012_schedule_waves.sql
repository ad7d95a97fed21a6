-- 012_schedule_waves.sql: schedules sent in local time or at optimal time.
--
-- Such a schedule fires once per wave (send/timing.h): `at` moves to its
-- next wave each time, and `sent` keeps the rows earlier waves went to, so
-- a user whose time zone changes between waves is not sent twice.
ALTER TABLE schedules ADD COLUMN sent BLOB;              -- roaring bitmap of rows; NULL before the first wave
ALTER TABLE schedules ADD COLUMN fallback_hour INTEGER;  -- optimal time: the audience's UTC hour (-1: none); NULL until the first wave
