/* csv_users.h -- Braze's CSV user import format: a header row that names
 * an identifier column and attribute columns, then a row per user, each
 * turned into the /users/track attributes object it stands for (the
 * `brasa import users` reader, cli/import.c, sends those objects through
 * the same parser as the API).
 *
 * Columns: external_id, braze_id, user_alias_name with user_alias_label,
 * email or phone identify the row (one kind per file; external_id and
 * aliases never together). Braze's default attributes are text, except
 * email_open_tracking_disabled and email_click_tracking_disabled (true or
 * false); subscription_group_id with subscription_state become one
 * subscription_groups entry. Every other column is a custom attribute,
 * typed as Braze types CSV cells: true/false (any case) a boolean, an
 * integer or decimal number without a leading zero a number ("00501"
 * stays text), else text. A blank cell is left out: it changes nothing.
 *
 * A bulk import into a stopped store takes a second, typed path: each row
 * straight into the track_attrs that api_track_parse would make of its
 * object, through the same checks (api_attrs_value) and with the same
 * refusal texts, but without json-c values, which cost more than the rest
 * of the import. It takes files whose columns are identifiers, default
 * attributes and custom attributes; a file with subscription group
 * columns, a second kind of identifier or a column named like a control
 * field (`_merge_objects`, `app_id`, ...) goes the JSON way. */
#ifndef BR_API_CSV_USERS_H
#define BR_API_CSV_USERS_H
#include "../core/track.h"
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { CSVU_CUSTOM, CSVU_STRING, CSVU_BOOL, CSVU_EXTERNAL_ID, CSVU_BRAZE_ID, CSVU_ALIAS_NAME, CSVU_ALIAS_LABEL,
               CSVU_SUBS_GROUP, CSVU_SUBS_STATE } csvu_kind;

typedef struct {
    int ncols;
    char **names;
    size_t *namelens;
    csvu_kind *kinds;
    int id_col[2];   /* the identifying column(s), -1 for none */
    track_id_kind id_kind; /* what they hold */
    int subs_group, subs_state;
    /* The typed path (csvu_row_typed): whether it takes every column, and
     * each column's standard attribute (0: custom or an identifier). */
    bool typed;
    uint32_t *std;
    int email_subscribe; /* its column, or -1 */
} csvu_header;

/* Reads the header row's cells: 0, or -1 with why (a column named twice
 * or not at all, no identifier, an alias half, mixed identifiers, a
 * subscription column without its pair). Free with csvu_header_free. */
int csvu_header_read(csvu_header *h, char **cells, int n, char *why, size_t whylen);
void csvu_header_free(csvu_header *h);
/* One data row (n cells, NUL-terminated) into a new attributes object, or
 * NULL with why: a field count other than the header's, no identifier, a
 * boolean column with another value. */
json_object *csvu_row(const csvu_header *h, char **cells, int n, char *why, size_t whylen);

/* A physical line of the file (with its "\n" or "\r\n") that is plain CSV:
 * no quote, no other CR, not blank. Its field count, or -1 when it is not
 * plain (libcsv reads it then). */
int csvu_plain_fields(const char *line, size_t n);
/* Splits a plain line in place as libcsv would read it: fields cut at
 * commas, the spaces and tabs around each trimmed, each NUL-terminated
 * where it ends (cells[] and lens[] hold csvu_plain_fields() of them). The
 * fast way through a bulk import, whose lines are almost all plain. */
void csvu_plain_split(char *line, size_t n, char **cells, size_t *lens);

/* One data row into a (zeroed by this), as csvu_row and then
 * api_track_parse make it: 0, or -1 with why (the text either would
 * give). h->typed must be set; lens: each cell's length. a->index is the
 * caller's; a's plan names its custom attributes with h's names, so h must
 * outlive it. */
int csvu_row_typed(const csvu_header *h, char **cells, const size_t *lens, int n, track_attrs *a, char *why,
                   size_t whylen);

#endif
