/* EmailSubmission's pure parts (src/mail/jm_submit_envelope.c: envelope
 * derivation, addresses, Bcc removal, SMTP reply strings) and the queue
 * (src/store/jm_store_queue.c: insert, claim, lease, finish, cancel) on
 * SQLite and, with JMAP_TEST_PG_PORT, PostgreSQL. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "tap.h"
#include "db_suite.h"
#include "mail/jm_submission.h"
#include "mime/jm_mime_read.h"
#include "mime/jm_mime.h"
#include "store/jm_schema.h"
#include "store/jm_store_queue.h"

static apr_pool_t *pool;

static apr_array_header_t *hdrs(const char *const *nv)
{
    apr_array_header_t *a = apr_array_make(pool, 4, sizeof(jm_hdr_t));

    for (; nv[0]; nv += 2) {
        jm_hdr_t *h = apr_array_push(a);
        h->name = nv[0];
        h->raw = nv[1];
    }
    return a;
}

static const char *joined(apr_array_header_t *a)
{
    return apr_array_pstrcat(pool, a, ',');
}

static void test_derive(void)
{
    apr_array_header_t *r;
    const char *from, *why = NULL;

    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "From", " Alice <alice@example.com>", "To", " bob@example.com, Carol <carol@example.com>",
        "Cc", " BOB@example.com", "Bcc", " dave@example.com", NULL }), 100, pool) == 0,
       "From, To, Cc, Bcc");
    is_str(from, "alice@example.com", "mailFrom from From");
    is_str(joined(r), "bob@example.com,carol@example.com,dave@example.com",
           "rcptTo deduplicated (case-insensitive), in To, Cc, Bcc order");
    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "From", " a@example.com, b@example.com", "Sender", " s@example.com",
        "To", " x@example.com", NULL }), 100, pool) == 0, "Sender with two From");
    is_str(from, "s@example.com", "mailFrom from Sender");
    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "From", " a@example.com, b@example.com", NULL }), 100, pool) == -1
       && !strcmp(why, "from"), "two From addresses, no Sender: invalid (from)");
    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "From", " a@example.com", "From", " b@example.com", NULL }), 100, pool) == -1,
       "two From fields: invalid");
    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "Sender", " a@example.com", "Sender", " b@example.com",
        "From", " c@example.com", NULL }), 100, pool) == -1 && !strcmp(why, "sender"),
       "two Sender fields: invalid (sender)");
    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "To", " undisclosed-recipients:;", NULL }), 100, pool) == 0
       && !*from && r->nelts == 0, "an empty group and no From: nothing");
    ok(jm_submit_derive(&from, &r, &why, hdrs((const char *[]){
        "From", " a@example.com", "To", " Team: x@example.com, y@example.com;", NULL }),
        100, pool) == 0 && r->nelts == 2, "group members are recipients");
}

static void test_addresses(void)
{
    ok(jm_submit_valid_address("bob@example.com"), "plain address");
    ok(jm_submit_valid_address("b.o+b@sub.example.co"), "dots and plus");
    ok(jm_submit_valid_address("root@localhost"), "localhost");
    ok(!jm_submit_valid_address("bob"), "no @");
    ok(!jm_submit_valid_address("@example.com"), "no local part");
    ok(!jm_submit_valid_address("bob@"), "no domain");
    ok(!jm_submit_valid_address("bob@example"), "a domain without a dot");
    ok(!jm_submit_valid_address("b ob@example.com"), "a space");
    ok(!jm_submit_valid_address("bob@example.com>\r\nRCPT TO:<x@y.z"),
       "no CRLF injection into the RCPT line");
    ok(!jm_submit_valid_address("<bob@example.com>"), "brackets");
    ok(!jm_submit_valid_address(apr_pstrcat(pool, apr_psprintf(pool, "%0250d", 0),
                                            "@example.com", NULL)), "over 254 octets");
    ok(!jm_submit_valid_address(NULL), "NULL");
}

static void strip_is(const char *in, const char *want, const char *name)
{
    const char *out;
    apr_size_t len;

    jm_submit_strip_bcc(&out, &len, in, strlen(in), pool);
    ok(len == strlen(want) && !memcmp(out, want, len), "%s", name);
    if (len != strlen(want) || memcmp(out, want, len)) {
        diag("got: [%.*s]", (int)len, out);
    }
}

static void test_strip(void)
{
    strip_is("From: a\r\nBcc: x@y.z\r\nTo: b\r\n\r\nBcc: body\r\n",
             "From: a\r\nTo: b\r\n\r\nBcc: body\r\n", "one Bcc field; the body is untouched");
    strip_is("Bcc: x@y.z,\r\n y@y.z\r\n\tz@y.z\r\nSubject: s\r\n\r\nhi",
             "Subject: s\r\n\r\nhi", "a folded Bcc at the top");
    strip_is("To: b\r\nBCC : x\r\nbcc:\r\nX-Bcc: keep\r\nBccx: keep\r\n\r\n",
             "To: b\r\nX-Bcc: keep\r\nBccx: keep\r\n\r\n",
             "case, obsolete space before the colon, empty; others stay");
    strip_is("To: b\nBcc: x\n\nbody\n", "To: b\n\nbody\n", "bare LF line ends");
    strip_is("To: b\r\n\r\n", "To: b\r\n\r\n", "no Bcc: the same bytes");
    strip_is("Bcc: x", "", "a message of one unterminated Bcc line");
    strip_is("", "", "empty");
    {
        const char *in = "To: b\r\n\r\nx", *out;
        apr_size_t len;
        jm_submit_strip_bcc(&out, &len, in, strlen(in), pool);
        ok(out == in, "nothing to strip: the input itself, not a copy");
    }
}

static const char *join(const char *const *lines)
{
    apr_array_header_t *a = apr_array_make(pool, 4, sizeof(const char *));

    for (; *lines; lines++) {
        APR_ARRAY_PUSH(a, const char *) = *lines;
    }
    return jm_submit_join_reply(a, pool);
}

static void test_join(void)
{
    is_str(join((const char *[]){ "550-5.7.1 Our system has detected that this message is",
                                  "550 5.7.1 likely spam.", NULL }),
           "550 5.7.1 Our system has detected that this message is likely spam.",
           "RFC 8621 §7 example");
    is_str(join((const char *[]){ "250 2.0.0 Ok: queued as 0001", NULL }),
           "250 2.0.0 Ok: queued as 0001", "one line");
    is_str(join((const char *[]){ "451-first", "451 second", NULL }),
           "451 first second", "no enhanced code");
    is_str(join((const char *[]){ "550-5.1.1 One", "550-5.1.1 Onerous", "550 5.1.1 x", NULL }),
           "550 5.1.1 One Onerous x", "the common prefix stops at the status code");
    is_str(join((const char *[]){ "2", NULL }), "2", "a short line");
    is_str(join((const char *[]){ NULL }), "", "no line");
}

/* ---- the queue ----------------------------------------------------------- */

