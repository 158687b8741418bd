/* fuzz_lmtp: arbitrary client bytes -> the LMTP state machine
 * (src/lmtp/jm_lmtp.c), fed in chunks whose sizes come from the input's
 * first byte, so that line ends, dots and CRLF pairs fall on chunk
 * boundaries. Checked after every chunk: every reply is whole lines of
 * "ddd" + ' ' or '-' ending in CRLF, with no CR or LF inside; after every
 * message: it has no bare LF, is no longer than the limit, and deliver
 * got between 1 and max_recipients recipients, each with the data its RCPT
 * gave. A violation aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "fuzz_common.h"
#include "lmtp/jm_lmtp.h"

#define MAX_MESSAGE 2048

static void finding(const char *what)
{
    fprintf(stderr, "FINDING: %s\n", what);
    abort();
}

typedef struct {
    int deliveries;
} fz_lmtp_t;

static void rcpt(void *baton, const char *address, jm_lmtp_reply_t *r,
                 void **pdata, apr_pool_t *p)
{
    (void)baton;
    /* accept, refuse or fail by the address's first byte */
    switch ((unsigned char)address[0] % 3) {
    case 0:
        r->code = 250;
        r->status = "2.1.5";
        r->text = "OK";
        *pdata = apr_pstrdup(p, address);
        break;
    case 1:
        r->code = 550;
        r->status = "5.1.1";
        r->text = address;      /* the client's bytes in a reply */
        break;
    default:
        break;                  /* the preset 451 */
    }
}

static void deliver(void *baton, const char *from, int n,
                    const char *const *addresses, void *const *data,
                    const char *msg, apr_size_t len, jm_lmtp_reply_t *replies,
                    apr_pool_t *p)
{
    fz_lmtp_t *f = baton;
    apr_size_t i;
    int k;

    f->deliveries++;
    if (n <= 0 || n > 5 || !from || len > MAX_MESSAGE) {
        finding("deliver: recipient count or message size out of bounds");
    }
    for (i = 0; i < len; i++) {
        if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) {
            finding("a bare LF in a delivered message");
        }
    }
    for (k = 0; k < n; k++) {
        if (strcmp(addresses[k], data[k]) != 0) {
            finding("a recipient's data is not its RCPT's");
        }
        if (k % 2 == 0) {
            replies[k].code = 250;
            replies[k].status = "2.0.0";
            replies[k].text = apr_psprintf(p, "%s\r\n%d", addresses[k], (int)len);
        }
    }
}

static void check_output(jm_lmtp_t *l)
{
    apr_size_t n, i = 0;
    const char *o = jm_lmtp_output(l, &n);

    while (i < n) {
        const char *nl = memchr(o + i, '\n', n - i);
        apr_size_t len;

        if (!nl) {
            finding("a reply without its line end");
        }
        len = (apr_size_t)(nl - (o + i)) + 1;
        if (len < 6 || o[i + len - 2] != '\r' || memchr(o + i, '\r', len - 2)
            || !apr_isdigit(o[i]) || !apr_isdigit(o[i + 1]) || !apr_isdigit(o[i + 2])
            || (o[i + 3] != ' ' && o[i + 3] != '-')) {
            finding("a reply line that is not \"ddd[ -]text CRLF\"");
        }
        i += len;
    }
    jm_lmtp_output_clear(l);
}

static const jm_lmtp_hooks_t hooks = { rcpt, deliver };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jm_lmtp_conf_t conf = { "fuzz.test", MAX_MESSAGE, 5 };
    apr_pool_t *p;
    fz_lmtp_t f = { 0 };
    jm_lmtp_t *l;
    size_t chunk, i;

    if (size < 1) {
        return 0;
    }
    chunk = data[0] ? data[0] : size;
    data++;
    size--;
    p = fz_run_pool();
    l = jm_lmtp_create(&conf, &hooks, &f, p);
    check_output(l);
    for (i = 0; i < size; i += chunk) {
        size_t n = size - i < chunk ? size - i : chunk;
        int done = jm_lmtp_feed(l, (const char *)data + i, n);

        check_output(l);
        if (done) {
            break;
        }
    }
    fz_run_pool_done(p);
    return 0;
}
