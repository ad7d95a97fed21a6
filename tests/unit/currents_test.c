/* currents_test.c -- unit tests for Currents' connector settings
 * (src/currents/config.c: every refusal, the defaults, `start`, the
 * settings shown without secrets), the Custom HTTP body (format.c, parsed
 * back) and the store (src/store/currents.c against a real store in a temp
 * dir: cursors from a start, the connector limit, edits, replays and
 * stale progress, the dead letter, outbox reads, lag and trimming).
 * The partners' bodies are in currents_partners_test.c; delivery through
 * a real runner in tests/e2e/currents.test.js. */
#include "test.h"
#include "fixture.h"
#include "currents/currents.h"
#include "currents/internal.h"
#include "lib/err.h"
#include "lib/json.h"
#include "store/currents.h"
#include "store/journal.h"
#include "store/store.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* JSON written with ' for " (tests read better so): parsed, or NULL. */
static json_object *jq(const char *s) {
    char *t = strdup(s);
    for (char *p = t; *p; p++)
        if (*p == '\'') *p = '"';
    json_object *o = json_parse(t, strlen(t));
    free(t);
    return o;
}

/* cur_check's answer for a connector: "" when it passes. */
static const char *check(const char *json) {
    static char why[400];
    json_object *o = jq(json);
    int64_t start;
    why[0] = 0;
    int rc = cur_check(o, &start, why, sizeof why);
    if (rc < 0 && !why[0]) snprintf(why, sizeof why, "(refused without a reason)");
    if (rc == 0 && why[0]) snprintf(why, sizeof why, "(passed with a reason)");
    json_object_put(o);
    return why;
}

#define HTTP "'name':'c','type':'custom_http','url':'https://x.example/in'"
#define AMP "'name':'a','type':'amplitude','api_key':'k'"
#define MP "'name':'m','type':'mixpanel','api_secret':'s','project_token':'t'"
#define FILES "'name':'f','type':'files','dir':'/srv/currents'"