static void test_reports(void)
{
    jm_report_ref_t r;
    const char *dsn =
        "From: MAILER-DAEMON@relay.example\r\nTo: alice@example.com\r\n"
        "Subject: Undelivered\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        " boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.example\r\nOriginal-Envelope-Id: Sabc\r\n\r\n"
        "Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: alice@example.com\r\nMessage-ID: <orig.1@example.com>\r\n"
        "Subject: hi\r\n\r\n--b1--\r\n";
    const char *dsn822 =
        "From: MAILER-DAEMON@relay.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: Multipart/Report; report-type=delivery-status; boundary=b2\r\n\r\n"
        "--b2\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; x@y.z\r\n"
        "Action: delayed\r\nStatus: 4.4.1\r\n\r\n"
        "--b2\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: alice@example.com\r\nMessage-ID: <orig.2@example.com>\r\n\r\nbody\r\n"
        "--b2--\r\n";
    const char *mdn =
        "From: bob@example.net\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=disposition-notification;\r\n"
        "\tboundary=\"m\"\r\n\r\n"
        "--m\r\nContent-Type: text/plain\r\n\r\nRead.\r\n"
        "--m\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Reporting-UA: mua.example; Mailer 1.0\r\n"
        "Final-Recipient: rfc822; Bob@Example.NET\r\n"
        "Original-Message-ID: <orig.3@example.com>\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--m--\r\n";
    const char *deleted =
        "From: bob@example.net\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=m\r\n\r\n"
        "--m\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Final-Recipient: rfc822; bob@example.net\r\n"
        "Original-Message-ID: <orig.4@example.com>\r\n"
        "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n\r\n--m--\r\n";
    const char *plain = "From: a@b.c\r\nSubject: multipart/report in the body\r\n\r\n"
                        "Content-Type: multipart/report\r\n";
    const char *noref =
        "Content-Type: multipart/report; report-type=delivery-status; boundary=n\r\n\r\n"
        "--n\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; x\r\n\r\n--n--\r\n";
    const char *mixed =
        "Content-Type: multipart/mixed; boundary=n\r\n\r\n"
        "--n\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Original-Envelope-Id: Sx\r\n\r\n--n--\r\n";

    ok(jm_submit_report_ref(&r, dsn, strlen(dsn), pool) == 1 && !r.mdn
       && r.envelope_id && !strcmp(r.envelope_id, "Sabc")
       && r.message_id && !strcmp(r.message_id, "orig.1@example.com") && !r.displayed,
       "DSN: Original-Envelope-Id and the returned header's Message-ID");
    ok(jm_submit_report_ref(&r, dsn822, strlen(dsn822), pool) == 1 && !r.mdn
       && !r.envelope_id && r.message_id && !strcmp(r.message_id, "orig.2@example.com"),
       "DSN with the message returned (message/rfc822), type in any case");
    ok(jm_submit_report_ref(&r, mdn, strlen(mdn), pool) == 1 && r.mdn
       && r.message_id && !strcmp(r.message_id, "orig.3@example.com")
       && r.displayed && !strcmp(r.displayed, "Bob@Example.NET"),
       "MDN: Original-Message-ID, displayed by its Final-Recipient");
    ok(jm_submit_report_ref(&r, deleted, strlen(deleted), pool) == 1 && r.mdn
       && r.message_id && !strcmp(r.message_id, "orig.4@example.com") && !r.displayed,
       "MDN with another disposition: not displayed");
    is_int(jm_submit_report_ref(&r, plain, strlen(plain), pool), 0,
           "multipart/report in the body only: no report");
    is_int(jm_submit_report_ref(&r, noref, strlen(noref), pool), 0,
           "a report that names no message: nothing to link");
    is_int(jm_submit_report_ref(&r, mixed, strlen(mixed), pool), 0,
           "a status part outside multipart/report: no report");
    is_int(jm_submit_report_ref(&r, dsn, 40, pool), 0, "cut short: no report");
}

