/* bench/openssl_loop: OpenSSL alone — the baseline the module is measured
 * against. Signs, encrypts or signs-then-encrypts one message in a loop
 * for a fixed time with N threads, with the same choices the module makes
 * (SHA-256, signed attributes incl. signingCertificateV2, the signer's
 * certificate included, AES-256-GCM, S/MIME output), and prints ops/s.
 *
 * usage: openssl_loop sign|encrypt|sign+encrypt THREADS SECONDS MESSAGE
 *        SIGNER_KEY SIGNER_CERT RECIPIENT_CERT...
 *
 * With PAUSE_US set in the environment, each thread sleeps that long after
 * every operation and the rate printed is over the time spent operating
 * only: how fast the same work runs when the CPU idles in between, as it
 * does in a server while a client reads the answer and sends the next
 * request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/err.h>

static EVP_PKEY *key;
static X509 *signer;
static STACK_OF(X509) *recips;
static char *msg;
static long msglen;
static int do_sign, do_encrypt;
static double seconds;
static long pause_us;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One operation: returns the S/MIME output length (0 on failure). */
static long one_op(void)
{
    BIO *in = BIO_new_mem_buf(msg, (int)msglen), *mid = NULL, *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms;
    long n = 0;
    char *p;

    if (do_sign) {
        cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY | CMS_CADES);
        if (!cms || !CMS_add1_signer(cms, signer, key, EVP_sha256(), CMS_CADES)
            || !CMS_final(cms, in, NULL, CMS_BINARY)) {
            return 0;
        }
        mid = BIO_new(BIO_s_mem());
        SMIME_write_CMS(mid, cms, NULL, CMS_BINARY);
        CMS_ContentInfo_free(cms);
        BIO_free(in);
        in = mid;
    }
    if (do_encrypt) {
        cms = CMS_encrypt(recips, in, EVP_aes_256_gcm(), CMS_BINARY);
        if (!cms) {
            return 0;
        }
        SMIME_write_CMS(out, cms, NULL, CMS_BINARY);
        CMS_ContentInfo_free(cms);
    }
    else {
        n = BIO_get_mem_data(in, &p);
        BIO_write(out, p, (int)n);
    }
    n = BIO_get_mem_data(out, &p);
    BIO_free(in);
    BIO_free(out);
    return n;
}

typedef struct {
    long count;
    double busy;        /* seconds spent in one_op */
} tally_t;

static void *worker(void *arg)
{
    tally_t *t = arg;
    double end = now() + seconds, t0;
    struct timespec pause = { pause_us / 1000000, (pause_us % 1000000) * 1000 };

    while (now() < end) {
        t0 = now();
        if (one_op() <= 0) {
            ERR_print_errors_fp(stderr);
            exit(2);
        }
        t->busy += now() - t0;
        t->count++;
        if (pause_us > 0) {
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

static void *load_pem(const char *file, int is_key)
{
    FILE *f = fopen(file, "r");
    void *o;

    if (!f) {
        perror(file);
        exit(2);
    }
    o = is_key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
               : (void *)PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!o) {
        fprintf(stderr, "cannot read %s\n", file);
        exit(2);
    }
    return o;
}

int main(int argc, char **argv)
{
    int threads, i;
    tally_t tally[64];
    long total = 0;
    double busy = 0;
    pthread_t t[64];
    FILE *f;
    double t0;

    if (argc < 8) {
        fprintf(stderr, "usage: %s sign|encrypt|sign+encrypt THREADS SECONDS "
                "MESSAGE KEY CERT RECIPIENT...\n", argv[0]);
        return 2;
    }
    do_sign = strstr(argv[1], "sign") != NULL;
    do_encrypt = strstr(argv[1], "encrypt") != NULL;
    threads = atoi(argv[2]);
    pause_us = getenv("PAUSE_US") ? atol(getenv("PAUSE_US")) : 0;
    memset(tally, 0, sizeof(tally));
    seconds = atof(argv[3]);
    if (threads < 1 || threads > 64) {
        return 2;
    }
    f = fopen(argv[4], "rb");
    if (!f) {
        perror(argv[4]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    msglen = ftell(f);
    rewind(f);
    msg = malloc(msglen);
    if (fread(msg, 1, msglen, f) != (size_t)msglen) {
        return 2;
    }
    fclose(f);
    key = load_pem(argv[5], 1);
    signer = load_pem(argv[6], 0);
    recips = sk_X509_new_null();
    for (i = 7; i < argc; i++) {
        sk_X509_push(recips, load_pem(argv[i], 0));
    }
    t0 = now();
    for (i = 0; i < threads; i++) {
        pthread_create(&t[i], NULL, worker, &tally[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += tally[i].count;
        busy += tally[i].busy;
    }
    if (pause_us > 0) {
        printf("%.1f\n", threads * total / busy);     /* ops per busy second */
    }
    else {
        printf("%.1f\n", total / (now() - t0));
    }
    return 0;
}