TEST(currents_conf_refusals) {
    T_EQ_STR(check("{" HTTP "}"), "");
    T_EQ_STR(check("{" AMP "}"), "");
    T_EQ_STR(check("{" MP "}"), "");
    T_EQ_STR(check("{" FILES "}"), "");
    T_EQ_STR(check("[]"), "the connector must be a JSON object");
    T_EQ_STR(check("'x'"), "the connector must be a JSON object");
    T_EQ_STR(check("null"), "the connector must be a JSON object");
    T_EQ_STR(check("{" HTTP ",'urls':'x'}"), "unknown field 'urls'");
    T_EQ_STR(check("{" HTTP ",'api_key':'k','retries':1}"), "unknown field 'retries'");
    T_EQ_STR(check("{'type':'custom_http','url':'https://x.example/'}"), "'name' is required and must be a string");
    T_EQ_STR(check("{'name':7,'type':'custom_http','url':'https://x.example/'}"),
             "'name' is required and must be a string");
    const char *name_why = "'name' must be 1 to 64 letters, digits, '_', '-' or '.'";
    T_EQ_STR(check("{'name':'','type':'custom_http','url':'https://x.example/'}"), name_why);
    T_EQ_STR(check("{'name':'a b','type':'custom_http','url':'https://x.example/'}"), name_why);
    T_EQ_STR(check("{'name':'a/b','type':'custom_http','url':'https://x.example/'}"), name_why);
    T_EQ_STR(check("{'name':'a\\u0000b','type':'custom_http','url':'https://x.example/'}"), name_why);
    char longname[66], j[200];
    memset(longname, 'x', 64);
    longname[64] = 0;
    snprintf(j, sizeof j, "{'name':'%s','type':'custom_http','url':'https://x.example/'}", longname);
    T_EQ_STR(check(j), "");
    strcat(longname, "y");
    snprintf(j, sizeof j, "{'name':'%s','type':'custom_http','url':'https://x.example/'}", longname);
    T_EQ_STR(check(j), name_why);
    const char *type_why = "'type' must be custom_http, amplitude, mixpanel or files";
    T_EQ_STR(check("{'name':'c','url':'https://x.example/'}"), type_why);
    T_EQ_STR(check("{'name':'c','type':'webhook','url':'https://x.example/'}"), type_why);
    T_EQ_STR(check("{'name':'c','type':'Custom_HTTP','url':'https://x.example/'}"), type_why);
    T_EQ_STR(check("{'name':'c','type':['files'],'dir':'/d'}"), type_why);
    T_EQ_STR(check("{'name':'c','type':'custom_http\\u0000x','url':'https://x.example/'}"), type_why);
    /* the string fields */
    T_EQ_STR(check("{'name':'c','type':'custom_http','url':''}"), "'url' must be a non-empty string of at most 2048 bytes");
    T_EQ_STR(check("{'name':'c','type':'custom_http','url':5}"), "'url' must be a non-empty string of at most 2048 bytes");
    T_EQ_STR(check("{" HTTP ",'token':'a\\u0000b'}"), "'token' must be a non-empty string of at most 4096 bytes");
    T_EQ_STR(check("{" HTTP ",'token':'a\\nb'}"), "'token' must not hold control characters");
    T_EQ_STR(check("{" HTTP ",'token':'a\\u007fb'}"), "'token' must not hold control characters");
    T_EQ_STR(check("{" HTTP ",'token':'Bearer-ish t\\u00f6ken'}"), ""); /* UTF-8 is no control character */
    T_EQ_STR(check("{" HTTP ",'token':null}"), "");                    /* null: absent */
    T_EQ_STR(check("{'name':'a','type':'amplitude','api_key':true}"), "'api_key' must be a non-empty string of at most 512 bytes");
    T_EQ_STR(check("{'name':'m','type':'mixpanel','api_secret':'','project_token':'t'}"),
             "'api_secret' must be a non-empty string of at most 512 bytes");
    T_EQ_STR(check("{'name':'m','type':'mixpanel','api_secret':'s','project_token':{}}"),
             "'project_token' must be a non-empty string of at most 512 bytes");
    T_EQ_STR(check("{'name':'f','type':'files','dir':''}"), "'dir' must be a non-empty string of at most 4000 bytes");
    T_EQ_STR(check("{" FILES ",'prefix':'a\\tb'}"), "'prefix' must not hold control characters");
    T_EQ_STR(check("{" FILES ",'cluster':''}"), "'cluster' must be a non-empty string of at most 64 bytes");
    T_EQ_STR(check("{" HTTP ",'ca_file':7}"), "'ca_file' must be a non-empty string of at most 4000 bytes");
    T_EQ_STR(check("{" AMP ",'region':'us'}"), "'region' must be US or EU");
    T_EQ_STR(check("{" AMP ",'region':'EUROPE'}"), "'region' must be US or EU");
    T_EQ_STR(check("{" AMP ",'region':'EUROPEAN'}"), "'region' must be US or EU");
    T_EQ_STR(check("{" AMP ",'region':'EUROPEAN1'}"), "'region' must be a non-empty string of at most 8 bytes");
    T_EQ_STR(check("{" FILES ",'format':'csv'}"), "'format' must be avro or ndjson");
    T_EQ_STR(check("{" FILES ",'format':1}"), "'format' must be a non-empty string of at most 8 bytes");
    /* fields of other types */
    T_EQ_STR(check("{" FILES ",'url':'https://x.example/'}"), "'url' does not apply to a files connector");
    T_EQ_STR(check("{" AMP ",'token':'t'}"), "'token' does not apply to a amplitude connector");
    T_EQ_STR(check("{" HTTP ",'api_key':'k'}"), "'api_key' does not apply to a custom_http connector");
    T_EQ_STR(check("{" AMP ",'api_secret':'s'}"), "'api_secret' does not apply to a amplitude connector");
    T_EQ_STR(check("{" HTTP ",'project_token':'t'}"), "'project_token' does not apply to a custom_http connector");
    T_EQ_STR(check("{" HTTP ",'region':'EU'}"), "'region' does not apply to a custom_http connector");
    T_EQ_STR(check("{" FILES ",'timeout_ms':5000}"), "'timeout_ms' does not apply to a files connector");
    T_EQ_STR(check("{" FILES ",'ca_file':'/etc/hosts'}"), "'ca_file' does not apply to a files connector");
    T_EQ_STR(check("{" HTTP ",'dir':'/d'}"), "'dir' does not apply to a custom_http connector");
    T_EQ_STR(check("{" MP ",'prefix':'p'}"), "'prefix' does not apply to a mixpanel connector");
    T_EQ_STR(check("{" HTTP ",'cluster':'c'}"), "'cluster' does not apply to a custom_http connector");
    T_EQ_STR(check("{" HTTP ",'format':'ndjson'}"), "'format' does not apply to a custom_http connector");
    T_EQ_STR(check("{" HTTP ",'max_bytes':100000}"), "'max_bytes' does not apply to a custom_http connector");
    T_EQ_STR(check("{" AMP ",'max_age_seconds':60}"), "'max_age_seconds' does not apply to a amplitude connector");
    /* what each type needs */
    T_EQ_STR(check("{'name':'c','type':'custom_http'}"), "a custom_http connector needs 'url'");
    T_EQ_STR(check("{'name':'c','type':'custom_http','token':'t'}"), "a custom_http connector needs 'url'");
    T_EQ_STR(check("{'name':'a','type':'amplitude'}"), "an amplitude connector needs 'api_key' (the project's API key)");
    T_EQ_STR(check("{'name':'a','type':'amplitude','url':'https://x.example/'}"),
             "an amplitude connector needs 'api_key' (the project's API key)");
    const char *mp_why = "a mixpanel connector needs 'api_secret' and 'project_token'";
    T_EQ_STR(check("{'name':'m','type':'mixpanel'}"), mp_why);
    T_EQ_STR(check("{'name':'m','type':'mixpanel','api_secret':'s'}"), mp_why);
    T_EQ_STR(check("{'name':'m','type':'mixpanel','project_token':'t'}"), mp_why);
    const char *dir_why = "a files connector needs 'dir', an absolute directory";
    T_EQ_STR(check("{'name':'f','type':'files'}"), dir_why);
    T_EQ_STR(check("{'name':'f','type':'files','dir':'srv/currents'}"), dir_why);
    const char *prefix_why = "'prefix' must be a relative path of letters, digits and _-.= (no '..')";
    T_EQ_STR(check("{" FILES ",'prefix':'exports/brasa_v1/dt=2026'}"), "");
    T_EQ_STR(check("{" FILES ",'prefix':'a/'}"), ""); /* a trailing slash: no empty segment after it */
    const char *bad_prefixes[] = {"/abs", "a/../b", "..", ".", "a/./b", "a//b", "a b", "a\\\\b", "caf\\u00e9", "a:b"};
    for (size_t i = 0; i < sizeof bad_prefixes / sizeof *bad_prefixes; i++) {
        snprintf(j, sizeof j, "{" FILES ",'prefix':'%s'}", bad_prefixes[i]);
        T_EQ_STR(check(j), prefix_why);
    }
    const char *cluster_why = "'cluster' must be lowercase letters, digits and '-'";
    T_EQ_STR(check("{" FILES ",'cluster':'eu-west-2'}"), "");
    T_EQ_STR(check("{" FILES ",'cluster':'EU'}"), cluster_why);
    T_EQ_STR(check("{" FILES ",'cluster':'a_b'}"), cluster_why);
    T_EQ_STR(check("{" FILES ",'cluster':'a/b'}"), cluster_why);
    const char *url_why = "'url' must be an absolute http:// or https:// URL";
    const char *bad_urls[] = {"ftp://x.example/", "x.example/in", "https://", "https:///in", "http://a b/", "mailto:a@b"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        snprintf(j, sizeof j, "{'name':'c','type':'custom_http','url':'%s'}", bad_urls[i]);
        T_EQ_STR(check(j), url_why);
    }
    T_EQ_STR(check("{'name':'c','type':'custom_http','url':'https://x.example/a\\rb'}"),
             "'url' must not hold control characters");
    T_EQ_STR(check("{" AMP ",'url':'amplitude.com'}"), url_why);
    T_EQ_STR(check("{" HTTP ",'url':'HTTP://127.0.0.1:9/x?y=1'}"), "");
    const char *ca_why = "'ca_file' must be an absolute path to a readable PEM file of CA certificates";
    T_EQ_STR(check("{" HTTP ",'ca_file':'etc/hosts'}"), ca_why);
    T_EQ_STR(check("{" HTTP ",'ca_file':'/no/such/ca.pem'}"), ca_why);
    T_EQ_STR(check("{" HTTP ",'ca_file':'/etc/hosts'}"), ""); /* read, not parsed, here: the sink reads it */
    const char *types_why = "'event_types' must be a non-empty array of event type names";
    T_EQ_STR(check("{" HTTP ",'event_types':[]}"), types_why);
    T_EQ_STR(check("{" HTTP ",'event_types':'users.behaviors.Purchase'}"), types_why);
    T_EQ_STR(check("{" HTTP ",'event_types':{}}"), types_why);
    T_EQ_STR(check("{" HTTP ",'event_types':['users.behaviors.Purchase',3]}"), "'event_types' must hold strings");
    T_EQ_STR(check("{" HTTP ",'event_types':[null]}"), "'event_types' must hold strings");
    T_EQ_STR(check("{" HTTP ",'event_types':['users.behaviors.Purchase','users.messages.sms.Send']}"),
             "unknown event type 'users.messages.sms.Send' in 'event_types'");
    T_EQ_STR(check("{" HTTP ",'event_types':['users.behaviors.purchase']}"),
             "unknown event type 'users.behaviors.purchase' in 'event_types'");
    /* integers, with each type's batch limit */
    T_EQ_STR(check("{" HTTP ",'batch_size':0}"), "'batch_size' must be an integer from 1 to 100");
    T_EQ_STR(check("{" HTTP ",'batch_size':101}"), "'batch_size' must be an integer from 1 to 100");
    T_EQ_STR(check("{" HTTP ",'batch_size':'10'}"), "'batch_size' must be an integer from 1 to 100");
    T_EQ_STR(check("{" HTTP ",'batch_size':10.0}"), "'batch_size' must be an integer from 1 to 100");
    T_EQ_STR(check("{" HTTP ",'batch_size':100}"), "");
    T_EQ_STR(check("{" AMP ",'batch_size':1001}"), "'batch_size' must be an integer from 1 to 1000");
    T_EQ_STR(check("{" AMP ",'batch_size':1000}"), "");
    T_EQ_STR(check("{" MP ",'batch_size':2001}"), "'batch_size' must be an integer from 1 to 2000");
    T_EQ_STR(check("{" FILES ",'batch_size':10001}"), "'batch_size' must be an integer from 1 to 10000");
    T_EQ_STR(check("{" FILES ",'batch_size':-1}"), "'batch_size' must be an integer from 1 to 10000");
    T_EQ_STR(check("{" HTTP ",'timeout_ms':999}"), "'timeout_ms' must be an integer from 1000 to 600000");
    T_EQ_STR(check("{" HTTP ",'timeout_ms':600001}"), "'timeout_ms' must be an integer from 1000 to 600000");
    T_EQ_STR(check("{" HTTP ",'timeout_ms':99999999999999999999999}"), "'timeout_ms' must be an integer from 1000 to 600000");
    T_EQ_STR(check("{" FILES ",'max_bytes':4095}"), "'max_bytes' must be an integer from 4096 to 4294967296");
    T_EQ_STR(check("{" FILES ",'max_bytes':4294967297}"), "'max_bytes' must be an integer from 4096 to 4294967296");
    T_EQ_STR(check("{" FILES ",'max_bytes':4294967296}"), "");
    T_EQ_STR(check("{" FILES ",'max_age_seconds':0}"), "'max_age_seconds' must be an integer from 1 to 86400");
    T_EQ_STR(check("{" FILES ",'max_age_seconds':86401}"), "'max_age_seconds' must be an integer from 1 to 86400");
    T_EQ_STR(check("{" FILES ",'max_age_seconds':true}"), "'max_age_seconds' must be an integer from 1 to 86400");
    const char *start_why = "'start' must be \"latest\", \"earliest\" or an ISO 8601 time";
    T_EQ_STR(check("{" HTTP ",'start':'now'}"), start_why);
    T_EQ_STR(check("{" HTTP ",'start':'Latest'}"), start_why);
    T_EQ_STR(check("{" HTTP ",'start':0}"), start_why);
    T_EQ_STR(check("{" HTTP ",'start':['earliest']}"), start_why);
    T_EQ_STR(check("{" HTTP ",'start':'1970-01-01T00:00:00Z'}"), start_why);
    T_EQ_STR(check("{" HTTP ",'start':'2026-02-30T00:00:00Z'}"), start_why);
    T_EQ_STR(check("{" HTTP ",'start':''}"), start_why);
}

