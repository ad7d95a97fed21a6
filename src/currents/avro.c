/* avro.c -- the Avro schemas of the event types brasa produces, flat
 * records encoded onto them (libavro), and the object container framing
 * (see avro.h).
 *
 * The schemas are Braze's (spec/currents.md §1.3), written as one field
 * list per type: "name" is a nullable string, "name!" a required one,
 * ":int" ":long" ":float" ":boolean" ":strings" (array<string>) other
 * types; the CORE, DEV and TRK blocks are macros, in that order, then the
 * type's own fields.
 *
 * libavro has a container writer too, but it buffers records in a block of
 * fixed size (a larger record is refused), writes through stdio (a failed
 * write leaves part of a block in the file, with no way back) and reseeds
 * rand() for every sync marker; files.c writes each batch as one block
 * itself, so that a batch is in a file whole or not at all. */
#include "avro.h"

#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/varint.h"

#include <avro.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORE "id! user_id! external_user_id time!:int timezone app_group_id "
#define CORE_NOTZ "id! user_id! external_user_id time!:int app_group_id "
#define DEV "app_id platform os_version device_model device_id "
#define TRK_CAMP "campaign_id campaign_name message_variation_id message_variation_name "
#define TRK_CANVAS "canvas_id canvas_name canvas_variation_id canvas_variation_name canvas_step_id canvas_step_name "
#define TRK TRK_CAMP TRK_CANVAS "canvas_step_message_variation_id dispatch_id send_id "
#define TRK_NO_CSMV TRK_CAMP TRK_CANVAS "dispatch_id send_id " /* minus canvas_step_message_variation_id */
#define TRK_CONV "campaign_id! campaign_name message_variation_id message_variation_name send_id "
#define AD "ad_id ad_id_type ad_tracking_enabled:boolean "

static const struct {
    const char *type, *fields;
} schemas[] = {
    {"users.behaviors.CustomEvent", CORE DEV "name! properties! " AD},
    {"users.behaviors.Purchase", CORE_NOTZ DEV "product_id! price!:float currency! properties! " AD},
    {"users.behaviors.subscription.GlobalStateChange",
     CORE "app_id campaign_id campaign_name message_variation_id " TRK_CANVAS "send_id "
          "email_address state_change_source subscription_status! channel channel_identifier"},
    {"users.behaviors.subscriptiongroup.StateChange",
     CORE "app_id " TRK_NO_CSMV "email_address phone_number subscription_group_id! subscription_status! channel "
          "state_change_source channel_identifier"},
    {"users.campaigns.Conversion", CORE "app_id " TRK_CONV "conversion_behavior_index:int conversion_behavior"},
    {"users.campaigns.EnrollInControl", CORE "app_id " TRK_CONV},
    {"users.messages.email.Abort", CORE "device_id " TRK "abort_log abort_type email_address! ip_pool"},
    {"users.messages.email.Bounce",
     CORE TRK_NO_CSMV "email_address! sending_ip ip_pool bounce_reason esp from_domain is_drop:boolean"},
    {"users.messages.email.Click",
     CORE "device_model " TRK_NO_CSMV "email_address! url user_agent ip_pool link_id link_alias esp from_domain "
          "is_amp:boolean device_class device_os browser mailbox_provider is_suspected_bot_click:boolean "
          "suspected_bot_click_reason:strings"},
    {"users.messages.email.Delivery", CORE TRK_NO_CSMV "email_address! sending_ip ip_pool esp from_domain"},
    {"users.messages.email.Open",
     CORE "device_model " TRK_NO_CSMV "email_address! user_agent ip_pool machine_open esp from_domain is_amp:boolean "
          "device_class device_os browser mailbox_provider"},
    {"users.messages.email.Send", CORE TRK_NO_CSMV "email_address! ip_pool message_extras from_domain"},
    {"users.messages.email.SoftBounce",
     CORE TRK_NO_CSMV "email_address! sending_ip ip_pool bounce_reason esp from_domain"},
    {"users.messages.email.Unsubscribe", CORE TRK_NO_CSMV "email_address! ip_pool"},
    {"users.messages.webhook.Abort", CORE "device_id " TRK "abort_log abort_type"},
    {"users.messages.webhook.Failure",
     CORE_NOTZ TRK "http_status_code:int endpoint_url content_length:int host raw_response retry_count:int url_path "
                   "webhook_duration:int webhook_failure_source is_terminal:boolean"},
    {"users.messages.webhook.Send", CORE TRK_NO_CSMV "message_extras"},
    {"users.UserDeleteRequest", "id! user_id! time!:int app_group_id"},
    {"users.UserOrphan", CORE_NOTZ "app_id device_id orphaned_by_id!"},
    {"brasa.cohorts.Change", "id! user_id! external_user_id time!:int cohort_id! cohort_name partner change!"},
};

