/* logcap.c -- at most N log lines a second of one kind (see logcap.h). */
#include "logcap.h"
#include "../lib/log.h"

bool http_logcap_take(http_logcap *c, int64_t now_ms) {
    pthread_mutex_lock(&c->lock);
    if (now_ms - c->second_ms >= 1000) {
        c->second_ms = now_ms;
        c->used = 0;
    }
    bool ok = c->used < c->per_second;
    if (ok) c->used++;
    else c->dropped++;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void http_logcap_flush(http_logcap *c) {
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->dropped;
    c->dropped = 0;
    pthread_mutex_unlock(&c->lock);
    if (n) log_warn("http: %llu %s not logged (over %u a second)", (unsigned long long)n, c->what, c->per_second);
}