/* cur_conf_parse of a connector (which must pass), with its start. */
static int parse(const char *json, cur_conf *c, int64_t *start) {
    char why[400] = "";
    json_object *o = jq(json);
    int rc = cur_conf_parse(o, c, start, why, sizeof why);
    if (rc < 0) printf("    refused: %s\n", why);
    json_object_put(o);
    return rc;
}

TEST(currents_conf_defaults) {
    cur_conf c;
    int64_t start = 7;
    T_EQ_INT(parse("{" HTTP "}", &c, &start), 0);
    T_EQ_STR(c.name, "c");
    T_EQ_INT(c.type, CUR_CUSTOM_HTTP);
    T_EQ_STR(cur_type_name(c.type), "custom_http");
    T_EQ_STR(c.url, "https://x.example/in");
    T_TRUE(!c.token && !c.api_key && !c.api_secret && !c.project_token && !c.ca_file && !c.dir);
    T_TRUE(!c.prefix && !c.cluster); /* the files layout's only */
    T_TRUE(!c.event_types && c.n_types == 0); /* every type */
    T_EQ_INT(c.batch_size, 100);
    T_EQ_INT(c.timeout_ms, 30000);
    T_EQ_INT(start, -1); /* latest: Braze's way */
    cur_conf_free(&c);
    T_TRUE(!c.name && !c.url);
    cur_conf_free(&c); /* twice: harmless */

    T_EQ_INT(parse("{" HTTP ",'token':'t0k','batch_size':7,'timeout_ms':1000,'start':'earliest',"
                   "'event_types':['users.behaviors.Purchase','brasa.cohorts.Change']}",
                   &c, &start),
             0);
    T_EQ_STR(c.token, "t0k");
    T_EQ_INT(c.batch_size, 7);
    T_EQ_INT(c.timeout_ms, 1000);
    T_EQ_INT(start, 0);
    T_EQ_INT(c.n_types, 2);
    T_EQ_STR(c.event_types[0], "users.behaviors.Purchase");
    T_EQ_STR(c.event_types[1], "brasa.cohorts.Change");
    cur_conf_free(&c);

    T_EQ_INT(parse("{" FILES "}", &c, &start), 0);
    T_EQ_INT(c.type, CUR_FILES);
    T_TRUE(!c.url);
    T_EQ_STR(c.dir, "/srv/currents");
    T_EQ_STR(c.prefix, "");
    T_EQ_STR(c.cluster, "brasa-01");
    T_EQ_INT(c.format, CUR_AVRO);
    T_EQ_INT(c.batch_size, 1000);
    T_EQ_INT(c.max_bytes, 64 << 20);
    T_EQ_INT(c.max_age_ms, 300000);
    cur_conf_free(&c);
    T_EQ_INT(parse("{" FILES ",'prefix':'p/q','cluster':'c-2','format':'ndjson','max_bytes':4096,'max_age_seconds':1,"
                   "'batch_size':10000}",
                   &c, NULL),
             0);
    T_EQ_STR(c.prefix, "p/q");
    T_EQ_STR(c.cluster, "c-2");
    T_EQ_INT(c.format, CUR_NDJSON);
    T_EQ_INT(c.max_bytes, 4096);
    T_EQ_INT(c.max_age_ms, 1000);
    T_EQ_INT(c.batch_size, 10000);
    cur_conf_free(&c);
    T_EQ_INT(parse("{" FILES ",'format':'avro'}", &c, NULL), 0);
    T_EQ_INT(c.format, CUR_AVRO);
    cur_conf_free(&c);

    /* the partners: their region's endpoint unless url says otherwise */
    T_EQ_INT(parse("{" AMP "}", &c, NULL), 0);
    T_EQ_STR(c.url, "https://api2.amplitude.com/batch");
    T_TRUE(!c.eu);
    T_EQ_INT(c.batch_size, 100);
    T_EQ_INT(c.timeout_ms, 30000);
    cur_conf_free(&c);
    T_EQ_INT(parse("{" AMP ",'region':'EU'}", &c, NULL), 0);
    T_EQ_STR(c.url, "https://api.eu.amplitude.com/batch");
    T_TRUE(c.eu);
    cur_conf_free(&c);
    T_EQ_INT(parse("{" MP ",'region':'US'}", &c, NULL), 0);
    T_EQ_STR(c.url, "https://api.mixpanel.com/import?strict=1");
    T_EQ_STR(c.api_secret, "s");
    T_EQ_STR(c.project_token, "t");
    cur_conf_free(&c);
    T_EQ_INT(parse("{" MP ",'region':'EU'}", &c, NULL), 0);
    T_EQ_STR(c.url, "https://api-eu.mixpanel.com/import?strict=1");
    cur_conf_free(&c);
    T_EQ_INT(parse("{" AMP ",'region':'EU','url':'http://127.0.0.1:9/batch'}", &c, NULL), 0);
    T_EQ_STR(c.url, "http://127.0.0.1:9/batch");
    cur_conf_free(&c);

    /* the stored text: `start` is not read again (it was used once) */
    char why[200];
    T_EQ_INT(cur_conf_parse_text("{\"name\":\"c\",\"type\":\"custom_http\",\"url\":\"http://h/\",\"start\":\"earliest\"}",
                                 &c, why, sizeof why),
             0);
    cur_conf_free(&c);
    T_EQ_INT(cur_conf_parse_text("{not json", &c, why, sizeof why), BR_EINVAL);
    T_EQ_STR(why, "the stored settings are not JSON");
    T_EQ_INT(cur_conf_parse_text("{\"name\":\"c\",\"type\":\"custom_http\"}", &c, why, sizeof why), BR_EINVAL);
    T_EQ_STR(why, "a custom_http connector needs 'url'");
    T_TRUE(!c.name); /* a refusal frees what it had taken */
}

