/* templates.h -- SQL for email templates (table email_templates:
 * sql/016_email_templates.sql) and the transactional sends' external ids
 * (table transactional_sends).
 *
 * Writes are store ops run in the engine's batch transaction, so the
 * checks that need stored rows (the template exists, the Content Blocks
 * it names exist) and the write are one step. Reads take the connection
 * to use (the engine's reader for the API). Returns 0, BR_ENOTFOUND where
 * said, a BR_ETPL* refusal where said, or BR_ESTORE. */
#ifndef BR_STORE_TEMPLATES_H
#define BR_STORE_TEMPLATES_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPL_ID_LEN 36 /* a UUID, as Braze's email_template_id */

typedef struct {
    char id[TPL_ID_LEN + 1];
    char *name, *description, *tags; /* malloc'd (store_template_row_free); tags: JSON array text */
    char *subject, *body;             /* malloc'd; NULL in listings */
    char *plaintext_body, *preheader; /* malloc'd; NULL when the template has none (and in listings) */
    int inline_css;                   /* 0, 1, or -1: not set */
    int64_t created_at, updated_at;   /* ms */
} store_template_row;

void store_template_row_free(store_template_row *r);
void store_template_rows_free(store_template_row *rows, int n);

/* The template with this id; BR_ENOTFOUND if none. */
int store_template_get(sqlite3 *db, const char *id, store_template_row *out);
/* Templates whose updated_at is within [after, before] (ms, inclusive), by
 * creation time then insertion, from offset, at most limit, without their
 * content. A malloc'd array (store_template_rows_free). */
int store_template_list(sqlite3 *db, int64_t after, int64_t before, int offset, int limit, store_template_row **rows,
                        int *n);

/* A create (id NULL) or an update of the fields that are set, each checked
 * by api/templates.c (the Liquid compiles). The op refuses, with nothing
 * written: BR_ETPLID (no template has this id), BR_ETPLBLOCKS (the
 * subject, body, plaintext_body or preheader, new or kept, names a
 * Content Block that does not exist or is archived; why names it). On
 * success `row` is the template as written, stamped with the wall clock
 * of the op; the caller frees it whatever the op returned. */
typedef struct {
    const char *id;             /* NULL: create */
    const char *name;           /* NULL: unchanged (required on create) */
    const char *description;    /* NULL: unchanged ("" on create) */
    const char *subject, *body; /* NULL: unchanged (required on create) */
    const char *plaintext_body, *preheader; /* NULL: unchanged (unset on create) */
    const char *tags;           /* JSON array text; NULL: unchanged ("[]" on create) */
    const int *inline_css;      /* NULL: unchanged (unset on create) */
    /* out */
    store_template_row row;
    char why[200];
} store_template_write;
int store_template_write_op(sqlite3 *db, void *arg);

/* The dispatch a transactional send with this external_send_id got from
 * campaign_id since `since` (ms): 1 with dispatch_id filled, 0 when none. */
int store_txsend_get(sqlite3 *db, const char *campaign_id, const char *external_send_id, int64_t since,
                     char *dispatch_id, size_t len);
/* Records it (replacing a row older than since) and prunes the rows
 * older than since. */
int store_txsend_put(sqlite3 *db, const char *campaign_id, const char *external_send_id, const char *dispatch_id,
                     int64_t at, int64_t since);

#endif