typedef enum { F_STRING, F_INT, F_LONG, F_FLOAT, F_BOOLEAN, F_STRINGS } ftype;
static const char *const ftype_names[] = {"string", "int", "long", "float", "boolean", "strings"};
static const char *const ftype_avro[] = {"\"string\"", "\"int\"", "\"long\"", "\"float\"", "\"boolean\"",
                                         "{\"type\":\"array\",\"items\":\"string\"}"};

typedef struct {
    char name[48];
    ftype type;
    bool required;
} field;

struct cur_avro {
    const char *type;
    char *json; /* the schema */
    field *fields;
    int nfields;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t rec; /* reused for every record */
};

/* Reads the field list spec into a->fields; false on a typo in the table
 * (the unit tests build every schema). */
static bool parse_fields(cur_avro *a, const char *spec) {
    int cap = 0;
    for (const char *p = spec; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, "!: ");
        if (!n || n >= sizeof a->fields->name) return false;
        if (a->nfields == cap) a->fields = xrealloc(a->fields, sizeof *a->fields * (size_t)(cap = cap ? cap * 2 : 32));
        field *f = &a->fields[a->nfields++];
        memcpy(f->name, p, n);
        f->name[n] = '\0';
        p += n;
        f->required = *p == '!';
        if (f->required) p++;
        f->type = F_STRING;
        if (*p == ':') {
            size_t m = strcspn(++p, " ");
            int t = F_STRINGS;
            while (t >= 0 && (strlen(ftype_names[t]) != m || memcmp(p, ftype_names[t], m))) t--;
            if (t < 0) return false;
            f->type = (ftype)t;
            p += m;
        }
    }
    return a->nfields > 0;
}

static void schema_json(cur_avro *a, buf_t *b) {
    const char *last = strrchr(a->type, '.');
    buf_printf(b, "{\"type\":\"record\",\"name\":\"%s\",\"namespace\":\"dataexport.Local.inner.%.*s\",\"fields\":[",
               last + 1, (int)(last - a->type), a->type);
    for (int i = 0; i < a->nfields; i++) {
        const field *f = &a->fields[i];
        buf_printf(b, "%s{\"name\":\"%s\",\"type\":", i ? "," : "", f->name);
        if (f->required) buf_printf(b, "%s}", ftype_avro[f->type]);
        else buf_printf(b, "[\"null\",%s],\"default\":null}", ftype_avro[f->type]);
    }
    buf_puts(b, "]}");
}

cur_avro *cur_avro_new(const char *type) {
    size_t i = 0;
    while (i < sizeof schemas / sizeof *schemas && strcmp(schemas[i].type, type)) i++;
    if (i == sizeof schemas / sizeof *schemas) return NULL;
    cur_avro *a = xcalloc(1, sizeof *a);
    a->type = schemas[i].type;
    buf_t b = BUF_INIT;
    if (parse_fields(a, schemas[i].fields)) {
        schema_json(a, &b);
        a->json = buf_take(&b);
        if (!avro_schema_from_json_length(a->json, strlen(a->json), &a->schema) &&
            (a->iface = avro_generic_class_from_schema(a->schema)) && !avro_generic_value_new(a->iface, &a->rec))
            return a;
    }
    log_error("currents: the Avro schema of %s does not build: %s", type, avro_strerror());
    cur_avro_free(a);
    return NULL;
}

void cur_avro_free(cur_avro *a) {
    if (!a) return;
    if (a->rec.iface) avro_value_decref(&a->rec);
    if (a->iface) avro_value_iface_decref(a->iface);
    if (a->schema) avro_schema_decref(a->schema);
    free(a->json);
    free(a->fields);
    free(a);
}

const char *cur_avro_schema(const cur_avro *a) { return a->json; }

static const char *jtype(json_object *v) { return json_type_to_name(json_object_get_type(v)); }

