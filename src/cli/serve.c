/* serve.c -- `brasa serve`: open the store, load the engine, start the
 * store's writer, the engine thread and the HTTP server, and run until
 * SIGINT/SIGTERM (or until the store fails: see store.h).
 *
 * This is where the layers meet: the credential cache (http/) gets its
 * loader over a store reader, the handlers get the engine. Shutdown order
 * matters for durability and for libmicrohttpd: stop accepting, let
 * in-flight requests finish (the engine answers them), write pending
 * last-use times, stop the HTTP threads, then the engine (a last
 * checkpoint), then the writer. */
#define _GNU_SOURCE
#include "cli.h"
#include "opts.h"
#include "../api/api.h"
#include "../core/apikey.h"
#include "../core/gcg.h"
#include "../dash/dash.h"
#include "../currents/currents.h"
#include "../engine/engine.h"
#include "../engine/exporter.h"
#include "../engine/segments.h"
#include "../send/convert.h"
#include "../send/dkim.h"
#include "../send/dispatch.h"
#include "../send/links.h"
#include "../send/sched.h"
#include "../http/authfail.h"
#include "../store/keys.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/httpc.h"
#include "../lib/secret.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../version.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FLUSH_INTERVAL_S 10
#define SEGMENT_SNAPSHOT_S 60 /* how often segments without today's size are sized */

static const char usage[] =
    "usage: brasa serve [options]\n"
    "\n"
    "Serves the Braze-compatible REST API from the store in --data-dir.\n"
    "On the first start of an empty store it prints a bootstrap API key with\n"
    "every permission, once.";

/* One server per data directory: a second would be a second writer. */
static int lock_data_dir(const char *dir) {
    int fd = cli_lock_dir(dir);
    if (fd < 0) log_error("serve: %s is in use by another brasa serve (%s)", dir, strerror(errno));
    return fd;
}

/* Writes the last-use times of keys the cache collected. */
static void flush_touches(engine_t *e, auth_t *a) {
    api_touches t;
    t.list = auth_take_touches(a, &t.n);
    if (t.n) eng_exec_store(e, api_touches_op, &t);
    free(t.list);
}

/* The URL a local client reaches a listening address by: a wildcard
 * address as 127.0.0.1, an IPv6 one in brackets. */
static const char *url_of(char *out, size_t n, const char *host, int port) {
    if (!strcmp(host, "::") || !strcmp(host, "0.0.0.0")) host = "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    snprintf(out, n, "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return out;
}

/* "HOST:PORT" or "[V6]:PORT" into host and port (0-65535). */
static int parse_hostport(const char *v, char *host, size_t hostlen, long *port) {
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || !colon[1]) return -1;
    char *end;
    *port = strtol(colon + 1, &end, 10);
    if (*end || *port < 0 || *port > 65535) return -1;
    const char *h = v;
    size_t n = (size_t)(colon - v);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']') return -1;
        h++;
        n -= 2;
    }
    if (n >= hostlen) return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

/* Creates the bootstrap key on a store that never had one; prints it once. */
static int bootstrap(store_t *store) {
    apikey_new k;
    char *why;
    /* "all" is every Braze permission; the bootstrap key also administers. */
    if (apikey_prepare(&k, "bootstrap", "all,brasa.keys,brasa.metrics", "", &why) < 0) {
        log_error("serve: %s", why);
        free(why);
        return -1;
    }
    int rc = store_exec(store, store_key_bootstrap_op, &k);
    if (rc == 0 && k.id) {
        printf("brasa: new store: created a REST API key with every permission (id %lld).\n"
               "It is shown only now; keep it, or create scoped keys with `brasa keys create`.\n"
               "bootstrap key: %s\n",
               (long long)k.id, k.key);
    }
    apikey_new_free(&k);
    return rc;
}

