/* csv_users.c -- Braze's CSV user import format into /users/track
 * attribute objects (see csv_users.h). */
#include "csv_users.h"
#include "parse.h"
#include "../lib/mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Braze's default attributes for CSV import and how their cells are read. */
static const struct {
    const char *name;
    csvu_kind kind;
} defaults[] = {
    {"external_id", CSVU_EXTERNAL_ID}, {"braze_id", CSVU_BRAZE_ID}, {"user_alias_name", CSVU_ALIAS_NAME},
    {"user_alias_label", CSVU_ALIAS_LABEL}, {"subscription_group_id", CSVU_SUBS_GROUP},
    {"subscription_state", CSVU_SUBS_STATE}, {"email_open_tracking_disabled", CSVU_BOOL},
    {"email_click_tracking_disabled", CSVU_BOOL}, {"first_name", CSVU_STRING}, {"last_name", CSVU_STRING},
    {"email", CSVU_STRING}, {"country", CSVU_STRING}, {"dob", CSVU_STRING}, {"gender", CSVU_STRING},
    {"home_city", CSVU_STRING}, {"language", CSVU_STRING}, {"phone", CSVU_STRING}, {"time_zone", CSVU_STRING},
    {"date_of_first_session", CSVU_STRING}, {"date_of_last_session", CSVU_STRING},
    {"email_subscribe", CSVU_STRING}, {"push_subscribe", CSVU_STRING},
};

void csvu_header_free(csvu_header *h) {
    for (int i = 0; i < h->ncols; i++) free(h->names[i]);
    free(h->names);
    free(h->kinds);
    free(h->std);
    free(h->namelens);
}

/* The identifier's column(s), by kind, as a refusal names them. */
static const char *const id_columns[] = {[ID_EXTERNAL] = "external_id", [ID_BRAZE] = "braze_id",
                                         [ID_ALIAS] = "user_alias_name and user_alias_label", [ID_EMAIL] = "email",
                                         [ID_PHONE] = "phone"};

static int col_of(const csvu_header *h, const char *name) {
    for (int i = 0; i < h->ncols; i++)
        if (!strcmp(h->names[i], name)) return i;
    return -1;
}

/* Checks the header row and decides what each column is. */
int csvu_header_read(csvu_header *h, char **cells, int n, char *why, size_t whylen) {
    h->ncols = n;
    h->names = xcalloc((size_t)n, sizeof *h->names);
    h->kinds = xcalloc((size_t)n, sizeof *h->kinds);
    h->std = xcalloc((size_t)n, sizeof *h->std);
    h->namelens = xcalloc((size_t)n, sizeof *h->namelens);
    for (int i = 0; i < n; i++) {
        h->names[i] = xstrdup(cells[i]);
        h->namelens[i] = strlen(cells[i]);
        if (!*cells[i]) {
            snprintf(why, whylen, "the header's column %d has no name", i + 1);
            return -1;
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(h->names[k], cells[i])) {
                snprintf(why, whylen, "the header names '%s' twice (columns %d and %d)", cells[i], k + 1, i + 1);
                return -1;
            }
        h->kinds[i] = CSVU_CUSTOM;
        for (size_t d = 0; d < sizeof defaults / sizeof *defaults; d++)
            if (!strcmp(defaults[d].name, cells[i])) h->kinds[i] = defaults[d].kind;
    }
    int ext = col_of(h, "external_id"), bz = col_of(h, "braze_id"), an = col_of(h, "user_alias_name"),
        al = col_of(h, "user_alias_label"), em = col_of(h, "email"), ph = col_of(h, "phone");
    h->subs_group = col_of(h, "subscription_group_id");
    h->subs_state = col_of(h, "subscription_state");
    if ((an >= 0) != (al >= 0)) {
        snprintf(why, whylen, "user_alias_name and user_alias_label go together: the header has only %s",
                 an >= 0 ? "user_alias_name" : "user_alias_label");
        return -1;
    }
    if (ext >= 0 && an >= 0) {
        snprintf(why, whylen, "one file cannot hold both external_id and user aliases: import them separately");
        return -1;
    }
    if ((h->subs_group >= 0) != (h->subs_state >= 0)) {
        snprintf(why, whylen, "subscription_group_id and subscription_state go together: the header has only %s",
                 h->subs_group >= 0 ? "subscription_group_id" : "subscription_state");
        return -1;
    }
    h->id_col[0] = h->id_col[1] = -1;
    if (ext >= 0) h->id_col[0] = ext, h->id_kind = ID_EXTERNAL;
    else if (an >= 0) h->id_col[0] = an, h->id_col[1] = al, h->id_kind = ID_ALIAS;
    else if (bz >= 0) h->id_col[0] = bz, h->id_kind = ID_BRAZE;
    else if (em >= 0) h->id_col[0] = em, h->id_kind = ID_EMAIL;
    else if (ph >= 0) h->id_col[0] = ph, h->id_kind = ID_PHONE;
    else {
        snprintf(why, whylen, "the header has no identifier column: external_id, braze_id, user_alias_name and "
                              "user_alias_label, email or phone");
        return -1;
    }
    /* The typed path takes the file when every column but the identifier's
     * is an attribute api_attrs_value takes (a second identifier, say, is
     * left to the JSON path). */
    h->typed = h->subs_group < 0;
    h->email_subscribe = col_of(h, "email_subscribe");
    for (int i = 0; i < n; i++) {
        if (i == h->id_col[0] || i == h->id_col[1]) continue;
        bool ident = h->kinds[i] == CSVU_EXTERNAL_ID || h->kinds[i] == CSVU_BRAZE_ID ||
                     h->kinds[i] == CSVU_ALIAS_NAME || h->kinds[i] == CSVU_ALIAS_LABEL;
        if (ident || !api_attrs_value_field(h->names[i], h->namelens[i], &h->std[i])) h->typed = false;
    }
    return 0;
}

