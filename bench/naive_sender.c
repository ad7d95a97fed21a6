/* naive_sender.c -- what a team would write instead of brasa's dispatcher,
 * for the fan-out benchmark to compare with (bench/fanout.sh): a loop of
 * libcurl easy requests.
 *
 * C threads (64 by default: brasa's webhook channel keeps at most 64
 * connections to one host, docs/messaging.md), each with one easy handle
 * reused for all its requests, so one keep-alive connection with one
 * request in flight at a time. Thread i sends users [i*N/C, (i+1)*N/C).
 *
 * The users are the ones bench/fanout.c seeds (user-K, and the first_name
 * and tier it picks from K with the same hash), made here in memory: the
 * naive sender reads no store, which favours it. Each message is the body
 * brasa renders from the benchmark's template, made with snprintf (no
 * Liquid: the 5 values are substituted by position), POSTed with the
 * headers brasa sends (Content-Type, User-Agent, a distinct
 * X-Brasa-Message-Id "DISPATCH-<24 hex of K>-webhook" that bench/recv
 * counts, Expect: off). No durability (nothing records what was sent), no
 * retries: a failed request is counted and the run exits 1.
 *
 * Usage: naive_sender [-c CONNS] -n USERS -d DISPATCH http://HOST:PORT/PATH
 * Prints one "naive_sender:" line of key=value pairs (sent, errors,
 * seconds, rate in messages/s over the whole send, cpu: its user + system
 * time as a % of one core over the send). Exits 1 when a request
 * failed (the first failure is printed), 2 on bad usage. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The same tables and picks as bench/fanout.c, so each body is the one
 * brasa renders for the same user. */
static const char *const names[] = {"Ana", "Bruno", "Carla", "Diego", "Eva", "Filipe", "Greta", "Hugo",
                                    "Inês", "João", "Kenji", "Lea", "Marta", "Nuno", "Olga", "Pedro"};
static const char *const tiers[] = {"bronze", "silver", "gold", "platinum"};
#define PICK(a, k) (a)[(k) % (sizeof(a) / sizeof *(a))]

static const char *url, *dispatch;
static long users;
static int nconn = 64;
static atomic_long sent, errors;
static atomic_flag reported = ATOMIC_FLAG_INIT;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr, "usage: naive_sender [-c conns] -n users -d dispatch http://host:port/path\n");
    exit(2);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p, (void)ud;
    return size * n;
}

/* One failure on stderr (the first), the rest only counted. */
static void failed(long k, const char *why) {
    atomic_fetch_add(&errors, 1);
    if (!atomic_flag_test_and_set(&reported)) fprintf(stderr, "naive_sender: user-%ld: %s\n", k, why);
}

static void *run(void *arg) {
    long i = (long)(intptr_t)arg;
    long from = i * users / nconn, to = (i + 1) * users / nconn;
    CURL *h = curl_easy_init();
    if (!h) {
        for (long k = from; k < to; k++) failed(k, "curl_easy_init failed");
        return NULL;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    char body[512], idh[160];
    for (long k = from; k < to; k++) {
        unsigned long x = (unsigned long)k * 2654435761u; /* bench/fanout.c's spread */
        int bl = snprintf(body, sizeof body,
                          "{\"user\":\"user-%ld\",\"name\":\"%s\",\"email\":\"user-%ld@example.com\",\"tier\":\"%s\","
                          "\"dispatch\":\"%s\"}",
                          k, PICK(names, x >> 4), k, PICK(tiers, x >> 12), dispatch);
        snprintf(idh, sizeof idh, "X-Brasa-Message-Id: %s-%024lx-webhook", dispatch, k);
        struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
        hd = curl_slist_append(hd, "User-Agent: naive-sender");
        hd = curl_slist_append(hd, idh);
        hd = curl_slist_append(hd, "Expect:");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)bl);
        CURLcode res = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(hd);
        if (res != CURLE_OK) failed(k, curl_easy_strerror(res));
        else if (status < 200 || status > 299) {
            char why[32];
            snprintf(why, sizeof why, "HTTP %ld", status);
            failed(k, why);
        } else atomic_fetch_add(&sent, 1);
    }
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            url = a;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "-c")) nconn = atoi(v);
        else if (!strcmp(a, "-n")) users = atol(v);
        else if (!strcmp(a, "-d")) dispatch = v;
        else usage();
    }
    if (!url || !dispatch || strlen(dispatch) > 64 || nconn < 1 || nconn > 1024 || users < 1 || users > 100000000 ||
        strncmp(url, "http://", 7))
        usage();
    if (nconn > users) nconn = (int)users;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "naive_sender: curl_global_init failed\n");
        return 1;
    }
    pthread_t *t = calloc((size_t)nconn, sizeof *t);
    if (!t) {
        fprintf(stderr, "naive_sender: out of memory\n");
        return 1;
    }
    int64_t t0 = now_ns();
    for (int i = 0; i < nconn; i++)
        if (pthread_create(&t[i], NULL, run, (void *)(intptr_t)i)) {
            fprintf(stderr, "naive_sender: cannot start thread %d\n", i);
            return 1;
        }
    for (int i = 0; i < nconn; i++) pthread_join(t[i], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    long s = atomic_load(&sent), e = atomic_load(&errors);
    printf("naive_sender: conns=%d users=%ld sent=%ld errors=%ld seconds=%.3f rate=%.0f cpu=%.0f\n", nconn, users, s, e,
           secs, secs > 0 ? (double)s / secs : 0, secs > 0 ? cpu * 100 / secs : 0);
    free(t);
    curl_global_cleanup();
    return e ? 1 : 0;
}
