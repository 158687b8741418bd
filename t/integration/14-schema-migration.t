# 14-schema-migration.t — a database written by schema version 1 (the
# module as of commit 18987ed: blob bytes base64 in jm_blobs.data) is
# migrated at startup to version 2 (bytes in jm_blob_chunks rows, read one
# row at a time), on to version 3 (the mail data model: keyed change log,
# mailbox counts kept in columns, keywords, threads and full-text tables),
# to version 4 (header fields for the header filter, full text in
# receivedAt order, sort keys as written) and to version 5 (blob content
# stored once per distinct bytes, in binary rows, keyed by their SHA-256;
# jm_blobs rows are per-account references), to version 6 (the default
# Email/get view stored with each new email; emails stored before have
# none and are parsed as before) and to version 7 (identities, the vacation
# response, its reply log and outbox: new tables; an account older than
# them gets its Identity and VacationResponse states on first use) without
# losing anything. The version 1 database is the
# dump in t/fixtures/schema-v1.DRIVER.sql.gz, made by that old module
# through its own HTTP API (t/fixtures/make-schema-v1.pl), with what it
# answered in schema-v1.DRIVER.json: every blob downloads byte-exact
# (SHA-256 = blob id), the email still parses and its attachment part
# downloads, and new uploads work. Before the start, bob is given a copy of
# alice's multi-row blob in the old schema, which version 5 must store once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw($GunzipError);
use JMAPTest;

my $CHUNK = 196608;          # JM_SQL_CHUNK_BYTES
my $driver = $ENV{JMAP_TEST_DRIVER} || 'sqlite3';
my $fix = "$FindBin::Bin/../fixtures/schema-v1.$driver";
my $m = JSON::PP->new->decode(do { local (@ARGV, $/) = "$fix.json"; <> });
my $dump = do {
    my $z = IO::Uncompress::Gunzip->new("$fix.sql.gz") or die "$fix.sql.gz: $GunzipError";
    local $/;
    <$z>;
};
ok(length $dump > 100_000, 'the version 1 dump (' . length($dump) . ' bytes of SQL)');

# Bob gets the same bytes as alice's blob of four rows, in version 1's
# jm_blobs (the bytes are its data column).
my ($multi) = grep { $_->{label} eq 'four-rows' } @{ $m->{blobs} };
die "no four-rows blob in the fixture\n" unless $multi && $multi->{size} > 3 * $CHUNK;
my $dup = { %$multi, label => 'four-rows, also bob\'s', user => 'bob' };
my $dup_sql = "INSERT INTO jm_blobs (account_id, id, size, type, data, created)"
    . " SELECT '$m->{accounts}{bob}', id, size, type, data, created FROM jm_blobs"
    . " WHERE account_id = '$m->{accounts}{alice}' AND id = '$multi->{blobId}'";

# Load the dump into a database of our own, before httpd (and so the
# migration) starts.
my ($params, $pgname, $pgport, $dir);
if ($driver eq 'sqlite3') {
    $dir = tempdir('jmapmig-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{JMAP_TEST_KEEP});
    chmod 0755, $dir;
    my @as = ();
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('www-data');
        chown $uid, $gid, $dir;
        @as = ('runuser', '-u', 'www-data', '--');
    }
    $params = "$dir/v1.db";
    open(my $p, '|-', @as, 'sqlite3', '-batch', $params) or die "sqlite3: $!";
    print $p $dump, "\n$dup_sql;\n";
    close $p or die "loading the dump into sqlite3 failed\n";
} else {
    $pgport = $ENV{JMAP_TEST_PG_PORT} or die "JMAP_TEST_PG_PORT is needed for pgsql\n";
    $pgname = sprintf('jmt_mig_%d_%d', $$, int rand 1e6);
    local $ENV{PGPASSWORD} = 'jmappw';
    my @psql = ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $pgport,
                '-U', 'jmap');
    system(@psql, '-d', 'jmap', '-c', "CREATE DATABASE $pgname") == 0 or die "createdb\n";
    open(my $p, '|-', @psql, '-o', '/dev/null', '-d', $pgname, '-f', '-') or die "psql: $!";
    # (pg_dump's output empties search_path)
    print $p $dump, "\nRESET search_path;\n$dup_sql;\n";
    close $p or die "loading the dump into PostgreSQL failed\n";
    $params = "host=127.0.0.1 port=$pgport dbname=$pgname user=jmap password=jmappw";
}
END {
    if ($pgname && !$ENV{JMAP_TEST_KEEP}) {
        local $ENV{PGPASSWORD} = 'jmappw';
        system('psql', '-X', '-q', '-h', '127.0.0.1', '-p', $pgport, '-U', 'jmap', '-d', 'jmap',
               '-c', "DROP DATABASE IF EXISTS $pgname WITH (FORCE)");
    }
}