static bool is_bool(const char *s, bool *v) {
    if (!*s || !strchr("tTfF", *s)) return false; /* most cells: no need to compare */
    if (!strcasecmp(s, "true")) return *v = true, true;
    if (!strcasecmp(s, "false")) return *v = false, true;
    return false;
}

/* A custom attribute's cell as Braze's CSV import types it: true/false,
 * a number (no leading zeros, so "00501" stays text), else text. */
static void cell_value(const char *s, size_t n, attrs_value *v) {
    *v = (attrs_value){.type = json_type_string, .s = s, .n = n};
    bool b;
    if (is_bool(s, &b)) {
        v->type = json_type_boolean, v->i = b;
        return;
    }
    const char *d = s + (*s == '-' || *s == '+');
    if (*d >= '0' && *d <= '9' && !(d[0] == '0' && d[1] >= '0' && d[1] <= '9')) {
        char *end;
        errno = 0;
        long long i = strtoll(s, &end, 10);
        if (!*end && !errno) {
            v->type = json_type_int, v->i = i;
            return;
        }
        double f = strtod(s, &end);
        if (!*end && isfinite(f) && strspn(d, "0123456789.eE+-") == strlen(d)) v->type = json_type_double, v->d = f;
    }
}

static json_object *typed(const char *s) {
    attrs_value v;
    cell_value(s, strlen(s), &v);
    switch (v.type) {
    case json_type_boolean: return json_object_new_boolean((int)v.i);
    case json_type_int: return json_object_new_int64(v.i);
    case json_type_double: return json_object_new_double(v.d);
    default: return json_object_new_string(s);
    }
}

/* The refusals csvu_row makes before any object exists: the field count,
 * a blank identifier, a boolean column's value. */
static bool row_shape(const csvu_header *h, char **cells, int n, char *why, size_t whylen) {
    if (n != h->ncols) {
        snprintf(why, whylen, "%d field%s, the header has %d", n, n == 1 ? "" : "s", h->ncols);
        return false;
    }
    for (int k = 0; k < 2; k++)
        if (h->id_col[k] >= 0 && !*cells[h->id_col[k]]) {
            snprintf(why, whylen, "no %s", id_columns[h->id_kind]);
            return false;
        }
    bool b;
    for (int i = 0; i < n; i++)
        if (h->kinds[i] == CSVU_BOOL && *cells[i] && !is_bool(cells[i], &b)) {
            snprintf(why, whylen, "%s must be true or false, not '%.40s'", h->names[i], cells[i]);
            return false;
        }
    return true;
}

