/* attach.c -- an email's attachments fetched over libcurl (see attach.h). */
#include "attach.h"
#include "../lib/buf.h"
#include "../lib/httpc.h"
#include "../lib/mem.h"
#include "../lib/utf8.h"
#include "../version.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The types Braze attaches, with the extension each gives the file. */
static const struct {
    const char *type, *ext;
} types[] = {
    {"text/plain", "txt"}, {"text/csv", "csv"}, {"text/calendar", "ics"}, {"text/vcard", "vcf"}, {"text/x-vcard", "vcf"},
    {"application/pdf", "pdf"}, {"application/rtf", "rtf"}, {"application/json", "json"},
    {"application/zip", "zip"}, {"application/gzip", "gz"}, {"application/x-7z-compressed", "7z"},
    {"application/msword", "doc"},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
    {"application/vnd.ms-excel", "xls"}, {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
    {"application/vnd.ms-powerpoint", "ppt"},
    {"application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"},
    {"application/vnd.oasis.opendocument.text", "odt"}, {"application/vnd.oasis.opendocument.spreadsheet", "ods"},
    {"application/vnd.oasis.opendocument.presentation", "odp"}, {"application/vnd.apple.pkpass", "pkpass"},
    {"image/png", "png"}, {"image/jpeg", "jpg"}, {"image/gif", "gif"}, {"image/bmp", "bmp"}, {"image/tiff", "tif"},
    {"image/webp", "webp"}, {"image/svg+xml", "svg"}, {"image/heic", "heic"},
    {"audio/mpeg", "mp3"}, {"audio/wav", "wav"}, {"audio/ogg", "ogg"}, {"audio/aac", "aac"}, {"audio/mp4", "m4a"},
    {"video/mp4", "mp4"}, {"video/quicktime", "mov"}, {"video/mpeg", "mpeg"}, {"video/webm", "webm"},
};

bool att_name_ok(const char *name) {
    size_t n = strlen(name);
    if (!n || n > ATT_NAME_MAX || !utf8_valid(name, n, NULL)) return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\') return false;
    return true;
}

typedef struct {
    buf_t body;
    bool too_big;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
    sink *s = arg;
    if (s->body.len + size * n > ATT_MAX_BYTES) {
        s->too_big = true;
        return 0; /* stops the transfer: nothing past the cap is read */
    }
    buf_append(&s->body, p, size * n);
    return size * n;
}

int att_fetch(const char *url, const char *file_name, const char *user, const char *pass, long timeout_ms,
              mime_attachment *out, char *why, size_t whylen) {
    memset(out, 0, sizeof *out);
    if (!httpc_url_valid(url)) {
        snprintf(why, whylen, "attachment '%s': '%.200s' is not an http:// or https:// URL", file_name, url);
        return -1;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(why, whylen, "attachment '%s': out of memory", file_name);
        return -1;
    }
    sink s = {BUF_INIT, false};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ATT_MAX_BYTES);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "brasa/" BRASA_VERSION);
    if (user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, pass ? pass : "");
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    const char *ext = NULL;
    size_t tl = ctype ? strcspn(ctype, "; \t") : 0;
    for (size_t i = 0; ctype && i < sizeof types / sizeof *types; i++)
        if (strlen(types[i].type) == tl && !strncasecmp(ctype, types[i].type, tl)) ext = types[i].ext;
    int ret = -1;
    if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(why, whylen, "attachment '%s': %.200s is larger than 2 MB", file_name, url);
    else if (rc != CURLE_OK)
        snprintf(why, whylen, "attachment '%s': %.200s could not be fetched: %s", file_name, url, curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(why, whylen, "attachment '%s': %.200s answered %ld", file_name, url, status);
    else if (!ext)
        snprintf(why, whylen, "attachment '%s': %.200s has type '%.*s', which cannot be attached", file_name, url,
                 (int)(tl < 100 ? tl : 100), ctype ? ctype : "");
    else {
        size_t n = strlen(file_name) + strlen(ext) + 2;
        out->filename = xmalloc(n);
        snprintf(out->filename, n, "%s.%s", file_name, ext);
        out->type = xstrndup(ctype, tl);
        for (char *p = out->type; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        out->len = s.body.len;
        out->data = s.body.len ? buf_take(&s.body) : xstrdup("");
        ret = 0;
    }
    curl_easy_cleanup(h);
    buf_free(&s.body);
    return ret;
}

void att_free(mime_attachment *a) {
    free(a->filename);
    free(a->type);
    free(a->data);
    memset(a, 0, sizeof *a);
}