TEST(currents_conf_start) {
    struct {
        const char *start;
        int64_t ms;
    } rows[] = {
        {"latest", -1},
        {"earliest", 0},
        {"2026-12-01T00:00:00Z", 1796083200000LL},
        {"2026-12-01T00:00:00.250+01:00", 1796079600250LL},
        {"2026-12-01", 1796083200000LL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char j[200];
        snprintf(j, sizeof j, "{" HTTP ",'start':'%s'}", rows[i].start);
        cur_conf c;
        int64_t start = 12345;
        T_EQ_INT(parse(j, &c, &start), 0);
        T_EQ_INT(start, rows[i].ms);
        cur_conf_free(&c);
        int64_t ms = 12345;
        T_EQ_INT(cur_parse_from(rows[i].start, &ms), 0);
        T_EQ_INT(ms, rows[i].ms);
    }
    int64_t ms;
    T_EQ_INT(cur_parse_from("soon", &ms), BR_EINVAL);
    T_EQ_INT(cur_parse_from("1969-12-31T23:59:59Z", &ms), BR_EINVAL);
    /* null: as absent */
    cur_conf c;
    int64_t start = 5;
    T_EQ_INT(parse("{" HTTP ",'start':null}", &c, &start), 0);
    T_EQ_INT(start, -1);
    cur_conf_free(&c);
}

TEST(currents_conf_public_hides_secrets) {
    json_object *o = cur_conf_public("{\"name\":\"c\",\"type\":\"custom_http\",\"url\":\"https://x.example/in\","
                                     "\"token\":\"s3cret\",\"start\":\"earliest\",\"batch_size\":5,"
                                     "\"event_types\":[\"users.behaviors.Purchase\"],\"ca_file\":\"/etc/ca.pem\"}");
    json_object *want = jq("{'url':'https://x.example/in','token_set':true,'batch_size':5,"
                           "'event_types':['users.behaviors.Purchase'],'ca_file':'/etc/ca.pem'}");
    T_TRUE(json_object_equal(o, want));
    json_object_put(o);
    json_object_put(want);
    o = cur_conf_public("{\"name\":\"a\",\"type\":\"amplitude\",\"api_key\":\"k3y\",\"region\":\"EU\"}");
    want = jq("{'api_key_set':true,'region':'EU'}");
    T_TRUE(json_object_equal(o, want));
    json_object_put(o);
    json_object_put(want);
    o = cur_conf_public("{\"name\":\"m\",\"type\":\"mixpanel\",\"api_secret\":\"s3c\",\"project_token\":\"pt\"}");
    want = jq("{'api_secret_set':true,'project_token':'pt'}");
    T_TRUE(json_object_equal(o, want));
    size_t n;
    const char *text = json_text(o, &n);
    T_TRUE(!strstr(text, "s3c"));
    json_object_put(o);
    json_object_put(want);
    o = cur_conf_public("{\"name\":\"f\",\"type\":\"files\",\"dir\":\"/d\",\"format\":\"ndjson\",\"max_bytes\":4096}");
    want = jq("{'dir':'/d','format':'ndjson','max_bytes':4096}");
    T_TRUE(json_object_equal(o, want));
    json_object_put(o);
    json_object_put(want);
}

TEST(currents_new_id) {
    char a[25], b[25];
    cur_new_id(a);
    cur_new_id(b);
    T_EQ_INT(strlen(a), 24);
    T_EQ_INT(strspn(a, "0123456789abcdef"), 24);
    T_TRUE(strcmp(a, b) != 0);
}

/* ---- the Custom HTTP body ------------------------------------------------ */

/* The Custom HTTP body of a JSON array of flat records, parsed back
 * (strictly: one JSON value, nothing after it); *held what the formatter
 * said the body holds. */
static json_object *custom_body(const char *records, int *held) {
    json_object *arr = json_tokener_parse(records);
    int n = arr ? (int)json_object_array_length(arr) : 0;
    cur_event ev[16];
    for (int i = 0; i < n && i < 16; i++) {
        json_object *o = json_object_array_get_idx(arr, (size_t)i);
        ev[i] = (cur_event){o, json_str(o, "event_type", NULL), json_str(o, "id", NULL)};
    }
    cur_conf c = {.type = CUR_CUSTOM_HTTP, .url = "http://h/"};
    buf_t out = BUF_INIT;
    *held = cur_fmt_custom_http(&c, ev, n, &out);
    json_object *o = json_parse(out.data, out.len);
    buf_free(&out);
    json_object_put(arr);
    return o;
}

/* got equals the JSON want (written with '), or the test fails. */
#define T_JSON(got, want) T_JSON_AS(got, jq(want), want)

static json_object *nth_event(json_object *body, int i) {
    json_object *evs = json_get(body, "events");
    return json_object_array_get_idx(evs, (size_t)i);
}

TEST(currents_custom_http_projection) {
    int held;
    json_object *o = custom_body(
        "[{\"id\":\"0000000000000001-0000-0000\",\"event_type\":\"users.behaviors.CustomEvent\","
        "\"user_id\":\"65a000000000000000000001\",\"external_user_id\":\"ana\",\"app_id\":\"app-1\",\"time\":1796083200,"
        "\"name\":\"played\",\"properties\":\"{\\\"n\\\":1,\\\"f\\\":1.5,\\\"on\\\":false,\\\"list\\\":[\\\"a\\\",2],"
        "\\\"nested\\\":{\\\"x\\\":null},\\\"t\\\":\\\"2026-12-01T00:00:00Z\\\"}\"},"
        "{\"id\":\"0000000000000001-0001-0000\",\"event_type\":\"users.behaviors.Purchase\","
        "\"user_id\":\"65a000000000000000000001\",\"external_user_id\":\"ana\",\"time\":1796083201,"
        "\"product_id\":\"sku-1\",\"price\":9.99,\"currency\":\"EUR\",\"properties\":\"{\\\"color\\\":\\\"red\\\"}\"},"
        "{\"id\":\"0000000000000001-0001-0001\",\"event_type\":\"users.behaviors.Purchase\","
        "\"user_id\":\"65a000000000000000000001\",\"time\":1796083201,\"product_id\":\"sku-1\",\"price\":0,"
        "\"currency\":\"USD\",\"properties\":\"{}\"},"
        "{\"id\":\"d1-65a000000000000000000002-send\",\"event_type\":\"users.messages.email.Send\","
        "\"user_id\":\"65a000000000000000000002\",\"external_user_id\":\"bo\",\"device_id\":\"dev-9\","
        "\"timezone\":\"Europe/Lisbon\",\"time\":1796083300,\"dispatch_id\":\"d1\",\"campaign_id\":\"c1\","
        "\"campaign_name\":null,\"send_id\":null,\"email_address\":\"bo@x.org\",\"is_amp\":true,\"count\":3,"
        "\"tags\":[\"a\",\"b\"],\"message_extras\":\"{\\\"k\\\":\\\"v\\\"}\"},"
        "{\"id\":\"t1\",\"event_type\":\"agentconsole.ToolInvocation\",\"time\":5,\"tool_name\":\"x\"}]",
        &held);
    T_EQ_INT(held, 5);
    T_TRUE(o && json_object_object_length(o) == 1);
    T_EQ_INT(json_object_array_length(json_get(o, "events")), 5);
    /* CustomEvent: the JSON-string properties become a real object */
    T_JSON(nth_event(o, 0), "{'event_type':'users.behaviors.CustomEvent','id':'0000000000000001-0000-0000',"
                            "'time':1796083200,'user':{'user_id':'65a000000000000000000001','external_user_id':'ana'},"
                            "'properties':{'app_id':'app-1','name':'played','custom_properties':{'n':1,'f':1.5,"
                            "'on':false,'list':['a',2],'nested':{'x':null},'t':'2026-12-01T00:00:00Z'}}}");
    /* Purchase: purchase_properties, price keeps its type */
    T_JSON(nth_event(o, 1), "{'event_type':'users.behaviors.Purchase','id':'0000000000000001-0001-0000',"
                            "'time':1796083201,'user':{'user_id':'65a000000000000000000001','external_user_id':'ana'},"
                            "'properties':{'product_id':'sku-1','price':9.99,'currency':'EUR',"
                            "'purchase_properties':{'color':'red'}}}");
    T_JSON(nth_event(o, 2), "{'event_type':'users.behaviors.Purchase','id':'0000000000000001-0001-0001',"
                            "'time':1796083201,'user':{'user_id':'65a000000000000000000001'},"
                            "'properties':{'product_id':'sku-1','price':0,'currency':'USD','purchase_properties':{}}}");
    /* a messaging event: device_id and timezone move to user, nulls are
     * left out, other JSON-string fields stay strings */
    T_JSON(nth_event(o, 3), "{'event_type':'users.messages.email.Send','id':'d1-65a000000000000000000002-send',"
                            "'time':1796083300,'user':{'user_id':'65a000000000000000000002','external_user_id':'bo',"
                            "'device_id':'dev-9','timezone':'Europe/Lisbon'},'properties':{'dispatch_id':'d1',"
                            "'campaign_id':'c1','email_address':'bo@x.org','is_amp':true,'count':3,'tags':['a','b'],"
                            "'message_extras':'{\\'k\\':\\'v\\'}'}}");
    /* no identity at all: an empty user */
    T_JSON(nth_event(o, 4), "{'event_type':'agentconsole.ToolInvocation','id':'t1','time':5,'user':{},"
                            "'properties':{'tool_name':'x'}}");
    json_object_put(o);
}

TEST(currents_custom_http_properties_not_an_object) {
    int held;
    /* properties that are not a JSON object stay the string they are;
     * another type's `properties` is never renamed */
    json_object *o = custom_body(
        "[{\"id\":\"e1\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"u\",\"time\":1,\"name\":\"n\","
        "\"properties\":\"[1,2]\"},"
        "{\"id\":\"e2\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"u\",\"time\":1,\"name\":\"n\","
        "\"properties\":\"{\\\"a\\\":\"},"
        "{\"id\":\"e3\",\"event_type\":\"users.behaviors.Purchase\",\"user_id\":\"u\",\"time\":1,\"properties\":\"\"},"
        "{\"id\":\"e4\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"u\",\"time\":1,\"properties\":\"7\"},"
        "{\"id\":\"e5\",\"event_type\":\"users.messages.email.Send\",\"user_id\":\"u\",\"time\":1,"
        "\"properties\":\"{\\\"a\\\":1}\"},"
        "{\"id\":\"e6\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"u\",\"time\":1,\"properties\":null},"
        "{\"id\":\"e7\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"u\",\"time\":1,"
        "\"properties\":\"{\\\"a\\\":1} x\"}]",
        &held);
    T_EQ_INT(held, 7);
    T_TRUE(o != NULL);
    T_JSON(json_get(nth_event(o, 0), "properties"), "{'name':'n','properties':'[1,2]'}");
    T_JSON(json_get(nth_event(o, 1), "properties"), "{'name':'n','properties':'{\\'a\\':'}");
    T_JSON(json_get(nth_event(o, 2), "properties"), "{'properties':''}");
    T_JSON(json_get(nth_event(o, 3), "properties"), "{'properties':'7'}");
    T_JSON(json_get(nth_event(o, 4), "properties"), "{'properties':'{\\'a\\':1}'}");
    T_JSON(json_get(nth_event(o, 5), "properties"), "{}");
    T_JSON(json_get(nth_event(o, 6), "properties"), "{'properties':'{\\'a\\':1} x'}");
    json_object_put(o);
    /* nothing to send: an empty list, still one JSON value */
    o = custom_body("[]", &held);
    T_EQ_INT(held, 0);
    T_JSON(o, "{'events':[]}");
    json_object_put(o);
}

TEST(currents_custom_http_unicode_and_escapes) {
    /* strings as the outbox holds them (JSON-escaped), each through
     * buf_json_str and back: quotes, backslashes, control characters,
     * "</script>", non-ASCII and a character outside the BMP */
    const char *odd = "zo\\u00eb \\\"q\\\" \\\\ \\n\\t\\u0001 </script> \\u65e5\\u672c \\ud83d\\ude00 \\u2028";
    char records[2048];
    snprintf(records, sizeof records,
             "[{\"id\":\"e\\\"1\",\"event_type\":\"users.behaviors.CustomEvent\",\"user_id\":\"u1\","
             "\"external_user_id\":\"%s\",\"time\":1,\"name\":\"%s\",\"weird key \\\"\\u00e9\\\"\":\"%s\","
             "\"properties\":\"{\\\"s\\\":\\\"%s\\\",\\\"%s\\\":1}\"}]",
             odd, odd, odd, "caf\\\\u00e9 \\\\\\\"x\\\\\\\" \\\\ud83d\\\\ude00", "k\\\\u00e9y");
    json_object *in = json_tokener_parse(records);
    T_TRUE(in != NULL);
    json_object *rec = json_object_array_get_idx(in, 0);
    const char *want = json_str(rec, "external_user_id", NULL);
    T_TRUE(want && strstr(want, "\xf0\x9f\x98\x80") && strstr(want, "\"q\"") && strchr(want, 1));
    int held;
    json_object *o = custom_body(records, &held);
    T_EQ_INT(held, 1);
    T_TRUE(o != NULL);
    json_object *e = nth_event(o, 0), *user = json_get(e, "user"), *props = json_get(e, "properties");
    T_EQ_STR(json_str(e, "id", NULL), "e\"1");
    T_EQ_STR(json_str(user, "external_user_id", NULL), want);
    T_EQ_STR(json_str(props, "name", NULL), want);
    T_EQ_STR(json_str(props, "weird key \"\xc3\xa9\"", NULL), want);
    json_object *cp = json_get(props, "custom_properties");
    T_EQ_STR(json_str(cp, "s", NULL), "caf\xc3\xa9 \"x\" \xf0\x9f\x98\x80");
    T_TRUE(json_get(cp, "k\xc3\xa9y") != NULL);
    json_object_put(o);
    json_object_put(in);
}

/* ---- the store ----------------------------------------------------------- */

typedef struct {
    char *dir;
    store_t *s;
    sqlite3 *db; /* the writer's connection: the store is not started, ops run inline */
} fx;

static bool fx_open(fx *f) {
    f->dir = tmpdir();
    if (!f->dir || store_open(f->dir, &f->s) < 0) return false;
    f->db = store_db_for_tests(f->s);
    return true;
}

static void fx_close(fx *f) {
    store_close(f->s);
    rmdir_r(f->dir);
}

/* A JSON array of n events (ids "<tag>-<i>"). */
static void events(char *out, size_t cap, const char *tag, int n) {
    size_t len = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s{\"id\":\"%s-%d\",\"event_type\":\"users.behaviors.CustomEvent\"}",
                                i ? "," : "", tag, i);
    snprintf(out + len, cap - len, "]");
}

/* Outbox row seq (at ms) with n events. */
static int put_out(fx *f, int64_t seq, int64_t at, int n) {
    char ev[2048], tag[32];
    snprintf(tag, sizeof tag, "o%lld", (long long)seq);
    events(ev, sizeof ev, tag, n);
    return store_outbox_put(f->db, seq, at, ev, strlen(ev));
}

/* A message_outbox row (at ms) with n events; its id. */
static int64_t put_msg(fx *f, int64_t at, int n) {
    char ev[2048];
    events(ev, sizeof ev, "m", n);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(f->db, "INSERT INTO message_outbox (at, events) VALUES (?, ?)", -1, &st, NULL)) return -1;
    sqlite3_bind_int64(st, 1, at);
    sqlite3_bind_text(st, 2, ev, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(f->db) : -1;
}

static int64_t count(fx *f, const char *sql) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL)) return -1;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

