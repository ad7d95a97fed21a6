-- 006_journal_format.sql: the journal holds change records, versioned.
--
-- Format 1 (every row before this migration): `body` is a request body as
-- received and `kind` its command (the old core/command.h numbers); replay
-- runs it through the request decoder kept for it (api/legacy.c).
-- Format 2: `body` is one engine batch's change records (engine/records.h:
-- what changed, never what was asked) and `kind` is 0; replay applies the
-- records and validates nothing. A row is one batch of commands applied
-- together and committed in one transaction; `seq` is given by the engine.
ALTER TABLE journal ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