int csvu_row_typed(const csvu_header *h, char **cells, const size_t *lens, int n, track_attrs *a, char *why,
                   size_t whylen) {
    memset(a, 0, sizeof *a);
    if (!row_shape(h, cells, n, why, whylen)) return -1;
    int c = h->id_col[0], l = h->id_col[1];
    if (h->id_kind == ID_ALIAS) /* the label is the value, the name says which alias */
        a->id = (track_ident){.kind = ID_ALIAS, .a = cells[l], .an = lens[l], .b = cells[c], .bn = lens[c]};
    else
        a->id = (track_ident){.kind = h->id_kind, .a = cells[c], .an = lens[c]};
    if (api_ident_check(&a->id, why, whylen) < 0) return -1;
    attrs_plan *p = attrs_plan_new();
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += lens[i] + 8; /* a value: its text, or a number encoded in up to 8 bytes more */
    attrs_plan_reserve(p, n, bytes);
    for (int i = 0; i < n; i++) {
        if (!lens[i] || i == h->id_col[0] || i == h->id_col[1]) continue;
        attrs_value v = {.type = json_type_string, .s = cells[i], .n = lens[i]};
        bool b = false;
        if (h->kinds[i] == CSVU_BOOL) v.type = json_type_boolean, is_bool(cells[i], &b), v.i = b;
        else if (h->kinds[i] == CSVU_CUSTOM) cell_value(cells[i], lens[i], &v);
        if (api_attrs_value(p, h->std[i], h->names[i], h->namelens[i], &v, why, whylen) < 0) {
            attrs_plan_free(p);
            return -1;
        }
    }
    /* The identifier's text goes with the plan, past its values (the cells
     * are the reader's, reused for the next row). */
    size_t off = p->bytes.len;
    buf_append(&p->bytes, a->id.a, a->id.an);
    buf_append(&p->bytes, a->id.b, a->id.bn);
    a->id.a = (const char *)p->bytes.data + off;
    if (a->id.b) a->id.b = (const char *)p->bytes.data + off + a->id.an;
    a->plan = p;
    a->may_create = true; /* an alias too: the CSV import creates alias-only users */
    int es = h->email_subscribe;
    if (es >= 0 && lens[es]) a->email_subscribe = api_subscribe_state(cells[es], lens[es]); /* the plan checked it */
    return 0;
}

/* ---- plain lines ----------------------------------------------------------- */

static size_t body_len(const char *line, size_t n) {
    if (n && line[n - 1] == '\n') n--;
    if (n && line[n - 1] == '\r') n--;
    return n;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

int csvu_plain_fields(const char *line, size_t n) {
    size_t len = body_len(line, n);
    if (len == n) return -1; /* no line end (the file's last line): NULs have no room */
    if (memchr(line, '"', len) || memchr(line, '\r', len)) return -1;
    size_t i = 0;
    while (i < len && blank(line[i])) i++;
    if (i == len) return -1; /* a blank line is no row to libcsv */
    int fields = 1;
    for (i = 0; i < len; i++) fields += line[i] == ','; /* no early exit: vectorised */
    return fields;
}

void csvu_plain_split(char *line, size_t n, char **cells, size_t *lens) {
    char *p = line, *end = line + body_len(line, n);
    for (int k = 0;; k++) {
        char *comma = memchr(p, ',', (size_t)(end - p)), *e = comma ? comma : end;
        while (p < e && blank(*p)) p++;
        while (e > p && blank(e[-1])) e--;
        *e = '\0';
        cells[k] = p;
        lens[k] = (size_t)(e - p);
        if (!comma) return;
        p = comma + 1;
    }
}

/* ---- rows ------------------------------------------------------------------ */

/* One data row into an attributes object; NULL with why for a refused row. */
json_object *csvu_row(const csvu_header *h, char **cells, int n, char *why, size_t whylen) {
    if (!row_shape(h, cells, n, why, whylen)) return NULL;
    json_object *o = json_object_new_object(), *alias = NULL, *sub = NULL;
    for (int i = 0; i < n; i++) {
        const char *v = cells[i];
        if (!*v) continue; /* a blank cell changes nothing */
        bool b = false;
        switch (h->kinds[i]) {
        case CSVU_ALIAS_NAME:
        case CSVU_ALIAS_LABEL:
            if (!alias) alias = json_object_new_object();
            json_object_object_add(alias, h->kinds[i] == CSVU_ALIAS_NAME ? "alias_name" : "alias_label",
                                   json_object_new_string(v));
            break;
        case CSVU_SUBS_GROUP:
        case CSVU_SUBS_STATE:
            if (!sub) sub = json_object_new_object();
            json_object_object_add(sub, h->kinds[i] == CSVU_SUBS_GROUP ? "subscription_group_id" : "subscription_state",
                                   json_object_new_string(v));
            break;
        case CSVU_BOOL:
            is_bool(v, &b); /* checked by row_shape */
            json_object_object_add(o, h->names[i], json_object_new_boolean(b));
            break;
        case CSVU_CUSTOM: json_object_object_add(o, h->names[i], typed(v)); break;
        default: json_object_object_add(o, h->names[i], json_object_new_string(v)); /* ids, default strings */
        }
    }
    if (alias) { /* Braze's CSV import creates alias-only users it does not find */
        json_object_object_add(o, "user_alias", alias);
        json_object_object_add(o, "_update_existing_only", json_object_new_boolean(0));
    }
    if (sub) {
        json_object *a = json_object_new_array();
        json_object_array_add(a, sub);
        json_object_object_add(o, "subscription_groups", a);
    }
    return o;
}