static int add(fx *f, const char *id, const char *name, int64_t start_ms) {
    store_cur_new c = {.id = id, .name = name, .type = "custom_http",
                       .config = "{\"name\":\"x\",\"type\":\"custom_http\",\"url\":\"http://h/\"}", .start_ms = start_ms};
    return store_exec(f->s, store_cur_insert_op, &c);
}

/* The cursor of connector key, as "out_seq.out_idx/msg_id.msg_idx". */
static const char *cursor_of(fx *f, const char *key) {
    static char b[96];
    store_cur c;
    if (store_cur_get(f->db, key, &c) < 0) return "(none)";
    snprintf(b, sizeof b, "%lld.%lld/%lld.%lld", (long long)c.pos.out_seq, (long long)c.pos.out_idx,
             (long long)c.pos.msg_id, (long long)c.pos.msg_idx);
    store_cur_free(&c);
    return b;
}

/* Outbox rows 5 (1000 ms, 2 events), 9 (2000, 1), 12 (3000, 3); message
 * rows 1 (1500, 1), 2 (2500, 2), 3 (3500, 1). */
static bool fill_outboxes(fx *f) {
    return !put_out(f, 5, 1000, 2) && !put_out(f, 9, 2000, 1) && !put_out(f, 12, 3000, 3) && put_msg(f, 1500, 1) == 1 &&
           put_msg(f, 2500, 2) == 2 && put_msg(f, 3500, 1) == 3;
}

TEST(currents_store_insert_positions) {
    fx f;
    T_TRUE(fx_open(&f));
    /* empty outboxes: latest is the first row to come */
    T_EQ_INT(add(&f, "000000000000000000000001", "empty-latest", -1), 0);
    T_EQ_STR(cursor_of(&f, "empty-latest"), "1.0/1.0");
    T_EQ_INT(add(&f, "000000000000000000000002", "empty-earliest", 0), 0);
    T_EQ_STR(cursor_of(&f, "empty-earliest"), "0.0/0.0");
    T_EQ_INT(add(&f, "000000000000000000000003", "empty-time", 1000), 0);
    T_EQ_STR(cursor_of(&f, "empty-time"), "1.0/1.0");
    T_TRUE(fill_outboxes(&f));
    T_EQ_INT(add(&f, "000000000000000000000004", "latest", -1), 0);
    T_EQ_STR(cursor_of(&f, "latest"), "13.0/4.0");
    T_EQ_INT(add(&f, "000000000000000000000005", "earliest", 0), 0);
    T_EQ_STR(cursor_of(&f, "earliest"), "0.0/0.0");
    /* a time: each outbox's first row at or after it... */
    T_EQ_INT(add(&f, "000000000000000000000006", "t1000", 1000), 0);
    T_EQ_STR(cursor_of(&f, "t1000"), "5.0/1.0");
    T_EQ_INT(add(&f, "000000000000000000000007", "t2000", 2000), 0);
    T_EQ_STR(cursor_of(&f, "t2000"), "9.0/2.0");
    T_EQ_INT(add(&f, "000000000000000000000008", "t2001", 2001), 0);
    T_EQ_STR(cursor_of(&f, "t2001"), "12.0/2.0");
    /* ...or its end when it has none that recent */
    T_EQ_INT(add(&f, "000000000000000000000009", "t3200", 3200), 0);
    T_EQ_STR(cursor_of(&f, "t3200"), "13.0/3.0");
    T_EQ_INT(add(&f, "00000000000000000000000a", "t9999", 9999), 0);
    T_EQ_STR(cursor_of(&f, "t9999"), "13.0/4.0");
    /* messages trimmed: ids to come are above AUTOINCREMENT's counter */
    T_EQ_INT(sqlite3_exec(f.db, "DELETE FROM message_outbox", NULL, NULL, NULL), SQLITE_OK);
    T_EQ_INT(add(&f, "00000000000000000000000b", "after-trim", -1), 0);
    T_EQ_STR(cursor_of(&f, "after-trim"), "13.0/4.0");
    T_EQ_INT(add(&f, "00000000000000000000000c", "after-trim-t", 500), 0);
    T_EQ_STR(cursor_of(&f, "after-trim-t"), "5.0/4.0");

    /* what a new one holds */
    store_cur c;
    T_EQ_INT(store_cur_get(f.db, "000000000000000000000004", &c), 0);
    T_EQ_STR(c.name, "latest");
    T_EQ_STR(c.type, "custom_http");
    T_EQ_STR(c.config, "{\"name\":\"x\",\"type\":\"custom_http\",\"url\":\"http://h/\"}");
    T_TRUE(!c.paused && c.gen == 0 && c.sent == 0 && c.batches == 0 && c.retries == 0 && c.dead == 0);
    T_EQ_STR(c.errors, "{}");
    T_TRUE(!c.last_error && !c.last_error_at && !c.last_sent_at);
    T_TRUE(c.created_at > 1700000000000LL);
    store_cur_free(&c);
    T_EQ_INT(store_cur_get(f.db, "nope", &c), BR_ENOTFOUND);
    T_EQ_INT(store_cur_get(f.db, "", &c), BR_ENOTFOUND);
    /* the list, by name */
    store_cur *rows;
    int n;
    T_EQ_INT(store_cur_list(f.db, &rows, &n), 0);
    T_EQ_INT(n, 12);
    for (int i = 1; i < n; i++) T_TRUE(strcmp(rows[i - 1].name, rows[i].name) < 0);
    T_EQ_STR(rows[0].name, "after-trim");
    store_cur_rows_free(rows, n);
    fx_close(&f);
}

