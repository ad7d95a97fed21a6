/* err.c -- lookups into the error table declared in err.h. */
#include "err.h"

static const struct {
    const char *name;
    int status;
    const char *message;
} br_errors[] = {
#define XX(name, status, msg) {"E" #name, status, msg},
    BR_ERR_MAP(XX)
#undef XX
};

static int idx(int code) {
    int i = -code;
    return (i >= 0 && i < BR_E__COUNT) ? i : BR_E_INTERNAL_IDX;
}

int br_err_status(int code) { return br_errors[idx(code)].status; }
const char *br_err_message(int code) { return br_errors[idx(code)].message; }
const char *br_err_name(int code) { return br_errors[idx(code)].name; }
