-- 022_event_counts.sql: custom events and purchases recorded, by quarter
-- hour of their recording (GET /admin/overview). Counted in the batch's
-- own transaction, with the outbox row that holds them, so the two never
-- disagree; a quarter hour because every time zone's midnight falls on
-- one ("today" in the workspace's zone). Reading a day is reading ~100
-- rows by key, where counting the outbox would parse every event of it.
CREATE TABLE event_counts (
    start  INTEGER PRIMARY KEY, -- s since the epoch, a multiple of 900
    events INTEGER NOT NULL
);