TEST(currents_store_limit_and_names) {
    fx f;
    T_TRUE(fx_open(&f));
    T_EQ_INT(add(&f, "aaaaaaaaaaaaaaaaaaaaaaa0", "one", -1), 0);
    T_EQ_INT(add(&f, "aaaaaaaaaaaaaaaaaaaaaaa1", "one", -1), BR_EEXISTS);
    T_EQ_INT(add(&f, "aaaaaaaaaaaaaaaaaaaaaaa0", "two", -1), BR_EEXISTS);
    for (int i = 1; i < STORE_CUR_MAX; i++) {
        char id[40], name[16];
        snprintf(id, sizeof id, "bbbbbbbbbbbbbbbbbbbbbb%02d", i);
        snprintf(name, sizeof name, "c%02d", i);
        T_EQ_INT(add(&f, id, name, -1), 0);
    }
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents"), STORE_CUR_MAX);
    T_EQ_INT(add(&f, "cccccccccccccccccccccccc", "seventeen", -1), BR_ETOOMANY);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents"), STORE_CUR_MAX);
    /* one removed: room for one */
    store_cur_edit e = {.key = "c07"};
    T_EQ_INT(store_exec(f.s, store_cur_delete_op, &e), 0);
    T_EQ_INT(add(&f, "cccccccccccccccccccccccc", "seventeen", -1), 0);
    T_EQ_INT(add(&f, "dddddddddddddddddddddddd", "eighteen", -1), BR_ETOOMANY);
    fx_close(&f);
}

static int dead_put(fx *f, const char *conn, const char *event_id, int status, const char *error) {
    char ev[128];
    snprintf(ev, sizeof ev, "{\"id\":\"%s\",\"event_type\":\"users.behaviors.CustomEvent\"}", event_id);
    store_cur_dead d = {.connector = (char *)conn, .event_id = (char *)event_id,
                        .event_type = "users.behaviors.CustomEvent", .event = ev, .status = status,
                        .error = (char *)error};
    return store_exec(f->s, store_cur_dead_put_op, &d);
}

#define A_ID "a00000000000000000000000"
#define B_ID "b00000000000000000000000"

TEST(currents_store_pause_resume_delete) {
    fx f;
    T_TRUE(fx_open(&f));
    T_EQ_INT(add(&f, A_ID, "a", -1), 0);
    T_EQ_INT(add(&f, B_ID, "b", -1), 0);
    store_cur_edit e = {.key = "a", .paused = true};
    T_EQ_INT(store_exec(f.s, store_cur_pause_op, &e), 0);
    T_EQ_STR(e.id, A_ID);
    store_cur c;
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_TRUE(c.paused);
    store_cur_free(&c);
    T_EQ_INT(store_cur_get(f.db, "b", &c), 0);
    T_TRUE(!c.paused);
    store_cur_free(&c);
    e = (store_cur_edit){.key = A_ID, .paused = false};
    T_EQ_INT(store_exec(f.s, store_cur_pause_op, &e), 0);
    T_EQ_INT(store_cur_get(f.db, A_ID, &c), 0);
    T_TRUE(!c.paused);
    store_cur_free(&c);
    e = (store_cur_edit){.key = "c", .paused = true};
    T_EQ_INT(store_exec(f.s, store_cur_pause_op, &e), BR_ENOTFOUND);
    /* the dead letter goes with its connector, and only its */
    T_EQ_INT(dead_put(&f, A_ID, "e1", 400, "bad"), 0);
    T_EQ_INT(dead_put(&f, A_ID, "e2", 400, "bad"), 0);
    T_EQ_INT(dead_put(&f, B_ID, "e1", 413, "big"), 0);
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_INT(c.dead, 2);
    store_cur_free(&c);
    e = (store_cur_edit){.key = "a"};
    T_EQ_INT(store_exec(f.s, store_cur_delete_op, &e), 0);
    T_EQ_STR(e.id, A_ID);
    T_EQ_INT(store_cur_get(f.db, "a", &c), BR_ENOTFOUND);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents_dead WHERE connector = '" A_ID "'"), 0);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents_dead WHERE connector = '" B_ID "'"), 1);
    T_EQ_INT(store_exec(f.s, store_cur_delete_op, &e), BR_ENOTFOUND);
    e = (store_cur_edit){.key = B_ID};
    T_EQ_INT(store_exec(f.s, store_cur_delete_op, &e), 0);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents_dead"), 0);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents"), 0);
    fx_close(&f);
}

TEST(currents_store_replay_and_progress) {
    fx f;
    T_TRUE(fx_open(&f));
    T_TRUE(fill_outboxes(&f));
    T_EQ_INT(add(&f, A_ID, "a", -1), 0);
    /* the runner's progress, while its gen holds */
    store_cur_progress p = {.id = A_ID, .gen = 0, .pos = {12, 1, 3, 0}, .sent = 7, .batches = 2, .retries = 3,
                            .errors = "{\"503\":2,\"0\":1}", .last_error = "HTTP 503", .last_error_at = 111,
                            .last_sent_at = 222};
    T_EQ_INT(store_exec(f.s, store_cur_progress_op, &p), 0);
    store_cur c;
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_STR(cursor_of(&f, "a"), "12.1/3.0");
    T_TRUE(c.sent == 7 && c.batches == 2 && c.retries == 3 && c.last_error_at == 111 && c.last_sent_at == 222);
    T_EQ_STR(c.errors, "{\"503\":2,\"0\":1}");
    T_EQ_STR(c.last_error, "HTTP 503");
    store_cur_free(&c);
    /* a replay from earliest: the cursor rewinds, gen moves on */
    store_cur_edit e = {.key = "a", .from_ms = 0};
    T_EQ_INT(store_exec(f.s, store_cur_replay_op, &e), 0);
    T_EQ_STR(e.id, A_ID);
    T_EQ_STR(cursor_of(&f, "a"), "0.0/0.0");
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_INT(c.gen, 1);
    T_EQ_INT(c.sent, 7); /* counters stay */
    store_cur_free(&c);
    /* the runner of the old gen cannot move the cursor back */
    p.pos = (store_cur_pos){13, 0, 4, 0};
    p.sent = 9;
    T_EQ_INT(store_exec(f.s, store_cur_progress_op, &p), BR_ENOTFOUND);
    T_EQ_STR(cursor_of(&f, "a"), "0.0/0.0");
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_INT(c.sent, 7);
    store_cur_free(&c);
    p.gen = 1;
    p.last_error = NULL, p.errors = NULL;
    T_EQ_INT(store_exec(f.s, store_cur_progress_op, &p), 0);
    T_EQ_STR(cursor_of(&f, "a"), "13.0/4.0");
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_INT(c.sent, 9);
    T_EQ_STR(c.errors, "{}");
    T_TRUE(!c.last_error);
    store_cur_free(&c);
    /* to a time, or to a cursor given as is */
    e = (store_cur_edit){.key = A_ID, .from_ms = 2000};
    T_EQ_INT(store_exec(f.s, store_cur_replay_op, &e), 0);
    T_EQ_STR(cursor_of(&f, "a"), "9.0/2.0");
    e = (store_cur_edit){.key = "a", .use_pos = true, .pos = {12, 2, 3, 1}};
    T_EQ_INT(store_exec(f.s, store_cur_replay_op, &e), 0);
    T_EQ_STR(cursor_of(&f, "a"), "12.2/3.1");
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_INT(c.gen, 3);
    store_cur_free(&c);
    e = (store_cur_edit){.key = "zz", .from_ms = 0};
    T_EQ_INT(store_exec(f.s, store_cur_replay_op, &e), BR_ENOTFOUND);
    /* progress of a connector removed meanwhile */
    p.id = B_ID;
    T_EQ_INT(store_exec(f.s, store_cur_progress_op, &p), BR_ENOTFOUND);
    fx_close(&f);
}