my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                      db => { driver => $driver, params => $params });
my $sql = sub { my $r = eval { $t->db_sql($_[0]) } // "failed: $@"; chomp $r; $r };

like($t->error_log, qr/JM01010: database schema migrated to version 2/, 'migrated to version 2');
like($t->error_log, qr/JM01010: database schema migrated to version 3/, 'to version 3');
like($t->error_log, qr/JM01010: database schema migrated to version 4/, 'and to version 4');
like($t->error_log, qr/JM01010: database schema migrated to version 5/, 'and to version 5');
like($t->error_log, qr/JM01010: database schema migrated to version 6/, 'and to version 6');
# the version the module writes now
like($t->error_log, qr/JM01010: database schema migrated to version 7/, 'and to version 7');
like($t->error_log, qr/JM01010: database schema migrated to version 8/, 'and to version 8');
like($t->error_log, qr/JM01010: database schema migrated to version 9/, 'and to version 9');
# the version the module writes now: the dialect's schema_version
my ($V) = do {
    open(my $fh, '<', "$FindBin::Bin/../../src/store/sql/jm_sql_sqlite3.c") or die;
    local $/;
    <$fh> =~ /\.schema_version\s*=\s*(\d+)/;
};
die "no schema_version in jm_sql_sqlite3.c\n" unless $V;
like($t->error_log, qr/JM01010: database schema migrated to version $V/, "and to version $V");
like($t->error_log, qr/store ready \(schema version $V, found 1\)/, "startup: found 1, now $V");
is($sql->('SELECT version FROM jm_schema'), $V, "jm_schema says $V");
is($sql->($driver eq 'sqlite3'
          ? "SELECT COUNT(*) FROM pragma_table_info('jm_blobs') WHERE name = 'data'"
          : "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'jm_blobs'"
            . " AND column_name = 'data'"), 0, 'jm_blobs no longer holds the bytes');
is($sql->($driver eq 'sqlite3'
          ? "SELECT COUNT(*) FROM sqlite_master WHERE name = 'jm_blob_chunks'"
          : "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'jm_blob_chunks'"),
   0, 'the base64 rows of version 2 and 3 are gone');

my @all = (@{ $m->{blobs} }, $dup, { %{ $m->{email} }, label => 'message', user => 'alice' });
subtest 'the bytes moved into binary rows of at most 192 KiB, once per content' => sub {
    for my $b (@all) {
        my $want = int(($b->{size} + $CHUNK - 1) / $CHUNK);
        my $acct = $m->{accounts}{ $b->{user} };
        my $key = substr($b->{blobId}, 1);
        is($sql->("SELECT content_key FROM jm_blobs WHERE account_id = '$acct'"
                  . " AND id = '$b->{blobId}'"), $key,
           "$b->{label}: keyed by the SHA-256 of its bytes");
        is($sql->("SELECT COUNT(*) || '|' || COALESCE(SUM(length(data)), 0) FROM jm_content_chunks"
                  . " WHERE content_key = '$key'"), "$want|$b->{size}",
           "$b->{label} ($b->{size} bytes): $want row(s) of bytes");
        is($sql->("SELECT size FROM jm_contents WHERE content_key = '$key'"), $b->{size},
           "$b->{label}: the content's size");
    }
    is($sql->("SELECT COUNT(*) FROM jm_content_chunks WHERE length(data) > $CHUNK"), 0,
       'no row over 192 KiB');
    is($sql->($driver eq 'sqlite3'
              ? "SELECT COUNT(*) FROM jm_content_chunks WHERE typeof(data) <> 'blob'"
              : "SELECT COUNT(*) FROM information_schema.columns WHERE table_name ="
                . " 'jm_content_chunks' AND column_name = 'data' AND data_type <> 'bytea'"),
       0, 'the rows are binary (' . ($driver eq 'sqlite3' ? 'BLOB' : 'bytea') . ')');
    my $key = substr($multi->{blobId}, 1);
    is($sql->("SELECT COUNT(*) FROM jm_blobs WHERE content_key = '$key'"), 2,
       'alice\'s and bob\'s four-row blob: two references');
    is($sql->("SELECT COUNT(*) FROM jm_contents WHERE content_key = '$key'"), 1, '... one content');
    is($sql->("SELECT COUNT(*) FROM jm_content_chunks WHERE content_key = '$key'"), 4,
       '... whose four rows are stored once');
    is($sql->("SELECT COUNT(*) FROM jm_contents"), $sql->("SELECT COUNT(DISTINCT content_key)"
                                                          . " FROM jm_blobs"),
       'one content per distinct bytes, none without a blob');
};

subtest 'every blob of version 1 downloads byte-exact' => sub {
    for my $b (@{ $m->{blobs} }, $dup) {
        my $acct = $m->{accounts}{ $b->{user} };
        my $r = $t->get("/jmap/download/$acct/$b->{blobId}/x.bin", $b->{user});
        is($r->{status}, 200, "$b->{label}: 200") or next;
        is($r->{headers}{'content-length'}, $b->{size}, "$b->{label}: Content-Length $b->{size}");
        is(length $r->{content}, $b->{size}, "$b->{label}: $b->{size} bytes");
        is('G' . sha256_hex($r->{content}), $b->{blobId}, "$b->{label}: SHA-256 is the blob id");
        is($r->{headers}{'content-type'}, $b->{type}, "$b->{label}: stored type $b->{type}");
    }
};

subtest 'the version 1 email still parses; its attachment part downloads' => sub {
    my $e = $m->{email};
    my $acct = $m->{accounts}{alice};
    my $r = $t->api('alice', undef, [['Email/get', { accountId => $acct, ids => [$e->{id}],
        fetchTextBodyValues => JSON::PP::true,
        properties => [qw(blobId size textBody bodyValues attachments)] }, 'g']]);
    my $got = $r && $r->{methodResponses}[0][1]{list}[0];
    ok($got, 'Email/get finds it') or return;
    is($got->{size}, $e->{size}, 'size');
    my $tb = $got->{textBody}[0];
    is($got->{bodyValues}{ $tb->{partId} }{value}, $e->{text}, 'text body');
    my $att = $got->{attachments}[0];
    ok($att && $att->{blobId}, 'an attachment') or return;
    my $dl = $t->get("/jmap/download/$acct/$att->{blobId}/bin.dat", 'alice');
    is($dl->{status}, 200, 'part download');
    is('G' . sha256_hex($dl->{content} // ''), $e->{attachmentBlob},
       'the part is the uploaded blob, byte for byte');
    $dl = $t->get("/jmap/download/$acct/$e->{blobId}/m.eml", 'alice');
    is(length $dl->{content}, $e->{size}, 'the whole message downloads');
};

subtest 'version 6: an email stored before has no stored view and is parsed' => sub {
    my $e = $m->{email};
    my $acct = $m->{accounts}{alice};
    is($sql->("SELECT COUNT(*) FROM jm_emails WHERE view IS NOT NULL"), 0,
       'no stored view for the old emails');
    my $r = $t->api('alice', undef, [['Email/get', { accountId => $acct, ids => [$e->{id}] }, 'g']]);
    my $got = $r && $r->{methodResponses}[0][1]{list}[0];
    ok($got, 'Email/get with the default properties finds it') or return;
    ok(@{ $got->{textBody} // [] } == 1 && @{ $got->{attachments} // [] } == 1,
       'textBody and attachments from the message');
    like($got->{preview} // '', qr/\S/, 'a preview');
};

subtest 'version 3: counts, keywords and the change log carried over' => sub {
    my $e = $m->{email};
    my $acct = $m->{accounts}{alice};
    my $r = $t->api('alice', undef, [
        ['Email/get', { accountId => $acct, ids => [$e->{id}],
                        properties => [qw(mailboxIds keywords)] }, 'e'],
        ['Mailbox/get', { accountId => $acct, ids => undef }, 'm']]);
    my $got = $r && $r->{methodResponses}[0][1]{list}[0];
    ok($got, 'Email/get') or return;
    my ($mb) = keys %{ $got->{mailboxIds} };
    my ($box) = grep { $_->{id} eq $mb } @{ $r->{methodResponses}[1][1]{list} };
    ok($box, 'its mailbox') or return;
    my $unread = ($got->{keywords}{'$seen'} || $got->{keywords}{'$draft'}) ? 0 : 1;
    is($box->{totalEmails}, 1, 'totalEmails 1 from the migrated counts');
    is($box->{totalThreads}, 1, 'totalThreads 1');
    is($box->{unreadEmails}, $unread, "unreadEmails $unread");
    my @others = grep { $_->{id} ne $mb } @{ $r->{methodResponses}[1][1]{list} };
    is(scalar(grep { $_->{totalEmails} } @others), 0, 'the other mailboxes are empty');
    is($sql->("SELECT COUNT(*) FROM jm_email_keywords WHERE email_id = '$e->{id}'"),
       scalar(keys %{ $got->{keywords} }), 'keywords in jm_email_keywords');
    is($sql->("SELECT COUNT(*) FROM jm_changes WHERE seq IS NULL"), 0,
       'every change has a key');
    is($sql->("SELECT COUNT(*) FROM jm_email_mailboxes WHERE email_id = '$e->{id}'"
              . " AND received_at > 0"), 1, 'membership carries receivedAt');
    like($t->error_log, qr/JM01130: indexed 1 email\(s\) stored under an older schema version/,
         'the old email was indexed at startup');
    is($sql->("SELECT COUNT(*) FROM jm_emails WHERE indexed = 0"), 0, 'nothing left unindexed');
    isnt($sql->("SELECT subject FROM jm_emails WHERE id = '$e->{id}'"), '',
         'its subject column is filled');
    is($sql->("SELECT COUNT(*) FROM jm_thread_refs WHERE thread_id = (SELECT thread_id"
              . " FROM jm_emails WHERE id = '$e->{id}')") > 0 ? 1 : 0, 1,
       'its message id leads to its thread');
};

subtest 'version 4: the old email is found by full text and by header' => sub {
    my $e = $m->{email};
    my $acct = $m->{accounts}{alice};
    my $r = $t->api('alice', undef, [
        ['Email/query', { accountId => $acct, filter => { body => 'stored by schema' } }, 't'],
        ['Email/query', { accountId => $acct, filter => { header => ['message-id'] } }, 'h'],
        ['Email/query', { accountId => $acct,
                          filter => { header => ['Message-ID', 'no such id'] } }, 'n']]);
    my @res = map { $_->[1]{ids} } @{ $r->{methodResponses} // [] };
    is_deeply($res[0], [$e->{id}], 'body text (FTS rebuilt in receivedAt order)');
    is_deeply($res[1], [$e->{id}], 'header name');
    is_deeply($res[2], [], 'header text it does not have');
    ok($sql->("SELECT COUNT(*) FROM jm_email_headers WHERE email_id = '$e->{id}'") > 3,
       'its header fields are indexed');
};

subtest 'after the migration' => sub {
    my $acct = $m->{accounts}{alice};
    is($t->account_id('alice'), $acct, 'alice keeps her account');
    my $up = $t->upload('alice', $acct, "new in version 5\n", 'text/plain');
    is($up->{status}, 201, 'a new upload works');
    my $again = $t->upload('bob', $m->{accounts}{bob}, "new in version 5\n", 'text/plain');
    is($again->{status}, 201, 'bob uploads the same bytes');
    is($sql->("SELECT COUNT(*) FROM jm_contents WHERE content_key = '"
              . substr($up->{json}{blobId}, 1) . "'"), 1, '... stored once');
    $t->restart;
    like($t->error_log, qr/store ready \(schema version $V, found $V\)/, 'a restart migrates nothing');
    my $r = $t->get("/jmap/download/$acct/$up->{json}{blobId}/n.txt", 'alice');
    is($r->{content}, "new in version 5\n", 'the new blob after a restart');
    my $res = $t->api('alice', [qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
                                   urn:ietf:params:jmap:submission
                                   urn:ietf:params:jmap:vacationresponse)],
        [['Identity/get', { accountId => $acct }, 'i'],
         ['VacationResponse/set', { accountId => $acct,
                                    update => { singleton => { isEnabled => JSON::PP::true } } }, 'v'],
         ['VacationResponse/get', { accountId => $acct }, 'g']]);
    my ($i, $v, $g) = map { JMAPTest->response_for($res, $_) } qw(i v g);
    is($i && $i->[0], 'Identity/get', 'Identity/get on a migrated account');
    ok($i && $i->[1]{list} && @{ $i->[1]{list} }, '... lists her default identities');
    ok($v && exists $v->[1]{updated}{singleton}, 'VacationResponse/set on it');
    ok($g && $g->[1]{list}[0]{isEnabled}, '... and VacationResponse/get');
};

$t->check_error_log;
$t->stop;
done_testing;