int cli_serve(int argc, char **argv) {
    cli_opt opts[] = {
        {"listen", "BRASA_LISTEN", "::", "address to listen on (:: = all, IPv4 and IPv6)", false, false, NULL},
        {"port", "BRASA_PORT", "8080", "TCP port (0 picks a free one)", false, false, NULL},
        {"metrics-listen", "BRASA_METRICS_LISTEN", NULL,
         "HOST:PORT serving GET /metrics without a key, and nothing else (e.g. 127.0.0.1:9100; port 0 picks one)",
         false, false, NULL},
        CLI_DATA_DIR_OPT,
        {"threads", "BRASA_THREADS", "2", "HTTP worker threads", false, false, NULL},
        {"max-body", "BRASA_MAX_BODY", "4194304", "largest request body in bytes (413 above)", false, false, NULL},
        {"max-headers", "BRASA_MAX_HEADERS", "32768", "largest request header block in bytes (431 above)", false, false, NULL},
        {"timeout", "BRASA_TIMEOUT", "60", "idle connection timeout in seconds", false, false, NULL},
        {"max-connections", "BRASA_MAX_CONNECTIONS", "16384",
         "open connections at once (kept under the open-files limit, which serve raises to its hard limit)", false,
         false, NULL},
        {"max-connections-per-ip", "BRASA_MAX_CONNECTIONS_PER_IP", "1024",
         "open connections from one client address; more are closed at once (0 = no limit; behind a proxy, raise it)",
         false, false, NULL},
        {"header-timeout", "BRASA_HEADER_TIMEOUT", "10",
         "seconds from a request's first byte to its complete head; then 408 and close (0 = none)", false, false, NULL},
        {"body-timeout", "BRASA_BODY_TIMEOUT", "60",
         "seconds from a request's head to its complete body; then 408 and close (0 = none)", false, false, NULL},
        {"auth-fail-limit", "BRASA_AUTH_FAIL_LIMIT", "50/60s",
         "LIMIT[/WINDOW] failed authentications per client address before it gets 429 until the window ends; 0 never",
         false, false, NULL},
        {"rate-limit", "BRASA_RATE_LIMITS", NULL,
         "GROUP=LIMIT[/WINDOW] per key, e.g. users.track=6000/3s; 0 disables; repeatable", false, true, NULL},
        {"commit-batch", "BRASA_COMMIT_BATCH", "8192", "most writes per transaction, at most 65535 (1 = a commit per write)", false, false, NULL},
        {"key-cache-ms", "BRASA_KEY_CACHE_MS", "1000", "how long a checked key is trusted before re-reading it", false, false, NULL},
        {"public-url", "BRASA_PUBLIC_URL", NULL,
         "the URL clients and recipients reach this server at: export downloads and email links, e.g. https://brasa.example.com (default: http:// + the request's Host for downloads, this server's address for email)",
         false, false, NULL},
        {"session-ttl", "BRASA_SESSION_TTL", "43200", "seconds a dashboard sign-in lasts", false, false, NULL},
        {"export-ttl", "BRASA_EXPORT_TTL", "24", "hours a segment export file is kept (0 = until deleted by hand)", false, false, NULL},
        {"currents-retention", "BRASA_CURRENTS_RETENTION", "7",
         "days the outboxes keep Currents events for replays (at least until every connector passed them)", false,
         false, NULL},
        {"global-control-group", "BRASA_GLOBAL_CONTROL_GROUP", "0",
         "percent of users (1-15) in the Global Control Group, chosen by random bucket; 0 = none", false, false, NULL},
        {"global-control-group-start", "BRASA_GLOBAL_CONTROL_GROUP_START", NULL,
         "first random bucket (0-9999) of the group's range (default: the top PERCENT x 100 buckets)", false, false, NULL},
        {"log-level", "BRASA_LOG_LEVEL", "info", "debug, info, warn, error or off", false, false, NULL},
        {"log-format", "BRASA_LOG_FORMAT", "text", "text, or json: one JSON object a line, for log shippers", false,
         false, NULL},
        {"smtp-url", "BRASA_SMTP_URL", NULL,
         "an email relay, named default: smtp://host:port (STARTTLS when offered) or smtps://host:port; more with `brasa smtp add`; none at all: email is refused", false,
         false, NULL},
        {"smtp-user", "BRASA_SMTP_USER", NULL, "the relay's AUTH user", false, false, NULL},
        {"smtp-password", "BRASA_SMTP_PASSWORD", NULL, "the relay's AUTH password (better in the environment)", false, false,
         NULL},
        {"dkim-domain", "BRASA_DKIM_DOMAIN", NULL,
         "DKIM-sign email From this domain or its subdomains (d=); with --dkim-selector and --dkim-key", false, false,
         NULL},
        {"dkim-selector", "BRASA_DKIM_SELECTOR", NULL, "the DKIM selector (s=): the key's TXT record is SELECTOR._domainkey.DOMAIN",
         false, false, NULL},
        {"dkim-key", "BRASA_DKIM_KEY", NULL, "file of the DKIM private key (PEM, RSA, 2048 bits recommended)", false, false,
         NULL},
        {NULL, NULL, NULL, NULL, false, false, NULL},
    };
    char full_usage[4096];
    rl_config rlc;
    rl_defaults(&rlc);
    char groups[2048];
    rl_describe(&rlc, groups, sizeof groups);
    snprintf(full_usage, sizeof full_usage, "%s\n\nRate-limit groups (per key):\n%s", usage, groups);

    char *pos[1];
    int npos, rc = opts_parse(argc, argv, opts, full_usage, pos, &npos, 0);
    if (rc) {
        opts_free(opts);
        return rc == 1 ? 0 : 2;
    }
    int exit_code = 1, lockfd = -1;
    store_t *store = NULL;
    engine_t *engine = NULL;
    auth_t *auth = NULL;
    sqlite3 *creds_db = NULL;
    rl_t *rl = NULL;
    exporter_t *exporter = NULL;
    dispatcher *dsp = NULL;
    scheduler *sch = NULL;
    converter *conv = NULL;
    currents *cur = NULL;
    dkim_signer *dkim = NULL;
    dash_t *dash = NULL;
    http_server *srv = NULL, *msrv = NULL;
    char *public_url = NULL, mhost[64] = "";
    uint8_t links_key[LNK_KEY_LEN];
    long mport = -1;

    int lvl = log_parse_level(opts_get(opts, "log-level")), lfmt = log_parse_format(opts_get(opts, "log-format"));
    long long port = opts_uint(opts, "port", 65535), threads = opts_uint(opts, "threads", 256),
              max_body = opts_uint(opts, "max-body", 1LL << 30),
              max_headers = opts_uint(opts, "max-headers", 1 << 20),
              timeout = opts_uint(opts, "timeout", 86400),
              ttl = opts_uint(opts, "key-cache-ms", 3600 * 1000),
              batch = opts_uint(opts, "commit-batch", ENG_MAX_BATCH),
              export_ttl = opts_uint(opts, "export-ttl", 24 * 365 * 100),
              retention = opts_uint(opts, "currents-retention", 36500),
              max_conns = opts_uint(opts, "max-connections", 1 << 20),
              max_per_ip = opts_uint(opts, "max-connections-per-ip", 1 << 20),
              header_timeout = opts_uint(opts, "header-timeout", 86400),
              body_timeout = opts_uint(opts, "body-timeout", 86400),
              session_ttl = opts_uint(opts, "session-ttl", 365LL * 86400);
    if (port < 0 || threads < 0 || max_body < 0 || max_headers < 0 || timeout < 0 || ttl < 0 || batch < 0 ||
        export_ttl < 0 || retention < 1 || max_conns < 1 || max_per_ip < 0 || header_timeout < 0 || body_timeout < 0 ||
        session_ttl < 1)
        goto usage;
    /* Download URLs are "<public-url>/exports/<name>": no trailing slash. */
    public_url = opts_get(opts, "public-url") ? xstrdup(opts_get(opts, "public-url")) : NULL;
    for (size_t n = public_url ? strlen(public_url) : 0; n > 0 && public_url[n - 1] == '/'; n--) public_url[n - 1] = '\0';
    if (public_url && !httpc_url_valid(public_url)) {
        fprintf(stderr, "brasa: --public-url must be an http:// or https:// URL (got '%s')\n", public_url);
        goto usage;
    }
    if (lvl < 0) {
        fprintf(stderr, "brasa: unknown --log-level '%s'\n", opts_get(opts, "log-level"));
        goto usage;
    }
    if (lfmt < 0) {
        fprintf(stderr, "brasa: unknown --log-format '%s' (text or json)\n", opts_get(opts, "log-format"));
        goto usage;
    }
    if (opts_get(opts, "metrics-listen") && parse_hostport(opts_get(opts, "metrics-listen"), mhost, sizeof mhost, &mport) < 0) {
        fprintf(stderr, "brasa: --metrics-listen must be HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100 (got '%s')\n",
                opts_get(opts, "metrics-listen"));
        goto usage;
    }
    log_set_level((log_level)lvl);
    log_set_format((log_format)lfmt);
    gcg_t gcg;
    char gwhy[160];
    if (gcg_parse(opts_get(opts, "global-control-group"), opts_get(opts, "global-control-group-start"), &gcg, gwhy,
                  sizeof gwhy) < 0) {
        fprintf(stderr, "brasa: %s\n", gwhy);
        goto usage;
    }
    authfail_config afc = {0, 60};
    if (authfail_parse(opts_get(opts, "auth-fail-limit"), &afc) < 0) {
        fprintf(stderr, "brasa: --auth-fail-limit must be LIMIT[/WINDOW], e.g. 50/60s (got '%s')\n",
                opts_get(opts, "auth-fail-limit"));
        goto usage;
    }
    char *why;
    if (opts_get(opts, "rate-limit") && rl_parse(&rlc, opts_get(opts, "rate-limit"), &why) < 0) {
        fprintf(stderr, "brasa: %s\n", why);
        free(why);
        goto usage;
    }
    const char *dkd = opts_get(opts, "dkim-domain"), *dks = opts_get(opts, "dkim-selector"), *dkk = opts_get(opts, "dkim-key");
    if ((dkd || dks || dkk) && !(dkd && dks && dkk)) {
        fprintf(stderr, "brasa: DKIM signing needs --dkim-domain, --dkim-selector and --dkim-key together\n");
        goto usage;
    }
    char dwhy[600];
    if (dkd && !(dkim = dkim_signer_new(dkd, dks, dkk, dwhy, sizeof dwhy))) {
        fprintf(stderr, "brasa: %s\n", dwhy);
        goto usage;
    }

    /* Threads inherit this mask; only the main thread takes the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    httpc_global_init(); /* before any thread: libcurl's set-up is process-wide */

    const char *dir = opts_get(opts, "data-dir");
    if (store_open(dir, &store) < 0) goto out;
    if ((lockfd = lock_data_dir(dir)) < 0) goto out;
    store_set_max_batch(store, (unsigned)batch);
    /* Index hashing is seeded per start, so ids chosen to collide cannot
     * be prepared in advance (nothing stored depends on the seed). */
    secret_random(&hash_seed, sizeof hash_seed);
    api_legacy_register();
    if (bootstrap(store) < 0 || engine_open(store, &engine) < 0 || store_start(store) < 0 ||
        engine_start(engine) < 0)
        goto out;
    if (store_open_reader(store, &creds_db) < 0) goto out;
    auth_loader loader = api_creds_loader(creds_db);
    auth = auth_new(&loader, ttl);
    rl = rl_new(&rlc);
    exporter_config ec = {.engine = engine, .ttl_hours = (unsigned)export_ttl, .gcg = &gcg};
    if (exporter_start(&ec, &exporter) < 0) goto out;
    /* Messaging: the dispatcher resumes what was sending, the scheduler
     * fires what came due while the server was down. */
    smtp_opts smtp = {.url = opts_get(opts, "smtp-url"), .user = opts_get(opts, "smtp-user"),
                      .password = opts_get(opts, "smtp-password"), .dkim = dkim};
    if (smtp.url && strncmp(smtp.url, "smtp://", 7) && strncmp(smtp.url, "smtps://", 8)) {
        log_error("serve: --smtp-url must be smtp://host:port or smtps://host:port, not '%s'", smtp.url);
        goto out;
    }
    /* Email: through smtp.url's relay ("default") and those `brasa smtp
     * add` and /admin/smtp_relays store, read again as they change. */
    if (!(dsp = dsp_start(engine, &gcg, &smtp)) || !(sch = sched_start(engine, dsp))) goto out;
    if (dkim) log_info("serve: DKIM: signing email from %s and its subdomains (selector %s)", dkd, dks);
    /* Conversions: the converter goes on from its cursor over the outbox. */
    if (!(conv = conv_start(engine))) goto out;
    /* Currents: each connector goes on from its durable cursor. */
    if (!(cur = cur_start(engine, (int)retention))) goto out;
    /* Email links (opens, clicks, unsubscribes) are signed with a key kept
     * in the data directory: mail sent before a restart keeps working. */
    if (lnk_key_load(dir, links_key) < 0) goto out;
    /* The dashboard's sessions, Secure cookies behind an https public URL. */
    if (!(dash = dash_new(store, session_ttl, public_url && !strncasecmp(public_url, "https://", 8)))) goto out;
    http_ctx ctx = {.engine = engine, .auth = auth, .rl = rl, .exporter = exporter, .public_url = public_url,
                    .data_dir = dir, .gcg = &gcg, .started_ms = clock_wall_ms(), .dispatcher = dsp,
                    .scheduler = sch, .currents = cur, .links_key = links_key, .dkim = dkim,
                    .dash = dash_http(dash)};
    if (gcg_enabled(&gcg))
        log_info("serve: Global Control Group: %u%% of users, random buckets %u to %u", gcg.percent, gcg.start,
                 (gcg.start + gcg.percent * 100 - 1) % GCG_BUCKETS);
    http_config hc = {.listen = opts_get(opts, "listen"),
                      .port = (int)port,
                      .threads = threads ? (unsigned)threads : 1,
                      .max_body = (size_t)max_body,
                      .max_headers = (size_t)max_headers,
                      .timeout_s = (unsigned)timeout,
                      .auth_fail_limit = afc.limit,
                      .auth_fail_window_s = afc.window_s,
                      .max_conns = (unsigned)max_conns,
                      .max_conns_per_ip = (unsigned)max_per_ip,
                      .header_timeout_s = (unsigned)header_timeout,
                      .body_timeout_s = (unsigned)body_timeout};
    if (http_start(&hc, &ctx, api_tables, &srv) < 0) goto out;
    ctx.api = srv;
    if (mport >= 0) {
        http_config mc = hc;
        mc.listen = mhost;
        mc.port = (int)mport;
        mc.threads = 1;
        if (http_start(&mc, &ctx, api_metrics_tables, &msrv) < 0) goto out;
        char murl[96];
        printf("metrics on %s/metrics\n", url_of(murl, sizeof murl, mhost, http_port(msrv)));
    }

    char url[96];
    url_of(url, sizeof url, hc.listen, http_port(srv));
    /* the links in email lead to the public URL, else to this server */
    dsp_set_links(dsp, public_url ? public_url : url, links_key);
    /* Where to find this server, for the commands that send to it. */
    if (dprintf(lockfd, "%s\n", url) < 0) log_warn("serve: cannot write %s/brasa.lock: %s", dir, strerror(errno));
    printf("brasa %s listening on %s (data dir %s)\n", BRASA_VERSION, url, dir);
    int64_t nops;
    if (dash_operator_count(dash, &nops) == 0 && nops == 0)
        printf("dashboard: %s/dashboard/ has no operator yet: create one with\n"
               "  brasa operators add --data-dir %s NAME --role admin\n"
               "which reads the password from standard input.\n",
               url, dir);
    fflush(stdout);
    log_info("serve: ready pid=%d port=%d threads=%u", (int)getpid(), http_port(srv), hc.threads);

    /* The main thread's chores (checkpoints are the engine's own):
     * last-use times of keys every FLUSH_INTERVAL_S, daily segment sizes,
     * and watching for a failed store. */
    for (unsigned tick = 1;; tick++) {
        struct timespec ts = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("serve: signal %d, shutting down", sig);
            break;
        }
        if (engine_failed(engine)) {
            log_error("serve: the store failed (see above); exiting so a restart recovers from the journal");
            break;
        }
        if (tick % FLUSH_INTERVAL_S == 0) flush_touches(engine, auth);
        /* Daily segment sizes (/segments/data_series): each command sizes
         * a few of the segments that have none for today yet. */
        if (tick % SEGMENT_SNAPSHOT_S == 1) {
            segs_snapshot sn = {0, 0, true};
            int sized = 0;
            while (sn.more && eng_exec_read(engine, segs_snapshot_read, &sn) == 0) sized += sn.done;
            if (sized) log_info("segments: sized %d segment%s for today", sized, sized == 1 ? "" : "s");
        }
    }
    if (msrv) http_quiesce(msrv);
    http_quiesce(srv);
    if (msrv) http_drain(msrv, 5000);
    http_drain(srv, 5000);
    if (!engine_failed(engine)) flush_touches(engine, auth);
    exit_code = engine_failed(engine) ? 1 : 0;
    goto out;
usage:
    exit_code = 2;
out:
    http_stop(msrv);
    http_stop(srv);
    dash_free(dash); /* after the last request that checks a session */
    exporter_free(exporter); /* after the handlers that kick it, before the engine its commands need */
    sched_stop(sch);         /* likewise; what they did not record is redone at the next start */
    dsp_stop(dsp);
    dkim_signer_free(dkim);  /* after the render threads and the metrics that read it */
    cur_stop(cur);           /* what no cursor passed yet is sent again at the next start */
    conv_stop(conv);         /* a batch not recorded is read again at the next start */
    if (engine) engine_stop(engine, !store_failed(store)); /* a clean stop leaves no journal to replay */
    store_stop(store);
    auth_free(auth);
    if (creds_db) sqlite3_close(creds_db);
    rl_free(rl);
    engine_free(engine);
    store_close(store);
    if (lockfd >= 0) close(lockfd);
    httpc_global_cleanup();
    free(public_url);
    opts_free(opts);
    return exit_code;
}