TEST(currents_store_dead_letter) {
    fx f;
    T_TRUE(fx_open(&f));
    T_EQ_INT(add(&f, A_ID, "a", -1), 0);
    T_EQ_INT(add(&f, B_ID, "b", -1), 0);
    T_EQ_INT(dead_put(&f, A_ID, "e1", 400, "HTTP 400: bad e1"), 0);
    T_EQ_INT(dead_put(&f, A_ID, "e2", 400, NULL), 0);
    T_EQ_INT(dead_put(&f, A_ID, "e3", 413, "HTTP 413"), 0);
    T_EQ_INT(dead_put(&f, B_ID, "e1", 400, "HTTP 400"), 0);
    store_cur_dead *rows;
    int n;
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, 0, 100, false, &rows, &n), 0);
    T_EQ_INT(n, 3);
    T_EQ_STR(rows[0].event_id, "e1");
    T_EQ_STR(rows[0].connector, A_ID);
    T_EQ_STR(rows[0].event_type, "users.behaviors.CustomEvent");
    T_EQ_STR(rows[0].event, "{\"id\":\"e1\",\"event_type\":\"users.behaviors.CustomEvent\"}");
    T_EQ_INT(rows[0].status, 400);
    T_EQ_STR(rows[0].error, "HTTP 400: bad e1");
    T_TRUE(rows[0].at > 1700000000000LL && !rows[0].replay);
    T_EQ_STR(rows[1].error, "");
    T_TRUE(rows[0].seq < rows[1].seq && rows[1].seq < rows[2].seq);
    int64_t s1 = rows[0].seq, s2 = rows[1].seq;
    store_cur_dead_rows_free(rows, n);
    /* refused again: one row per event id, the newer answer */
    T_EQ_INT(dead_put(&f, A_ID, "e1", 413, "HTTP 413: too big"), 0);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents_dead WHERE connector = '" A_ID "'"), 3);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents_dead WHERE connector = '" A_ID "' AND event_id = 'e1'"), 1);
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, s1, 100, false, &rows, &n), 0);
    T_EQ_INT(n, 3);
    T_EQ_STR(rows[0].event_id, "e2");
    T_EQ_STR(rows[2].event_id, "e1");
    T_EQ_INT(rows[2].status, 413);
    T_EQ_STR(rows[2].error, "HTTP 413: too big");
    store_cur_dead_rows_free(rows, n);
    /* paging */
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, s2, 1, false, &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_STR(rows[0].event_id, "e3");
    store_cur_dead_rows_free(rows, n);
    T_EQ_INT(store_cur_dead_list(f.db, "nobody", 0, 100, false, &rows, &n), 0);
    T_EQ_INT(n, 0);
    store_cur_dead_rows_free(rows, n);
    /* marked for replay: one, then all (of this connector only) */
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, 0, 100, true, &rows, &n), 0);
    T_EQ_INT(n, 0);
    store_cur_dead_rows_free(rows, n);
    store_cur_dead_mark m = {.connector_id = A_ID, .seq = s2};
    T_EQ_INT(store_exec(f.s, store_cur_dead_replay_op, &m), 0);
    T_EQ_INT(m.marked, 1);
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, 0, 100, true, &rows, &n), 0);
    T_EQ_INT(n, 1);
    T_EQ_STR(rows[0].event_id, "e2");
    T_TRUE(rows[0].replay);
    store_cur_dead_rows_free(rows, n);
    m = (store_cur_dead_mark){.connector_id = A_ID, .seq = 99999};
    T_EQ_INT(store_exec(f.s, store_cur_dead_replay_op, &m), BR_ENOTFOUND);
    m = (store_cur_dead_mark){.connector_id = B_ID, .seq = s2}; /* another's seq */
    T_EQ_INT(store_exec(f.s, store_cur_dead_replay_op, &m), BR_ENOTFOUND);
    m = (store_cur_dead_mark){.connector_id = A_ID};
    T_EQ_INT(store_exec(f.s, store_cur_dead_replay_op, &m), 0);
    T_EQ_INT(m.marked, 3);
    T_EQ_INT(count(&f, "SELECT count(*) FROM currents_dead WHERE replay = 1"), 3);
    /* refused again when replayed: its row is replaced, unmarked */
    T_EQ_INT(dead_put(&f, A_ID, "e3", 400, "HTTP 400"), 0);
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, 0, 100, true, &rows, &n), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(rows[0].event_id, "e2");
    T_EQ_STR(rows[1].event_id, "e1");
    /* sent with success: gone */
    T_EQ_INT(store_exec(f.s, store_cur_dead_done_op, &rows[0]), 0);
    store_cur_dead_rows_free(rows, n);
    T_EQ_INT(store_cur_dead_list(f.db, A_ID, 0, 100, false, &rows, &n), 0);
    T_EQ_INT(n, 2);
    T_EQ_STR(rows[0].event_id, "e1");
    T_EQ_STR(rows[1].event_id, "e3");
    store_cur_dead_rows_free(rows, n);
    store_cur c;
    T_EQ_INT(store_cur_get(f.db, "a", &c), 0);
    T_EQ_INT(c.dead, 2);
    store_cur_free(&c);
    T_EQ_INT(store_cur_get(f.db, "b", &c), 0);
    T_EQ_INT(c.dead, 1);
    store_cur_free(&c);
    fx_close(&f);
}

TEST(currents_store_read) {
    fx f;
    T_TRUE(fx_open(&f));
    store_cur_row *rows;
    int n;
    T_EQ_INT(store_cur_read(f.db, false, 0, 10, &rows, &n), 0);
    T_EQ_INT(n, 0);
    store_cur_rows_read_free(rows, n);
    T_TRUE(fill_outboxes(&f));
    T_EQ_INT(store_cur_read(f.db, false, 0, 10, &rows, &n), 0);
    T_EQ_INT(n, 3);
    T_TRUE(rows[0].key == 5 && rows[1].key == 9 && rows[2].key == 12);
    T_TRUE(rows[0].at == 1000 && rows[1].at == 2000 && rows[2].at == 3000);
    T_EQ_STR(rows[1].events, "[{\"id\":\"o9-0\",\"event_type\":\"users.behaviors.CustomEvent\"}]");
    store_cur_rows_read_free(rows, n);
    T_EQ_INT(store_cur_read(f.db, false, 9, 10, &rows, &n), 0); /* from: included */
    T_TRUE(n == 2 && rows[0].key == 9);
    store_cur_rows_read_free(rows, n);
    T_EQ_INT(store_cur_read(f.db, false, 6, 1, &rows, &n), 0);
    T_TRUE(n == 1 && rows[0].key == 9);
    store_cur_rows_read_free(rows, n);
    T_EQ_INT(store_cur_read(f.db, false, 13, 10, &rows, &n), 0);
    T_EQ_INT(n, 0);
    store_cur_rows_read_free(rows, n);
    T_EQ_INT(store_cur_read(f.db, true, 2, 10, &rows, &n), 0);
    T_TRUE(n == 2 && rows[0].key == 2 && rows[1].key == 3 && rows[0].at == 2500);
    store_cur_rows_read_free(rows, n);
    fx_close(&f);
}

/* store_cur_lag at now as "events/seconds". */
static const char *lag(fx *f, store_cur_pos p, int64_t now) {
    static char b[64];
    int64_t ev = -1, s = -1;
    if (store_cur_lag(f->db, &p, now, &ev, &s) < 0) return "(failed)";
    snprintf(b, sizeof b, "%lld/%lld", (long long)ev, (long long)s);
    return b;
}