/* Sets v (of f's type, not the union) from j; false when j's type does not fit. */
static bool set_value(const field *f, avro_value_t *v, json_object *j) {
    json_type t = json_object_get_type(j);
    switch (f->type) {
    case F_STRING:
        return t == json_type_string &&
               !avro_value_set_string_len(v, json_object_get_string(j), (size_t)json_object_get_string_len(j) + 1);
    case F_INT: {
        int64_t n = json_object_get_int64(j);
        return t == json_type_int && n >= INT32_MIN && n <= INT32_MAX && !avro_value_set_int(v, (int32_t)n);
    }
    case F_LONG:
        return t == json_type_int && !avro_value_set_long(v, json_object_get_int64(j));
    case F_FLOAT:
        return (t == json_type_int || t == json_type_double) && !avro_value_set_float(v, (float)json_object_get_double(j));
    case F_BOOLEAN:
        return t == json_type_boolean && !avro_value_set_boolean(v, json_object_get_boolean(j));
    case F_STRINGS:
        if (t != json_type_array) return false;
        for (size_t i = 0, n = json_object_array_length(j); i < n; i++) {
            json_object *e = json_object_array_get_idx(j, i);
            avro_value_t ev;
            if (json_object_get_type(e) != json_type_string || avro_value_append(v, &ev, NULL) ||
                avro_value_set_string_len(&ev, json_object_get_string(e), (size_t)json_object_get_string_len(e) + 1))
                return false;
        }
        return true;
    }
    return false;
}

int cur_avro_encode(cur_avro *a, json_object *ev, buf_t *out, char *err, size_t errlen) {
    avro_value_reset(&a->rec);
    for (int i = 0; i < a->nfields; i++) {
        const field *f = &a->fields[i];
        json_object *j = NULL;
        json_object_object_get_ex(ev, f->name, &j);
        avro_value_t v, branch;
        avro_value_get_by_index(&a->rec, (size_t)i, &v, NULL);
        if (!j) { /* absent or null */
            if (f->required) return snprintf(err, errlen, "%s: required field %s is missing", a->type, f->name), -1;
            avro_value_set_branch(&v, 0, &branch);
            avro_value_set_null(&branch);
            continue;
        }
        if (!f->required) avro_value_set_branch(&v, 1, &branch);
        if (!set_value(f, f->required ? &v : &branch, j)) {
            snprintf(err, errlen, "%s: field %s is %s, not %s", a->type, f->name, jtype(j),
                     f->type == F_STRINGS ? "an array of strings" : ftype_names[f->type]);
            return -1;
        }
    }
    size_t n = 0;
    if (avro_value_sizeof(&a->rec, &n)) return snprintf(err, errlen, "%s: %s", a->type, avro_strerror()), -1;
    buf_reserve(out, n);
    avro_writer_t w = avro_writer_memory(out->data + out->len, (int64_t)n);
    int rc = avro_value_write(w, &a->rec);
    avro_writer_free(w);
    if (rc) return snprintf(err, errlen, "%s: %s", a->type, avro_strerror()), -1;
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

/* ---- the container (Avro spec, "Object Container Files") ---------------- */

static void put_long(buf_t *b, int64_t v) {
    uint8_t tmp[VARINT_MAX];
    buf_append(b, tmp, varint_put(tmp, zigzag(v)));
}

static void put_bytes(buf_t *b, const char *s, size_t n) {
    put_long(b, (int64_t)n);
    buf_append(b, s, n);
}

void cur_avro_header(const cur_avro *a, const uint8_t sync[CUR_AVRO_SYNC], buf_t *out) {
    buf_append(out, "Obj\x01", 4);
    put_long(out, 2); /* the metadata map: one block of two entries */
    put_bytes(out, "avro.codec", 10);
    put_bytes(out, "null", 4);
    put_bytes(out, "avro.schema", 11);
    put_bytes(out, a->json, strlen(a->json));
    put_long(out, 0);
    buf_append(out, sync, CUR_AVRO_SYNC);
}

void cur_avro_block(int64_t n, const void *data, size_t len, const uint8_t sync[CUR_AVRO_SYNC], buf_t *out) {
    put_long(out, n);
    put_long(out, (int64_t)len);
    buf_append(out, data, len);
    buf_append(out, sync, CUR_AVRO_SYNC);
}
