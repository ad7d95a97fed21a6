/* fanout.c -- the audience of the fan-out benchmark (bench/fanout.sh).
 *
 *   fanout seed DIR N
 *
 * Writes a store in DIR (created) with N profiles, through the engine as
 * the server applies /users/track (bodies of 75 attributes objects, parsed
 * by api/ into track commands), then checkpoints it so the server starts
 * from profiles.db rather than replaying the journal. Each user has what
 * the benchmark's webhook template reads: external_id "user-K" (K from 0,
 * the ids bench/loadgen --track updates), first_name, email
 * "user-K@example.com", and the custom attributes tier (4 values) and city
 * (10 values). The store runs with synchronous=OFF while seeding (set-up,
 * not the measure). Prints the time taken on stderr. */
#define _GNU_SOURCE
#include "api/api.h"
#include "api/parse.h"
#include "engine/engine.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_BODY 75

static const char *const names[] = {"Ana", "Bruno", "Carla", "Diego", "Eva", "Filipe", "Greta", "Hugo",
                                    "Inês", "João", "Kenji", "Lea", "Marta", "Nuno", "Olga", "Pedro"};
static const char *const tiers[] = {"bronze", "silver", "gold", "platinum"};
static const char *const cities[] = {"Lisbon", "Porto", "Berlin", "Paris", "São Paulo",
                                     "New York", "Osaka", "Nairobi", "Lyon", "Austin"};
#define PICK(a, k) (a)[(k) % (sizeof(a) / sizeof *(a))]

static void die(const char *what) {
    fprintf(stderr, "fanout: %s\n", what);
    exit(1);
}

static int seed(const char *dir, long n) {
    store_t *s;
    engine_t *e;
    api_legacy_register();
    if (store_open(dir, &s) < 0) die("cannot open the store");
    store_sql(store_db_for_tests(s), "PRAGMA synchronous=OFF");
    if (engine_open(s, &e) < 0) die("cannot open the store");
    int64_t t0 = clock_mono_us();
    buf_t b = BUF_INIT;
    for (long i = 0; i < n; i += PER_BODY) {
        buf_reset(&b);
        buf_puts(&b, "{\"attributes\":[");
        for (long k = i; k < i + PER_BODY && k < n; k++) {
            unsigned long h = (unsigned long)k * 2654435761u; /* spread, so neighbours differ */
            buf_printf(&b,
                       "%s{\"external_id\":\"user-%ld\",\"first_name\":\"%s\",\"email\":\"user-%ld@example.com\","
                       "\"tier\":\"%s\",\"city\":\"%s\"}",
                       k > i ? "," : "", k, PICK(names, h >> 4), k, PICK(tiers, h >> 12), PICK(cities, h >> 20));
        }
        buf_puts(&b, "]}");
        json_object *body = json_tokener_parse(b.data);
        if (!body) die("a seed body does not parse");
        api_track_result r;
        int rc = api_track_exec(e, body, &r);
        long want = n - i < PER_BODY ? n - i : PER_BODY;
        if (rc < 0 || r.processed[TRACK_ATTRIBUTES] != want || r.errors) {
            fprintf(stderr, "fanout: a track command failed (rc %d, %d processed%s%s)\n", rc, r.processed[TRACK_ATTRIBUTES],
                    r.errors ? ": " : "", r.errors ? json_object_to_json_string(r.errors) : "");
            exit(1);
        }
        json_object_put(body);
    }
    buf_free(&b);
    if (engine_checkpoint_now(e, true) < 0) die("the checkpoint failed");
    fprintf(stderr, "fanout: seeded %ld profiles in %.1f s\n", n, (double)(clock_mono_us() - t0) / 1e6);
    engine_free(e);
    store_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[1], "seed")) {
        fprintf(stderr, "usage: fanout seed DIR N\n");
        return 2;
    }
    long n = atol(argv[3]);
    if (n < 1 || n > 100000000) die("N must be 1..100000000");
    log_set_level(LOG_WARN);
    return seed(argv[2], n);
}