TEST(currents_store_lag) {
    fx f;
    T_TRUE(fx_open(&f));
    T_EQ_STR(lag(&f, (store_cur_pos){0, 0, 0, 0}, 11000), "0/0");
    T_TRUE(fill_outboxes(&f));
    /* everything: 6 + 4 events, the oldest at 1000 */
    T_EQ_STR(lag(&f, (store_cur_pos){0, 0, 0, 0}, 11000), "10/10");
    T_EQ_STR(lag(&f, (store_cur_pos){5, 0, 1, 0}, 11000), "10/10");
    /* a cursor inside a row: the events before it are done */
    T_EQ_STR(lag(&f, (store_cur_pos){5, 1, 1, 0}, 11000), "9/10");
    T_EQ_STR(lag(&f, (store_cur_pos){9, 0, 2, 1}, 11000), "6/9");
    T_EQ_STR(lag(&f, (store_cur_pos){12, 2, 3, 0}, 11000), "2/8");
    T_EQ_STR(lag(&f, (store_cur_pos){13, 0, 3, 0}, 11000), "1/7");
    /* at the end of its row (the last event taken): that row is done, the
     * age is the next one's */
    T_EQ_STR(lag(&f, (store_cur_pos){5, 2, 4, 0}, 11000), "4/9");
    T_EQ_STR(lag(&f, (store_cur_pos){12, 3, 3, 1}, 11000), "0/0");
    T_EQ_STR(lag(&f, (store_cur_pos){12, 3, 2, 2}, 11000), "1/7");
    /* an index past its row's end counts as its end */
    T_EQ_STR(lag(&f, (store_cur_pos){12, 9, 4, 0}, 11000), "0/0");
    /* a cursor on a row that is not there (trimmed, or a gap in the
     * journal's seqs): the next row from its start */
    T_EQ_STR(lag(&f, (store_cur_pos){10, 1, 4, 0}, 11000), "3/8");
    /* caught up */
    T_EQ_STR(lag(&f, (store_cur_pos){13, 0, 4, 0}, 11000), "0/0");
    /* a clock behind the rows: no negative age */
    T_EQ_STR(lag(&f, (store_cur_pos){0, 0, 0, 0}, 500), "10/0");
    /* a cohort import's compact item counts as its changes, and a cursor
     * indexes them as the runner expands them */
    const char *compact = "[{\"event_type\":\"brasa.cohorts.Change\",\"id\":\"00000000000000c1-c\",\"time\":4,"
                          "\"cohort_id\":\"c\",\"cohort_name\":\"n\",\"partner\":\"p\",\"changes\":"
                          "[[0,\"b1\",null,1],[1,\"b2\",\"e2\",0],[2,\"b3\",null,1]]}]";
    T_EQ_INT(store_outbox_put(f.db, 20, 4000, compact, strlen(compact)), 0);
    T_EQ_STR(lag(&f, (store_cur_pos){13, 0, 4, 0}, 11000), "3/7");
    T_EQ_STR(lag(&f, (store_cur_pos){20, 2, 4, 0}, 11000), "1/7");
    T_EQ_STR(lag(&f, (store_cur_pos){20, 3, 4, 0}, 11000), "0/0");
    T_EQ_STR(lag(&f, (store_cur_pos){12, 1, 4, 0}, 11000), "5/8");
    fx_close(&f);
}

/* store_cur_trim_op: how many rows went. */
static int trim(fx *f, int64_t cutoff, int limit) {
    store_cur_trim t = {.cutoff_ms = cutoff, .limit = limit};
    int rc = store_exec(f->s, store_cur_trim_op, &t);
    return rc < 0 ? rc : t.deleted;
}

static int set_cursor(fx *f, const char *key, store_cur_pos p) {
    store_cur_edit e = {.key = key, .use_pos = true, .pos = p};
    return store_exec(f->s, store_cur_replay_op, &e);
}

#define MIN_OUT "SELECT coalesce(min(seq), 0) FROM outbox"
#define MIN_MSG "SELECT coalesce(min(id), 0) FROM message_outbox"

TEST(currents_store_trim) {
    fx f;
    T_TRUE(fx_open(&f));
    /* rows 1..8 in each outbox, at seq * 1000 ms */
    for (int i = 1; i <= 8; i++) {
        T_EQ_INT(put_out(&f, i, i * 1000, 1), 0);
        T_EQ_INT(put_msg(&f, i * 1000, 2), i);
    }
    /* the converter has read nothing yet: the outbox stays; no connector
     * holds the messages: those past the retention go */
    T_EQ_INT(trim(&f, 2500, 100), 2);
    T_EQ_INT(count(&f, MIN_OUT), 1);
    T_EQ_INT(count(&f, MIN_MSG), 3);
    /* a paused connector holds rows as an active one does */
    T_EQ_INT(add(&f, A_ID, "a", 0), 0);
    T_EQ_INT(add(&f, B_ID, "b", 0), 0);
    T_EQ_INT(set_cursor(&f, "a", (store_cur_pos){6, 0, 7, 0}), 0);
    T_EQ_INT(set_cursor(&f, "b", (store_cur_pos){4, 1, 5, 1}), 0);
    store_cur_edit pause = {.key = "b", .paused = true};
    T_EQ_INT(store_exec(f.s, store_cur_pause_op, &pause), 0);
    T_EQ_INT(sqlite3_exec(f.db, "INSERT INTO conversion_cursor (id, seq) VALUES (0, 7)", NULL, NULL, NULL), SQLITE_OK);
    T_EQ_INT(trim(&f, 100000, 100), 3 + 2); /* outbox 1..3 (b is inside 4), messages 3..4 (b inside 5) */
    T_EQ_INT(count(&f, MIN_OUT), 4);
    T_EQ_INT(count(&f, MIN_MSG), 5);
    T_EQ_INT(trim(&f, 100000, 100), 0);
    /* every cursor past everything: the retention decides */
    T_EQ_INT(set_cursor(&f, "b", (store_cur_pos){9, 0, 9, 0}), 0);
    T_EQ_INT(set_cursor(&f, "a", (store_cur_pos){9, 0, 9, 0}), 0);
    T_EQ_INT(trim(&f, 6000, 100), 2 + 1); /* at < 6000: outbox 4, 5; message 5 */
    T_EQ_INT(count(&f, MIN_OUT), 6);
    T_EQ_INT(count(&f, MIN_MSG), 6);
    /* the converter's cursor holds the outbox (only) */
    T_EQ_INT(sqlite3_exec(f.db, "UPDATE conversion_cursor SET seq = 6", NULL, NULL, NULL), SQLITE_OK);
    T_EQ_INT(trim(&f, 100000, 100), 1 + 3); /* outbox 6 (the converter read it), messages 6..8 */
    T_EQ_INT(count(&f, MIN_OUT), 7);
    T_EQ_INT(count(&f, MIN_MSG), 0);
    T_EQ_INT(count(&f, "SELECT count(*) FROM outbox"), 2);
    /* bounded: the oldest `limit` rows of each outbox at a time */
    for (int i = 9; i <= 20; i++) {
        T_EQ_INT(put_out(&f, i, i * 1000, 1), 0);
        T_EQ_INT(put_msg(&f, i * 1000, 1), i);
    }
    T_EQ_INT(sqlite3_exec(f.db, "UPDATE conversion_cursor SET seq = 100", NULL, NULL, NULL), SQLITE_OK);
    T_EQ_INT(set_cursor(&f, "a", (store_cur_pos){21, 0, 21, 0}), 0);
    T_EQ_INT(set_cursor(&f, "b", (store_cur_pos){21, 0, 21, 0}), 0);
    T_EQ_INT(trim(&f, 100000, 3), 3 + 3);
    T_EQ_INT(count(&f, MIN_OUT), 10);
    T_EQ_INT(count(&f, MIN_MSG), 12);
    /* the oldest rows within the retention stop it, even when younger ones
     * behind them could go (rows come in time order: none can) */
    T_EQ_INT(trim(&f, 10500, 3), 1 + 0);
    T_EQ_INT(count(&f, MIN_OUT), 11);
    /* a removed connector no longer holds anything */
    store_cur_edit del = {.key = "a"};
    T_EQ_INT(store_exec(f.s, store_cur_delete_op, &del), 0);
    del.key = "b";
    T_EQ_INT(store_exec(f.s, store_cur_delete_op, &del), 0);
    T_EQ_INT(trim(&f, 100000, 1000), 10 + 9);
    T_EQ_INT(count(&f, "SELECT count(*) FROM outbox") + count(&f, "SELECT count(*) FROM message_outbox"), 0);
    fx_close(&f);
}
