-- 016_email_templates.sql: Braze's email templates (store/templates.h), and
-- the transactional sends' external ids (api/transactional.c).
--
-- A template is named, reusable email content whose Liquid compiles; a
-- message names it by email_template_id and takes its fields as defaults
-- (send/message.h). There is no API to delete one (Braze has none), so
-- rows stay. plaintext_body, preheader and should_inline_css are NULL
-- when the template does not set them.
CREATE TABLE email_templates (
    id                TEXT NOT NULL UNIQUE,        -- a UUID, as Braze's email_template_id
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,               -- HTML, Liquid that compiles
    plaintext_body    TEXT,
    preheader         TEXT,
    should_inline_css INTEGER,                     -- 0 | 1 | NULL (the workspace's)
    tags              TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    created_at        INTEGER NOT NULL,            -- ms since epoch
    updated_at        INTEGER NOT NULL
);
CREATE INDEX email_templates_by_updated ON email_templates (updated_at);

-- A transactional send's external_send_id is Braze's deduplication key for
-- 24 hours: a second request with it, for the same campaign, sends nothing
-- and is answered with the first one's dispatch. Rows older than a day are
-- pruned as new ones come.
CREATE TABLE transactional_sends (
    campaign_id      TEXT NOT NULL,
    external_send_id TEXT NOT NULL,
    dispatch_id      TEXT NOT NULL,
    at               INTEGER NOT NULL,             -- ms
    PRIMARY KEY (campaign_id, external_send_id)
) WITHOUT ROWID;
CREATE INDEX transactional_sends_at ON transactional_sends (at);
