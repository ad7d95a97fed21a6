/* json.h -- the small json-c helpers every module that reads JSON shares.
 *
 * One rule for absent fields: a key that is missing and a key whose value
 * is null mean the same (Braze's clients send both), so the getters return
 * NULL for either. Type checks stay with the caller, which knows what
 * message to give. */
#ifndef BR_JSON_H
#define BR_JSON_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How brasa serialises: compact, and '/' left alone (json-c escapes it). */
#define JSON_PLAIN (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* The nesting json-c accepts, in request bodies and in what brasa stored
 * from them: one limit, so nothing admitted fails to read back. */
#define JSON_MAX_DEPTH 64

/* The value of key k in object o, or NULL when o is not an object, k is
 * absent, or its value is null. */
json_object *json_get(json_object *o, const char *k);
/* The string value of k and its length, or NULL when it is not a string. */
const char *json_str(json_object *o, const char *k, size_t *n);
/* A string value's bytes and length (v must be a string). */
const char *json_strlen(json_object *v, size_t *n);
/* A time (ms since the epoch) as Braze writes it: "2024-01-02T03:04:05.678Z";
 * json_time_or_null gives null for 0 (never set). */
json_object *json_time(int64_t ms);
json_object *json_time_or_null(int64_t ms);
/* v serialised (JSON_PLAIN); valid until v changes or is freed. */
const char *json_text(json_object *v, size_t *n);

/* Parses a JSON document brasa stored (a segment definition, an attribute
 * value, a field list): strict, JSON_MAX_DEPTH deep, the whole of s[0..n).
 * NULL when it does not parse. */
json_object *json_parse(const char *s, size_t n);

/* Checks a request body before and after json-c parsed it, for what json-c
 * lets through but brasa could not give back as valid JSON:
 * json_check_raw: the bytes are strict UTF-8 (utf8.h), hold no NUL, and no
 * string holds an escaped one (\u0000: json-c cuts keys at it, C APIs cut
 * values);
 * json_check_numbers: every number is finite (json-c reads NaN, Infinity
 * and 1e999 even in strict mode). Return true, or false with a message
 * naming the byte offset or the problem in why. */
bool json_check_raw(const char *p, size_t n, char *why, size_t whylen);
/* A request body as the API reads it (the server's, and the CLI's for the
 * same bodies from files): strict UTF-8 JSON, JSON_MAX_DEPTH deep, one
 * value and whitespace, finite numbers, and the checks above. p[n] must be
 * a NUL (json-c needs it to end a bare number). Returns 0 and *out (a new
 * reference), or BR_EJSON with the reason and byte offset in why. */
int json_parse_body(const char *p, size_t n, json_object **out, char *why, size_t whylen);
bool json_check_numbers(json_object *o);

#endif
