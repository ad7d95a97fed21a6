/* content_blocks.h -- SQL for Content Blocks (table content_blocks:
 * sql/008_content_blocks.sql).
 *
 * Writes are one store op (store_block_write_op), run in the engine's
 * batch transaction so that the checks that need the stored rows (name
 * taken, the update rules of core/content_block.h) and the write are one
 * step. Reads take the connection to use: the engine's reader for the API,
 * or a send thread's own connection (store_block_get). Returns 0,
 * BR_ENOTFOUND where said, a BR_ECB* refusal where said, or BR_ESTORE. */
#ifndef BR_STORE_CONTENT_BLOCKS_H
#define BR_STORE_CONTENT_BLOCKS_H
#include "../core/content_block.h"
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define BLOCK_ID_LEN 36 /* a UUID, as Braze's content_block_id */

typedef struct {
    char id[BLOCK_ID_LEN + 1];
    char *name, *description, *tags; /* malloc'd (store_block_row_free); tags: JSON array text */
    char *content;                   /* malloc'd; NULL in listings */
    char content_type[8];            /* "html" | "text" */
    cblock_state state;
    int64_t created_at, updated_at, archived_at; /* ms; archived_at 0 = live */
} store_block_row;

void store_block_row_free(store_block_row *r);
void store_block_rows_free(store_block_row *rows, int n);

/* The block with this id, archived or not; BR_ENOTFOUND if none. */
int store_block_by_id(sqlite3 *db, const char *id, store_block_row *out);
/* Live (not archived) blocks whose updated_at is within [after, before]
 * (ms, inclusive), by creation time then insertion, from offset, at most
 * limit, without their content. A malloc'd array (store_block_rows_free). */
int store_block_list(sqlite3 *db, int64_t after, int64_t before, int offset, int limit, store_block_row **rows,
                     int *n);

/* A create (id NULL) or an update of the fields that are set, checked
 * field by field by api/content_blocks.c. The op refuses, with nothing
 * written: BR_ECBID (no block has this id), BR_ECBDELETED (archived),
 * BR_ECBRENAME / BR_ECBTODRAFT (cblock_check_update), BR_ECBNAMETAKEN (by
 * any other block, archived ones included), BR_ECBSELFREF (the content, new
 * or kept, references the name, new or kept). On success `row` is the
 * block as written (content NULL), stamped with the wall clock of the op;
 * the caller frees it (store_block_row_free) whatever the op returned. */
typedef struct {
    const char *id;          /* NULL: create */
    const char *name;        /* NULL: unchanged (required on create) */
    const char *description; /* NULL: unchanged ("" on create) */
    const char *content;     /* NULL: unchanged (required on create); compiles (core checked) */
    const char *tags;        /* JSON array text; NULL: unchanged ("[]" on create) */
    const cblock_state *state; /* NULL: unchanged (active on create) */
    /* out */
    store_block_row row;
} store_block_write;
int store_block_write_op(sqlite3 *db, void *arg);

/* The send path's lookup, for a thread with its own read-only connection
 * to brasa.db (store_open_reader; one thread uses a connection at a time).
 * Returns 1 with *content the block's Liquid source (malloc'd, the caller
 * frees) when a live block named name (exactly, case included) is active;
 * 0 with *content NULL when there is none: no such name, an archived
 * block, or a draft. A draft is not published: live sends do not resolve
 * it, and its tag renders as an unknown name's does (Braze does not say
 * what a draft does in a live message; brasa does not send unpublished
 * text). BR_ESTORE on a read error.
 *
 * Rendering wraps this in a liq_block_fn (liquid/liquid.h) with a small
 * per-dispatch cache (name -> content or a remembered miss): one SQL read
 * per block per dispatch, not per recipient, and every recipient of a
 * dispatch sees the same version of a block even if it is edited midway.
 * The cache owns the strings and frees them when the dispatch ends; the
 * renderer recompiles a block only when its source changed. */
int store_block_get(sqlite3 *db, const char *name, char **content);
/* That cache: block `name` through memo ({name: content or null}), read
 * with store_block_get the first time. Answers as a liq_block_fn does: 1
 * with *src and *len (owned by memo), 0 for no such block, or BR_ESTORE.
 * Not thread-safe: the dispatcher locks around it. */
int store_block_memo(sqlite3 *db, json_object *memo, const char *name, const char **src, size_t *len);

#endif