static jm_sub_row_t *row(const char *id, apr_int64_t send_at, int nrcpts)
{
    jm_sub_row_t *s = apr_pcalloc(pool, sizeof(*s));
    int i;

    s->id = id;
    s->identity_id = "Iabc";
    s->email_id = "Mabc";
    s->thread_id = "Tabc";
    s->blob_id = "Gabc";
    s->message_id = "m1@example.com";
    s->mail_from = "a@example.com";
    s->envelope = "{}";
    s->created = send_at;
    s->send_at = send_at;
    s->give_up_at = send_at + 100;
    s->undo_status = "pending";
    s->rcpts = apr_array_make(pool, nrcpts, sizeof(jm_sub_rcpt_t));
    for (i = 0; i < nrcpts; i++) {
        jm_sub_rcpt_t *r = apr_array_push(s->rcpts);
        r->seq = i;
        r->address = apr_psprintf(pool, "r%d@example.com", i);
        r->delivered = "queued";
        r->smtp_reply = "";
        r->displayed = "unknown";
    }
    return s;
}

/* the vacation replies' queue: claimed, retried and finished like
 * submissions, by one worker at a time */
static void run_autoreplies(jm_db_t *db, const char *acc, apr_int64_t now)
{
    apr_array_header_t *c1, *c2;
    jm_autoreply_row_t *a, *b;

    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_vacation_outbox_add(db, acc, "", "x@example.org",
                                       "To: x@example.org\r\n\r\nAway\r\n", now, pool)
          == APR_SUCCESS
       && jm_store_vacation_outbox_add(db, acc, "", "y@example.org",
                                       "To: y@example.org\r\n\r\nAway\r\n", now, pool)
          == APR_SUCCESS
       && jm_db_commit(db) == APR_SUCCESS, "two vacation replies queued");
    ok(jm_store_autoreply_claim(&c1, db, "w1", now, 30, 10, pool) == APR_SUCCESS
       && c1->nelts == 2, "w1 claims both (due at once)");
    ok(jm_store_autoreply_claim(&c2, db, "w2", now + 1, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 0, "w2 gets nothing while the leases hold");
    if (c1->nelts != 2) {
        return;
    }
    a = APR_ARRAY_IDX(c1, 0, jm_autoreply_row_t *);
    b = APR_ARRAY_IDX(c1, 1, jm_autoreply_row_t *);
    ok(!strcmp(a->rcpt, "x@example.org") && !strcmp(a->mail_from, "")
       && !strcmp(a->account_id, acc) && a->tries == 1 && a->created == now
       && !strcmp(a->message, "To: x@example.org\r\n\r\nAway\r\n"),
       "the first read back: null reverse path, bytes, one try");
    ok(jm_store_autoreply_done(db, b, "w2", pool) == APR_EBUSY,
       "another worker cannot finish it");
    ok(jm_store_autoreply_done(db, b, "w1", pool) == APR_SUCCESS, "the owner finishes it");
    ok(jm_store_autoreply_done(db, b, "w1", pool) == APR_EBUSY, "once");
    ok(jm_store_autoreply_retry(db, a, "w1", now + 5, "451 4.3.0 later", pool)
       == APR_SUCCESS, "the other waits for a retry");
    ok(jm_store_autoreply_claim(&c2, db, "w2", now + 4, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 0, "not due before its next try");
    ok(jm_store_autoreply_claim(&c2, db, "w2", now + 5, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 1, "due at it, for another worker");
    a = c2->nelts ? APR_ARRAY_IDX(c2, 0, jm_autoreply_row_t *) : NULL;
    ok(a && a->tries == 2 && !strcmp(a->last_reply, "451 4.3.0 later"),
       "second try, with the last reply");
    ok(jm_store_autoreply_claim(&c2, db, "w3", now + 36, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 1, "after the lease, a third worker takes it over");
    ok(a && jm_store_autoreply_done(db, a, "w2", pool) == APR_EBUSY,
       "the second owner lost it");
    a = c2->nelts ? APR_ARRAY_IDX(c2, 0, jm_autoreply_row_t *) : NULL;
    ok(a && jm_store_autoreply_done(db, a, "w3", pool) == APR_SUCCESS
       && jm_store_autoreply_claim(&c2, db, "w3", now + 100, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 0, "finished: nothing left");
}

static void run(jm_db_t *db, const char *label)
{
    const char *err = NULL, *acc;
    apr_array_header_t *c1, *c2, *all;
    jm_queue_item_t *it;
    jm_sub_row_t *got;
    apr_int64_t now = 1000000;
    int from, created;

    diag("--- queue on %s", label);
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "schema (%s)", err ? err : "");
    ok(jm_store_account_ensure(&acc, &created, db, apr_psprintf(pool, "q%d", (int)getpid()),
                               pool) == APR_SUCCESS, "account");
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_submission_insert(db, acc, row("S1", now, 2), pool) == APR_SUCCESS
       && jm_store_submission_insert(db, acc, row("S2", now + 50, 1), pool) == APR_SUCCESS
       && jm_store_submission_insert(db, acc, row("S3", now, 1), pool) == APR_SUCCESS
       && jm_db_commit(db) == APR_SUCCESS, "three submissions queued");
    ok(jm_store_submissions(&all, db, acc, pool) == APR_SUCCESS && all->nelts == 3,
       "listed");
    ok(jm_store_submission_get(&got, db, acc, "S1", pool) == APR_SUCCESS
       && got->rcpts->nelts == 2 && !strcmp(got->undo_status, "pending"), "S1 read back");

    ok(jm_store_queue_claim(&c1, db, "w1", now, 30, 10, pool) == APR_SUCCESS
       && c1->nelts == 2, "w1 claims the two due ones");
    ok(jm_store_queue_claim(&c2, db, "w2", now + 1, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 0, "w2 gets nothing while the leases hold");
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_submission_cancel(db, acc, "S1", "550 canceled", pool) == APR_EBUSY
       && jm_db_rollback(db) == APR_SUCCESS, "a claimed one cannot be canceled");
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_submission_cancel(db, acc, "S2", "550 5.0.0 canceled", pool) == APR_SUCCESS
       && jm_db_commit(db) == APR_SUCCESS, "a waiting one can");
    ok(jm_store_submission_get(&got, db, acc, "S2", pool) == APR_SUCCESS
       && !strcmp(got->undo_status, "canceled")
       && !strcmp(APR_ARRAY_IDX(got->rcpts, 0, jm_sub_rcpt_t).delivered, "no"),
       "canceled: its recipient is no");

    it = APR_ARRAY_IDX(c1, 0, jm_queue_item_t *);
    is_int(it->tries, 1, "first try");
    APR_ARRAY_IDX(it->rcpts, 0, jm_sub_rcpt_t).delivered = "unknown";
    APR_ARRAY_IDX(it->rcpts, 0, jm_sub_rcpt_t).smtp_reply = "250 ok";
    it->undo_status = "final";
    ok(jm_store_queue_finish(db, it, "w2", "done", 0, pool) == APR_EBUSY,
       "another worker cannot record it");
    ok(jm_store_queue_finish(db, it, "w1", "wait", now + 5, pool) == APR_SUCCESS,
       "the owner records it, one recipient still to go");
    ok(jm_store_queue_claim(&c2, db, "w2", now + 4, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 0, "not due before its next try");
    ok(jm_store_queue_claim(&c2, db, "w2", now + 5, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 1, "due at its next try");
    it = c2->nelts ? APR_ARRAY_IDX(c2, 0, jm_queue_item_t *) : NULL;
    ok(it && it->tries == 2 && !strcmp(it->undo_status, "final")
       && !strcmp(APR_ARRAY_IDX(it->rcpts, 0, jm_sub_rcpt_t).delivered, "unknown")
       && !strcmp(APR_ARRAY_IDX(it->rcpts, 1, jm_sub_rcpt_t).delivered, "queued"),
       "second try: what the first recorded");
    ok(jm_store_queue_claim(&c2, db, "w3", now + 29, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 0, "the lease holds to its end");
    ok(jm_store_queue_claim(&c2, db, "w3", now + 36, 30, 10, pool) == APR_SUCCESS
       && c2->nelts == 2, "after it, another worker takes it over (and S3's)");
    ok(it && jm_store_queue_finish(db, it, "w2", "done", 0, pool) == APR_EBUSY,
       "the first owner lost it");
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_submission_destroy(db, acc, "S3", pool) == APR_SUCCESS
       && jm_store_submission_destroy(db, acc, "S3", pool) == APR_NOTFOUND
       && jm_db_commit(db) == APR_SUCCESS, "destroy hides it once");
    ok(jm_store_submission_get(&got, db, acc, "S3", pool) == APR_NOTFOUND,
       "destroyed: not found");
    run_autoreplies(db, acc, now);
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    const char *dir;
    jm_db_t *db;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    jm_mime_global_init();
    test_derive();
    test_addresses();
    test_strip();
    test_join();
    test_reports();
    if (apr_dbd_get_driver(pool, "sqlite3", &drv) != APR_SUCCESS) {
        ok(0, "the sqlite3 apr_dbd driver");
        return done_testing();
    }
    dir = apr_psprintf(pool, "/tmp/jm-test-submit.%d", (int)getpid());
    apr_dir_make_recursive(dir, APR_OS_DEFAULT, pool);
    db = tdb_open(pool, drv, apr_pstrcat(pool, dir, "/t.db", NULL));
    ok(db != NULL, "open SQLite");
    if (db) {
        run(db, "sqlite3");
        jm_db_close(db);
    }
    tdb_on_pgsql(pool, "submit", run);
    apr_file_remove(apr_pstrcat(pool, dir, "/t.db", NULL), pool);
    apr_file_remove(apr_pstrcat(pool, dir, "/t.db-wal", NULL), pool);
    apr_file_remove(apr_pstrcat(pool, dir, "/t.db-shm", NULL), pool);
    apr_dir_remove(dir, pool);
    return done_testing();
}
