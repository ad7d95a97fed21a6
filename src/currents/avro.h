/* avro.h -- Currents' Avro records and object container framing, for the
 * storage files (files.c). Not libavro's <avro.h>, which avro.c uses for
 * the schemas and the binary encoding of records.
 *
 * One schema per event type, as Braze's storage export has them: a flat
 * record named after the type's last segment, in the namespace
 * "dataexport.Local.inner.<the type's other segments>", required fields
 * plain, the others ["null", T] with default null. */
#ifndef BR_CURRENTS_AVRO_H
#define BR_CURRENTS_AVRO_H
#include "../lib/buf.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#define CUR_AVRO_SYNC 16 /* the container's sync marker */

typedef struct cur_avro cur_avro;

/* The schema of event type `type` and a record to encode with, or NULL
 * when brasa has no schema for it. Freed with cur_avro_free. */
cur_avro *cur_avro_new(const char *type);
void cur_avro_free(cur_avro *a);
/* The schema as JSON (what a container's header carries). */
const char *cur_avro_schema(const cur_avro *a);

/* Appends the binary encoding of the flat record ev to out: absent or null
 * nullable fields are null, fields the schema lacks are ignored. Returns
 * 0, or -1 with why in err (naming the field) when a required field is
 * absent or any field has a JSON type its Avro type cannot take; out is
 * then as it was. */
int cur_avro_encode(cur_avro *a, json_object *ev, buf_t *out, char *err, size_t errlen);

/* A container's header (magic, codec null, schema, sync marker) and one
 * block of n records whose encodings are data[0..len). */
void cur_avro_header(const cur_avro *a, const uint8_t sync[CUR_AVRO_SYNC], buf_t *out);
void cur_avro_block(int64_t n, const void *data, size_t len, const uint8_t sync[CUR_AVRO_SYNC], buf_t *out);

#endif
