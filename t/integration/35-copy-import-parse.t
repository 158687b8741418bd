# 35-copy-import-parse.t — Blob/copy (RFC 8620 §6.3), Email/copy (RFC 8621
# §4.7, RFC 8620 §5.4, with and without onSuccessDestroyOriginal),
# Email/import (§4.8: a good message, a broken one GMime still reads, a
# blob that is no message, a part blob, #creationId mailboxes, receivedAt
# from Received) and Email/parse (§4.9, the same view as Email/get), between
# alice's account and bob's (shared with her), with every error type the
# sections name: fromAccountNotFound, accountNotFound, accountReadOnly,
# stateMismatch, invalidArguments, requestTooLarge; SetErrors notFound,
# alreadyExists (with existingId), invalidProperties, blobNotFound,
# invalidEmail, tooLarge; notParsable.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use JMAPTest;

my $T = JSON::PP::true;
my $MAIL = 'urn:ietf:params:jmap:mail';
my $conf = "JMAPShareAccount bob alice\n"
         . "JMAPShareAccount carol alice:ro\n"
         . "JMAPMaxObjectsInSet 5\n"
         . "JMAPMaxObjectsInGet 8\n"
         . "JMAPMaxSizeCreatedPerRequest 30000\n";
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0, extra_conf => $conf);
my $s = $t->session('alice') or do { fail('no session'); done_testing; exit };
my $ACCT = $s->{primaryAccounts}{$MAIL};
my %ACC = map { ($s->{accounts}{$_}{name} => $_) } keys %{ $s->{accounts} };
my ($BOB, $CAROL) = @ACC{qw(bob carol)};
my $DAVE = $t->account_id('dave');
ok($BOB && $CAROL && $DAVE, 'alice sees bob and carol; dave exists')
    or do { done_testing; exit };

sub api1 {
    my ($user, $name, $args) = @_;
    my $r = $t->api($user, undef, [[$name, $args, 'c']]);
    return $r ? @{ $r->{methodResponses} } : ();
}
sub call1 { my @r = api1(@_); return @r ? @{ $r[0] }[0, 1] : ('none', {}) }
sub err_type { my ($n, $a) = @_; $n eq 'error' ? $a->{type} : "no error ($n)" }
sub set_err { my ($a, $k, $id) = @_; ($a->{$k} && $a->{$k}{$id}) ? $a->{$k}{$id}{type} : 'none' }
sub boxes {
    my ($user, $acc) = @_;
    my ($n, $a) = call1($user, 'Mailbox/get', { accountId => $acc });
    return { map { (($_->{role} // $_->{name}) => $_) } @{ $a->{list} || [] } };
}
sub estate { my ($user, $acc) = @_; (call1($user, 'Email/get', { accountId => $acc, ids => [] }))[1]{state} }
sub upload_ok {
    my ($user, $acc, $bytes, $type) = @_;
    my $up = $t->upload($user, $acc, $bytes, $type // 'message/rfc822');
    return $up->{status} == 201 ? $up->{json}{blobId} : do { diag("upload: $up->{status}"); '' };
}
sub crlf { my $m = shift; $m =~ s/\r?\n/\r\n/g; $m }

my %A = map { ($_ => boxes('alice', $ACCT)->{$_}{id}) } qw(inbox archive drafts);
my %B = map { ($_ => boxes('alice', $BOB)->{$_}{id}) } qw(inbox archive);

my $MSG = crlf(<<'EOF');
Received: from mx.example.com by mail.example.com; Tue, 01 Jul 2025 10:00:00 +0000
Received: from older.example by mx.example.com; Mon, 30 Jun 2025 09:00:00 +0000
From: Carol Sender <carol@example.com>
To: Alice <alice@example.com>
Subject: Quarterly report
Message-ID: <q1@example.com>
Date: Tue, 01 Jul 2025 09:59:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

The report is attached. It has many words in it.
--b1
Content-Type: message/rfc822
Content-Disposition: attachment; filename="inner.eml"

From: Dave <dave@example.com>
Subject: Inner message
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: text/plain

inner text
--b2
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="data.bin"
Content-Transfer-Encoding: base64

AAECAwQ=
--b2--
--b1--
EOF
# no closing boundary, a header line without a colon inside: broken MIME
# that GMime still reads
my $BROKEN = crlf(<<'EOF');
From: broken@example.com
Subject: Broken but readable
Content-Type: multipart/mixed; boundary="zz"

--zz
Content-Type: text/plain
this line is no header

hi there
EOF
my $NOTMSG = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR no message here";
my $big = sub { my $n = shift; crlf("From: big\@example.com\nSubject: Big $n\n\n") . ("x" x 76 . "\r\n") x 260 };

my $B_MSG = upload_ok('alice', $ACCT, $MSG);
my $B_BROKEN = upload_ok('alice', $ACCT, $BROKEN);
my $B_NOTMSG = upload_ok('alice', $ACCT, $NOTMSG, 'image/png');
is($B_MSG, 'G' . sha256_hex($MSG), 'blob ids are content hashes');

# ---- Email/import ---------------------------------------------------------------

my %E;     # alice's emails by name
subtest 'Email/import: a message, a broken one, one that is none' => sub {
    my $s0 = estate('alice', $ACCT);
    my ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, ifInState => $s0, emails => {
        m => { blobId => $B_MSG, mailboxIds => { $A{inbox} => $T }, keywords => { '$Seen' => $T } },
        b => { blobId => $B_BROKEN, mailboxIds => { $A{inbox} => $T, $A{archive} => $T } },
        x => { blobId => $B_NOTMSG, mailboxIds => { $A{inbox} => $T } },
    } });
    is($n, 'Email/import', 'answered') or do { diag(explain($a)); return };
    is($a->{accountId}, $ACCT, 'accountId');
    is($a->{oldState}, $s0, 'oldState');
    isnt($a->{newState}, $s0, 'the state changed');
    is($a->{newState}, estate('alice', $ACCT), 'newState is what Email/get says now');
    my $m = $a->{created}{m};
    ok($m && $m->{id} && $m->{threadId}, 'created: id and threadId') or diag(explain($a));
    is($m->{blobId}, $B_MSG, 'blobId: the same bytes');
    is($m->{size}, length($MSG), 'size');
    is_deeply([sort keys %$m], [qw(blobId id size threadId)], 'created has id, blobId, threadId, size');
    ok($a->{created}{b}, 'the broken message is imported') or diag(explain($a->{notCreated}));
    is(set_err($a, 'notCreated', 'x'), 'invalidEmail', 'a PNG is invalidEmail');
    %E = (m => $m->{id}, b => $a->{created}{b}{id});

    my ($gn, $g) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$E{m}, $E{b}],
        properties => [qw(subject from keywords receivedAt mailboxIds textBody)] });
    my %got = map { ($_->{id} => $_) } @{ $g->{list} };
    is($got{ $E{m} }{subject}, 'Quarterly report', 'subject');
    is($got{ $E{m} }{receivedAt}, '2025-07-01T10:00:00Z', 'receivedAt: the most recent Received header');
    is_deeply($got{ $E{m} }{keywords}, { '$seen' => $T }, 'keywords, lower-cased');
    is_deeply($got{ $E{b} }{mailboxIds}, { $A{inbox} => $T, $A{archive} => $T }, 'two mailboxes');
    is($got{ $E{b} }{subject}, 'Broken but readable', 'the broken one reads');
    ok(@{ $got{ $E{b} }{textBody} || [] } >= 1, '... with a text body');
    my $dl = $t->download('alice', { accountId => $ACCT, blobId => $a->{created}{b}{blobId},
                                     name => 'b.eml', type => 'message/rfc822' });
    is($dl->{content}, $BROKEN, 'and downloads as its original bytes');
    is(boxes('alice', $ACCT)->{archive}{totalEmails}, 1, 'mailbox counts follow');
};

subtest 'Email/import: SetErrors' => sub {
    my $bob_blob = upload_ok('alice', $BOB, crlf("From: x\@example.com\nSubject: in bob's\n\nhi\n"));
    my ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        dup => { blobId => $B_MSG, mailboxIds => { $A{inbox} => $T } },
        nob => { blobId => $bob_blob, mailboxIds => { $A{inbox} => $T } },
        unk => { blobId => 'Gdoesnotexist', mailboxIds => { $A{inbox} => $T } },
        nom => { blobId => $B_BROKEN },
        bmb => { blobId => $B_BROKEN, mailboxIds => { $B{inbox} => $T } },
        } });
    is($n, 'Email/import', 'answered') or do { diag(explain($a)); return };
    is(set_err($a, 'notCreated', 'dup'), 'alreadyExists', 'the same message again: alreadyExists');
    is($a->{notCreated}{dup}{existingId}, $E{m}, '... with existingId');
    is(set_err($a, 'notCreated', 'nob'), 'blobNotFound', "a blob of bob's account is not in alice's");
    is_deeply($a->{notCreated}{nob}{notFound}, [$bob_blob], '... notFound names it');
    is(set_err($a, 'notCreated', 'unk'), 'blobNotFound', 'an unknown blob');
    is(set_err($a, 'notCreated', 'nom'), 'invalidProperties', 'no mailboxIds');
    is_deeply($a->{notCreated}{nom}{properties}, ['mailboxIds'], '... named');
    is(set_err($a, 'notCreated', 'bmb'), 'invalidProperties', "a mailbox of bob's account");
    is_deeply($a->{notCreated}{bmb}{properties}, ["mailboxIds/$B{inbox}"], '... named by path');
    ok(!$a->{created}, 'nothing created');
    is($a->{oldState}, $a->{newState}, 'the state did not move');

    my $fresh = upload_ok('alice', $ACCT, crlf("From: f\@example.com\nSubject: fresh\n\nx\n"));
    ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        kw  => { blobId => $fresh, mailboxIds => { $A{inbox} => $T }, keywords => { 'a(b' => $T } },
        kwv => { blobId => $fresh, mailboxIds => { $A{inbox} => $T }, keywords => { '$seen' => JSON::PP::false } },
        rcv => { blobId => $fresh, mailboxIds => { $A{inbox} => $T }, receivedAt => '2025-07-01T10:00:00+02:00' },
        prp => { blobId => $fresh, mailboxIds => { $A{inbox} => $T }, subject => 'no' },
        nbl => { mailboxIds => { $A{inbox} => $T } },
        } });
    is(set_err($a, 'notCreated', $_), 'invalidProperties', "invalidProperties: $_") for qw(kw kwv rcv prp nbl);
    is_deeply($a->{notCreated}{kw}{properties}, ['keywords/a(b'], 'a bad keyword, by path');
    is_deeply($a->{notCreated}{rcv}{properties}, ['receivedAt'], 'receivedAt not UTC');
    is_deeply($a->{notCreated}{prp}{properties}, ['subject'], 'a property an import does not take');
    is_deeply($a->{notCreated}{nbl}{properties}, ['blobId'], 'no blobId');

    # two creations of the same new bytes in one call: one Email
    ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        f1 => { blobId => $fresh, mailboxIds => { $A{inbox} => $T }, receivedAt => '2024-01-02T03:04:05Z' },
        f2 => { blobId => $fresh, mailboxIds => { $A{archive} => $T } },
        } });
    my @ok = grep { $a->{created}{$_} } qw(f1 f2);
    is(scalar @ok, 1, 'the same bytes twice in one call: one is created');
    my ($other) = grep { !$a->{created}{$_} } qw(f1 f2);
    is(set_err($a, 'notCreated', $other), 'alreadyExists', '... the other alreadyExists');
    is($a->{notCreated}{$other}{existingId}, $a->{created}{ $ok[0] }{id}, '... naming it');
};

subtest 'Email/import: #creationId mailboxes, ifInState, part blobs' => sub {
    my $msg = upload_ok('alice', $ACCT, crlf("From: r\@example.com\nSubject: into a new mailbox\n\nx\n"));
    my $r = $t->api('alice', undef, [
        ['Mailbox/set', { accountId => $ACCT, create => { nb => { name => 'Imported' } } }, 'mb'],
        ['Email/import', { accountId => $ACCT, emails => {
            i => { blobId => $msg, mailboxIds => { '#nb' => $T } } } }, 'imp'],
        ['Email/get', { accountId => $ACCT, ids => ['#i'], properties => ['mailboxIds'] }, 'g'],
    ]);
    my $mb = JMAPTest->response_for($r, 'mb')->[1]{created}{nb}{id};
    my $imp = JMAPTest->response_for($r, 'imp')->[1];
    ok($imp->{created}{i}, 'imported into the mailbox created just before') or diag(explain($imp));
    is_deeply(JMAPTest->response_for($r, 'g')->[1]{list}[0]{mailboxIds}, { $mb => $T },
              '#i and #nb resolve');
    my ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        z => { blobId => $msg, mailboxIds => { '#nope' => $T } } } });
    is(set_err($a, 'notCreated', 'z'), 'invalidProperties', 'an unknown #creationId');

    is(err_type(call1('alice', 'Email/import', { accountId => $ACCT, ifInState => 'stale',
        emails => { q => { blobId => $msg, mailboxIds => { $A{inbox} => $T } } } })),
       'stateMismatch', 'ifInState that does not match: stateMismatch');

    # the attached message of the first import, by its part blob id
    my ($gn, $g) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$E{m}],
                                                 properties => ['attachments'] });
    my $part = $g->{list}[0]{attachments}[0];
    is($part->{type}, 'message/rfc822', 'the attachment is a message');
    ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        p => { blobId => $part->{blobId}, mailboxIds => { $A{inbox} => $T } } } });
    my $c = $a->{created}{p};
    ok($c, 'a part blob imports') or diag(explain($a));
    my $dl = $t->download('alice', { accountId => $ACCT, blobId => $part->{blobId}, name => 'i.eml',
                                     type => 'message/rfc822' });
    is($c->{blobId}, 'G' . sha256_hex($dl->{content}), "its Email's blobId is the part's bytes");
    my ($n2, $g2) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$c->{id}], properties => ['subject'] });
    is($g2->{list}[0]{subject}, 'Inner message', 'the inner message');
};

subtest 'Email/import: method-level errors and bounds' => sub {
    my %six = map { ("e$_" => { blobId => $B_MSG, mailboxIds => { $A{inbox} => $T } }) } 1 .. 6;
    is(err_type(call1('alice', 'Email/import', { accountId => $ACCT, emails => \%six })),
       'requestTooLarge', 'more than maxObjectsInSet: requestTooLarge');
    my ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {}, foo => 1 });
    is(err_type($n, $a), 'invalidArguments', 'an unknown argument');
    like($a->{description}, qr/foo/, '... named');
    is(err_type(call1('alice', 'Email/import', { accountId => $ACCT })), 'invalidArguments',
       'emails missing');
    is(err_type(call1('alice', 'Email/import', { accountId => $ACCT, emails => [] })), 'invalidArguments',
       'emails not an object');
    is(err_type(call1('alice', 'Email/import', { accountId => $CAROL, emails => {} })), 'accountReadOnly',
       'a read-only share: accountReadOnly');
    is(err_type(call1('alice', 'Email/import', { accountId => $DAVE, emails => {} })), 'accountNotFound',
       "dave's account: accountNotFound");
    my ($b1, $b2) = map { upload_ok('alice', $ACCT, $big->($_)) } 1, 2;
    ($n, $a) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        a1 => { blobId => $b1, mailboxIds => { $A{inbox} => $T } },
        a2 => { blobId => $b2, mailboxIds => { $A{inbox} => $T } } } });
    is(scalar(keys %{ $a->{created} || {} }), 1, 'the first 20 KB message fits JMAPMaxSizeCreatedPerRequest');
    is(scalar(grep { set_err($a, 'notCreated', $_) eq 'tooLarge' } qw(a1 a2)), 1,
       '... the second is tooLarge');
};

# ---- Email/parse ----------------------------------------------------------------

subtest 'Email/parse: the view Email/get gives' => sub {
    my @props = qw(subject from to sentAt messageId textBody attachments bodyValues hasAttachment preview);
    my ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT,
        blobIds => [$B_MSG, $B_BROKEN, $B_NOTMSG, 'Gnothere', $B_MSG],
        properties => [@props, qw(id blobId threadId mailboxIds keywords receivedAt size)],
        fetchTextBodyValues => $T });
    is($n, 'Email/parse', 'answered') or do { diag(explain($a)); return };
    is($a->{accountId}, $ACCT, 'accountId');
    is_deeply([sort keys %{ $a->{parsed} }], [sort $B_MSG, $B_BROKEN], 'parsed: the two messages');
    is_deeply($a->{notParsable}, [$B_NOTMSG], 'notParsable: the PNG');
    is_deeply($a->{notFound}, ['Gnothere'], 'notFound: the unknown id');
    my $p = $a->{parsed}{$B_MSG};
    is($p->{$_}, undef, "$_ is null") for qw(id threadId mailboxIds keywords receivedAt);
    ok(exists $p->{$_}, "$_ is there") for qw(id threadId mailboxIds keywords receivedAt);
    is($p->{blobId}, $B_MSG, 'blobId: the blob');
    is($p->{size}, length($MSG), 'size: its bytes');
    my ($gn, $g) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$E{m}],
                                                 properties => \@props, fetchTextBodyValues => $T });
    my $e = $g->{list}[0];
    is_deeply({ map { ($_ => $p->{$_}) } @props }, { map { ($_ => $e->{$_}) } @props },
              'the same properties as Email/get of the imported Email')
        or diag(explain([$p, $e]));
    like($p->{bodyValues}{ $p->{textBody}[0]{partId} }{value}, qr/report is attached/, 'body value');

    ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$B_MSG] });
    is_deeply([sort keys %{ $a->{parsed}{$B_MSG} }],
              [sort qw(messageId inReplyTo references sender from to cc bcc replyTo subject sentAt
                       hasAttachment preview bodyValues textBody htmlBody attachments)],
              'default properties: the §4.9 list');
    is($a->{notFound}, undef, 'notFound null when none');
    is($a->{notParsable}, undef, 'notParsable null when none');

    ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$B_MSG],
        properties => ['bodyValues', 'textBody'], fetchTextBodyValues => $T, maxBodyValueBytes => 10 });
    my $bv = (values %{ $a->{parsed}{$B_MSG}{bodyValues} })[0];
    ok($bv->{isTruncated} && length($bv->{value}) <= 10, 'maxBodyValueBytes truncates');
    ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$B_MSG],
        properties => ['header:Subject', 'header:X-Nope:asText'] });
    is($a->{parsed}{$B_MSG}{'header:Subject'}, ' Quarterly report', 'header:Subject, as named');
    ok(exists $a->{parsed}{$B_MSG}{'header:X-Nope:asText'}, 'an absent header is there (null)');
};

subtest 'Email/parse: a part blob and its own parts' => sub {
    my ($gn, $g) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$E{m}], properties => ['attachments'] });
    my $part = $g->{list}[0]{attachments}[0]{blobId};
    my ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$part],
                                                  properties => ['subject', 'attachments'] });
    my $p = $a->{parsed}{$part};
    is($p->{subject}, 'Inner message', 'the attached message parses');
    my $inner = $p->{attachments}[0];
    is($inner->{name}, 'data.bin', 'its attachment');
    like($inner->{blobId}, qr/^\Q${part}\E_\d+$/, 'named as a part of the part blob');
    my $dl = $t->download('alice', { accountId => $ACCT, blobId => $inner->{blobId}, name => 'd.bin',
                                     type => 'application/octet-stream' });
    is($dl->{status}, 200, 'which downloads');
    is($dl->{content}, "\0\1\2\3\4", '... as its bytes');
    ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => ["${B_MSG}_1"] });
    is_deeply($a->{notParsable}, ["${B_MSG}_1"], 'a text part is notParsable');
};

subtest 'Email/parse: errors' => sub {
    my ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => ['Gnothere'],
                                                  properties => ['nope'] });
    is(err_type($n, $a), 'invalidArguments', 'an unknown property, even when no blob is found');
    like($a->{description}, qr/nope/, '... named');
    is(err_type(call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$B_MSG],
                                                properties => ['header:From:asDate'] })),
       'invalidArguments', 'a forbidden header form (§4.9)');
    is(err_type(call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$B_MSG],
                                                bodyProperties => ['nope'] })),
       'invalidArguments', 'an unknown body property');
    ($n, $a) = call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [], bar => 1 });
    is(err_type($n, $a), 'invalidArguments', 'an unknown argument');
    like($a->{description}, qr/bar/, '... named');
    is(err_type(call1('alice', 'Email/parse', { accountId => $ACCT })), 'invalidArguments', 'blobIds missing');
    is(err_type(call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [1] })), 'invalidArguments',
       'blobIds of numbers');
    is(err_type(call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [$B_MSG],
                                                maxBodyValueBytes => -1 })),
       'invalidArguments', 'maxBodyValueBytes negative');
    is(err_type(call1('alice', 'Email/parse', { accountId => $ACCT, blobIds => [map { "G$_" } 1 .. 9] })),
       'requestTooLarge', 'more than maxObjectsInGet');
    is(err_type(call1('alice', 'Email/parse', { accountId => $DAVE, blobIds => [] })), 'accountNotFound',
       "dave's account");
    ($n, $a) = call1('alice', 'Email/parse', { accountId => $CAROL, blobIds => [$B_MSG] });
    is($n, 'Email/parse', 'parse is no write: fine in a read-only share');
    is_deeply($a->{notFound}, [$B_MSG], "... where alice's blob is not found");
};

# ---- Blob/copy ------------------------------------------------------------------

subtest 'Blob/copy' => sub {
    my $bytes = "a blob to copy\n";
    my $bid = upload_ok('alice', $ACCT, $bytes, 'text/plain');
    my $key = sha256_hex($bytes);
    my $pre = $t->download('bob', { accountId => $BOB, blobId => $bid, name => 'x.txt', type => 'text/plain' });
    is($pre->{status}, 404, "before the copy, alice's blob id is nothing in bob's account");
    my ($n, $a) = call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $BOB,
        blobIds => [$bid, 'Gnothere', "${B_MSG}_1"] });
    is($n, 'Blob/copy', 'answered') or do { diag(explain($a)); return };
    is($a->{fromAccountId}, $ACCT, 'fromAccountId');
    is($a->{accountId}, $BOB, 'accountId');
    is($a->{copied}{$bid}, $bid, 'a copied blob keeps its id (the bytes\' hash)');
    my $dl = $t->download('bob', { accountId => $BOB, blobId => $bid, name => 'x.txt', type => 'text/plain' });
    is($dl->{content}, $bytes, 'bob downloads it from his account');
    is(eval { $t->db_sql("SELECT COUNT(*) FROM jm_contents WHERE content_key = '$key'") } // $@,
       "1\n", 'its bytes are stored once (one content row)');
    is(eval { $t->db_sql("SELECT COUNT(*) FROM jm_content_chunks WHERE content_key = '$key'") } // $@,
       "1\n", '... one row of bytes');
    is(eval { $t->db_sql("SELECT COUNT(*) FROM jm_blobs WHERE content_key = '$key'") } // $@,
       "2\n", '... named by two blobs (alice\'s and bob\'s)');
    is(eval { $t->db_sql("SELECT type FROM jm_blobs WHERE account_id = '$BOB' AND id = '$bid'") } // $@,
       "text/plain\n", "bob's copy keeps the type");
    is(set_err($a, 'notCopied', 'Gnothere'), 'notFound', 'an unknown blob: notFound');
    my $pid = $a->{copied}{"${B_MSG}_1"};
    my $text = "The report is attached. It has many words in it.";
    like($pid // '', qr/^G[0-9a-f]{64}$/, 'a part blob is copied as a blob of its own');
    $dl = $t->download('bob', { accountId => $BOB, blobId => $pid, name => 'p.txt', type => '' });
    like($dl->{content}, qr/^\Q$text\E/, '... its bytes are the part');
    is($pid, 'G' . sha256_hex($dl->{content}), '... under the id of those bytes');
    like($dl->{headers}{'content-type'}, qr{^text/plain}, '... with the part\'s type');

    ($n, $a) = call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $BOB, blobIds => [] });
    is($a->{copied}, undef, 'copied is null when nothing was');
    is($a->{notCopied}, undef, 'notCopied is null when none');

    my $cb = upload_ok('carol', $CAROL, "carol's blob\n", 'text/plain');
    ($n, $a) = call1('alice', 'Blob/copy', { fromAccountId => $CAROL, accountId => $ACCT, blobIds => [$cb] });
    is($a->{copied}{$cb}, $cb, 'copying out of a read-only share works');
    is(err_type(call1('alice', 'Blob/copy', { fromAccountId => $DAVE, accountId => $ACCT, blobIds => [$cb] })),
       'fromAccountNotFound', "from dave's account: fromAccountNotFound");
    is(err_type(call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $DAVE, blobIds => [$bid] })),
       'accountNotFound', "to dave's account: accountNotFound");
    is(err_type(call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $CAROL, blobIds => [$bid] })),
       'accountReadOnly', 'into a read-only share: accountReadOnly');
    is(err_type(call1('dave', 'Blob/copy', { fromAccountId => $BOB, accountId => $DAVE, blobIds => [$bid] })),
       'fromAccountNotFound', 'dave cannot copy out of bob\'s account');
    is(err_type(call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $BOB,
                                              blobIds => [map { "G$_" } 1 .. 6] })),
       'requestTooLarge', 'more than maxObjectsInSet');
    ($n, $a) = call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $BOB, blobIds => [], x => 1 });
    is(err_type($n, $a), 'invalidArguments', 'an unknown argument');
    like($a->{description}, qr/"x"/, '... named');
    is(err_type(call1('alice', 'Blob/copy', { accountId => $BOB, blobIds => [] })), 'invalidArguments',
       'fromAccountId missing');
    is(err_type(call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $BOB })),
       'invalidArguments', 'blobIds missing');
    my ($b1, $b2) = map { upload_ok('alice', $ACCT, $big->("blob$_")) } 1, 2;
    ($n, $a) = call1('alice', 'Blob/copy', { fromAccountId => $ACCT, accountId => $BOB, blobIds => [$b1, $b2] });
    is(scalar(keys %{ $a->{copied} || {} }), 1, 'one 20 KB blob fits the request\'s budget');
    is(set_err($a, 'notCopied', $b2), 'tooLarge', '... the second is tooLarge');
};

# ---- Email/copy -----------------------------------------------------------------

subtest 'Email/copy into the shared account' => sub {
    my $bs0 = estate('alice', $BOB);
    my $as0 = estate('alice', $ACCT);
    my ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB,
        ifFromInState => $as0, ifInState => $bs0,
        create => { c1 => { id => $E{m}, mailboxIds => { $B{inbox} => $T } },
                    c2 => { id => $E{b}, mailboxIds => { $B{archive} => $T }, keywords => { '$Flagged' => $T },
                            receivedAt => '2020-02-02T02:02:02Z' } } });
    is($n, 'Email/copy', 'answered') or do { diag(explain($a)); return };
    is($a->{fromAccountId}, $ACCT, 'fromAccountId');
    is($a->{accountId}, $BOB, 'accountId');
    is($a->{oldState}, $bs0, 'oldState: the target\'s');
    isnt($a->{newState}, $bs0, 'newState moved');
    my $c1 = $a->{created}{c1};
    ok($c1 && $c1->{id}, 'copied') or diag(explain($a));
    isnt($c1->{id}, $E{m}, 'a new id in the other account (§4.7)');
    is($c1->{blobId}, $B_MSG, 'the same bytes: the same blobId');
    is($c1->{size}, length($MSG), 'size');
    ok($c1->{threadId}, 'threadId');
    my ($gn, $g) = call1('bob', 'Email/get', { accountId => $BOB, ids => [$c1->{id}, $a->{created}{c2}{id}],
        properties => [qw(subject keywords receivedAt mailboxIds)] });
    my %got = map { ($_->{id} => $_) } @{ $g->{list} };
    my $e1 = $got{ $c1->{id} };
    is($e1->{subject}, 'Quarterly report', 'bob reads the copy');
    is_deeply($e1->{keywords}, { '$seen' => $T }, "the original's keywords");
    is($e1->{receivedAt}, '2025-07-01T10:00:00Z', "the original's receivedAt");
    is_deeply($e1->{mailboxIds}, { $B{inbox} => $T }, 'in the mailbox given');
    my $e2 = $got{ $a->{created}{c2}{id} };
    is_deeply($e2->{keywords}, { '$flagged' => $T }, 'keywords given replace the original\'s');
    is($e2->{receivedAt}, '2020-02-02T02:02:02Z', 'so does receivedAt');
    my ($on, $o) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$E{m}], properties => ['subject'] });
    is(scalar @{ $o->{list} }, 1, 'the original stays');
    is(estate('alice', $ACCT), $as0, "alice's state did not move");
    is(boxes('bob', $BOB)->{inbox}{totalEmails}, 1, "bob's inbox counts it");

    ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB,
        create => { again => { id => $E{m}, mailboxIds => { $B{archive} => $T } } } });
    is(set_err($a, 'notCreated', 'again'), 'alreadyExists', 'copying it again: alreadyExists');
    is($a->{notCreated}{again}{existingId}, $c1->{id}, '... existingId is the copy');
    is($a->{created}, undef, 'created null');
};

subtest 'Email/copy: SetErrors' => sub {
    my $fresh = upload_ok('alice', $ACCT, crlf("From: c\@example.com\nSubject: copy errors\n\nx\n"));
    my ($in, $ia) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        i => { blobId => $fresh, mailboxIds => { $A{inbox} => $T } } } });
    my $src = $ia->{created}{i}{id};
    my ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB, create => {
        nf  => { id => 'Mnothere', mailboxIds => { $B{inbox} => $T } },
        nmb => { id => $src },
        amb => { id => $src, mailboxIds => { $A{inbox} => $T } },
        kw  => { id => $src, mailboxIds => { $B{inbox} => $T }, keywords => { 'no way' => $T } },
        sub => { id => $src, mailboxIds => { $B{inbox} => $T }, subject => 'changed' },
        } });
    is($n, 'Email/copy', 'answered') or do { diag(explain($a)); return };
    is(set_err($a, 'notCreated', 'nf'), 'notFound', 'an unknown email: notFound');
    is(set_err($a, 'notCreated', 'nmb'), 'invalidProperties', 'no mailboxIds');
    is(set_err($a, 'notCreated', 'amb'), 'invalidProperties', "alice's mailbox in bob's account");
    is_deeply($a->{notCreated}{amb}{properties}, ["mailboxIds/$A{inbox}"], '... by path');
    is(set_err($a, 'notCreated', 'kw'), 'invalidProperties', 'a bad keyword');
    is(set_err($a, 'notCreated', 'sub'), 'invalidProperties', 'the message cannot change (§4.7)');
    is_deeply($a->{notCreated}{sub}{properties}, ['subject'], '... named');
    ok(!$a->{created}, 'nothing copied');
    my ($n2, $a2) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB, create => {
        noid => { mailboxIds => { $B{inbox} => $T } },
        bad  => { id => 'not an id', mailboxIds => { $B{inbox} => $T } } } });
    is_deeply($a2->{notCreated}{noid}{properties}, ['id'], 'no id: invalidProperties naming it');
    is_deeply($a2->{notCreated}{bad}{properties}, ['id'], 'an id that is no Id: the same');
};

subtest 'Email/copy: method-level errors and bounds' => sub {
    my %args = (fromAccountId => $ACCT, accountId => $BOB, create => {});
    is(err_type(call1('alice', 'Email/copy', { %args, fromAccountId => $DAVE })), 'fromAccountNotFound',
       "from dave's account");
    is(err_type(call1('alice', 'Email/copy', { %args, accountId => $DAVE })), 'accountNotFound',
       "to dave's account");
    is(err_type(call1('alice', 'Email/copy', { %args, accountId => $CAROL })), 'accountReadOnly',
       'into a read-only share');
    is(err_type(call1('alice', 'Email/copy', { %args, accountId => $ACCT })), 'invalidArguments',
       'the same account twice (§5.4: MUST be different)');
    is(err_type(call1('alice', 'Email/copy', { %args, ifFromInState => 'stale' })), 'stateMismatch',
       'ifFromInState that does not match');
    is(err_type(call1('alice', 'Email/copy', { %args, ifInState => 'stale' })), 'stateMismatch',
       'ifInState that does not match');
    my ($n, $a) = call1('alice', 'Email/copy', { %args, extra => 1 });
    is(err_type($n, $a), 'invalidArguments', 'an unknown argument');
    like($a->{description}, qr/extra/, '... named');
    is(err_type(call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB })),
       'invalidArguments', 'create missing');
    is(err_type(call1('alice', 'Email/copy', { %args, onSuccessDestroyOriginal => 'yes' })),
       'invalidArguments', 'onSuccessDestroyOriginal not a boolean');
    my %six = map { ("c$_" => { id => $E{m}, mailboxIds => { $B{inbox} => $T } }) } 1 .. 6;
    is(err_type(call1('alice', 'Email/copy', { %args, create => \%six })), 'requestTooLarge',
       'more than maxObjectsInSet');
    my @big = map { upload_ok('alice', $ACCT, $big->("copy$_")) } 1, 2;
    my ($in, $ia) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        g1 => { blobId => $big[0], mailboxIds => { $A{inbox} => $T } } } });
    my ($in2, $ia2) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        g2 => { blobId => $big[1], mailboxIds => { $A{inbox} => $T } } } });
    ($n, $a) = call1('alice', 'Email/copy', { %args, create => {
        g1 => { id => $ia->{created}{g1}{id}, mailboxIds => { $B{inbox} => $T } },
        g2 => { id => $ia2->{created}{g2}{id}, mailboxIds => { $B{inbox} => $T } } } });
    is(scalar(keys %{ $a->{created} || {} }), 1, 'one 20 KB copy fits the request\'s budget');
    is(scalar(grep { set_err($a, 'notCreated', $_) eq 'tooLarge' } qw(g1 g2)), 1, '... the other is tooLarge');
};

subtest 'Email/copy with onSuccessDestroyOriginal' => sub {
    my $msg = upload_ok('alice', $ACCT, crlf("From: m\@example.com\nSubject: moving to bob\n\nx\n"));
    my $r = $t->api('alice', undef, [
        ['Email/import', { accountId => $ACCT, emails => {
            mv => { blobId => $msg, mailboxIds => { $A{inbox} => $T } } } }, 'imp'],
        ['Email/copy', { fromAccountId => $ACCT, accountId => $BOB, onSuccessDestroyOriginal => $T,
            create => { cmv => { id => '#mv', mailboxIds => { $B{inbox} => $T } },
                        nf => { id => 'Mnothere', mailboxIds => { $B{inbox} => $T } } } }, 'cp'],
        ['Email/get', { accountId => $ACCT, ids => ['#mv'], properties => ['subject'] }, 'after'],
    ]);
    my @resp = @{ $r->{methodResponses} };
    is_deeply([map { "$_->[0] $_->[2]" } @resp],
              ['Email/import imp', 'Email/copy cp', 'Email/set cp', 'Email/get after'],
              'the implicit Email/set follows the copy, under the same call id (§5.4)');
    my $orig = $resp[0][1]{created}{mv}{id};
    my $cp = $resp[1][1];
    ok($cp->{created}{cmv}, '#mv names the email imported just before') or diag(explain($cp));
    is(set_err($cp, 'notCreated', 'nf'), 'notFound', 'the other creation fails');
    my $set = $resp[2][1];
    is($set->{accountId}, $ACCT, 'the Email/set is in the from account');
    is_deeply($set->{destroyed}, [$orig], 'it destroyed the original of the successful copy only');
    is_deeply([$resp[3][1]{list}, $resp[3][1]{notFound}], [[], ['#mv']],
              "the original is gone from alice's account");
    my ($n, $g) = call1('bob', 'Email/get', { accountId => $BOB, ids => [$cp->{created}{cmv}{id}],
                                              properties => ['subject'] });
    is($g->{list}[0]{subject}, 'moving to bob', 'bob has it');

    # destroyFromIfInState: the implicit Email/set fails, the copy stands
    my $msg2 = upload_ok('alice', $ACCT, crlf("From: m\@example.com\nSubject: not moved\n\nx\n"));
    my ($in, $ia) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        k => { blobId => $msg2, mailboxIds => { $A{inbox} => $T } } } });
    my $keep = $ia->{created}{k}{id};
    my @r = api1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB,
        onSuccessDestroyOriginal => $T, destroyFromIfInState => 'stale',
        create => { k => { id => $keep, mailboxIds => { $B{inbox} => $T } } } });
    is($r[0][0], 'Email/copy', 'the copy is answered');
    ok($r[0][1]{created}{k}, '... and made');
    is($r[1][0], 'error', 'the implicit Email/set fails');
    is($r[1][1]{type}, 'stateMismatch', '... with stateMismatch (destroyFromIfInState)');
    my ($gn, $gg) = call1('alice', 'Email/get', { accountId => $ACCT, ids => [$keep], properties => ['subject'] });
    is(scalar @{ $gg->{list} }, 1, 'the original stays');

    # nothing copied: no implicit Email/set at all
    @r = api1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB,
        onSuccessDestroyOriginal => $T, create => { z => { id => 'Mnothere', mailboxIds => { $B{inbox} => $T } } } });
    is(scalar @r, 1, 'when nothing was copied there is nothing to destroy');

    # out of a read-only share: copied, but the originals cannot be destroyed
    my $cm = $t->email_set('carol', { c => $t->text_draft('carol') });
    my $cid = $cm->{created}{c}{id};
    ok($cid, 'carol has an email') or return;
    @r = api1('alice', 'Email/copy', { fromAccountId => $CAROL, accountId => $ACCT,
        onSuccessDestroyOriginal => $T, create => { c => { id => $cid, mailboxIds => { $A{inbox} => $T } } } });
    ok($r[0][1]{created}{c}, 'copied out of the read-only share') or diag(explain(\@r));
    is($r[1][0], 'error', 'the implicit Email/set is refused');
    is($r[1][1]{type}, 'accountReadOnly', '... accountReadOnly');
    my ($cn, $cg) = call1('carol', 'Email/get', { accountId => $CAROL, ids => [$cid], properties => ['subject'] });
    is(scalar @{ $cg->{list} }, 1, "carol's original stays");
};

# The errors the standard /copy (src/std/jm_std_copy.c) answers, each with
# a creation that would otherwise succeed, so that "nothing copied" means
# the error stopped it.
subtest 'Email/copy: the framework\'s errors stop the copy' => sub {
    my $msg = upload_ok('alice', $ACCT, crlf("From: f\@example.com\nSubject: framework\n\nx\n"));
    my ($in, $ia) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        f => { blobId => $msg, mailboxIds => { $A{inbox} => $T } } } });
    my $src = $ia->{created}{f}{id};
    ok($src, 'an email to copy') or return;
    my %good = (k => { id => $src, mailboxIds => { $B{inbox} => $T } });
    my ($as, $bs, $cs) = (estate('alice', $ACCT), estate('alice', $BOB), estate('alice', $CAROL));

    my ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $ACCT,
        create => { k => { id => $src, mailboxIds => { $A{archive} => $T } } } });
    is(err_type($n, $a), 'invalidArguments', 'from and to the same account');
    like($a->{description}, qr/fromAccountId.*MUST be different/, '... saying why');
    is(estate('alice', $ACCT), $as, '... nothing copied');

    ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => 'Anosuchaccount', accountId => $BOB,
                                              create => \%good });
    is(err_type($n, $a), 'fromAccountNotFound', 'an unknown fromAccountId');
    like($a->{description}, qr/Anosuchaccount/, '... named');
    ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $DAVE, accountId => $BOB,
                                              create => \%good });
    is(err_type($n, $a), 'fromAccountNotFound', 'an account that exists but is not shared with her');
    is(estate('alice', $BOB), $bs, '... nothing copied');

    ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB,
        ifFromInState => $bs eq $as ? "x$as" : $bs, create => \%good });
    is(err_type($n, $a), 'stateMismatch', 'ifFromInState is the from account\'s state, not the target\'s');
    like($a->{description}, qr/\Q$ACCT\E.*\Q$as\E/, '... naming the from account and its state');
    is(estate('alice', $BOB), $bs, '... nothing copied');

    ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $CAROL,
                                              create => \%good });
    is(err_type($n, $a), 'accountReadOnly', 'into a read-only share');
    is(estate('alice', $CAROL), $cs, '... nothing copied');

    ($n, $a) = call1('alice', 'Email/copy', { fromAccountId => $ACCT, accountId => $BOB, create => {
        noid => { mailboxIds => { $B{inbox} => $T } }, %good } });
    is(set_err($a, 'notCreated', 'noid'), 'invalidProperties', 'a create without id: invalidProperties');
    is_deeply($a->{notCreated}{noid}{properties}, ['id'], '... naming id');
    ok($a->{created}{k}, '... the other creation is copied') or diag(explain($a));
    my $copy = $a->{created}{k}{id};
    $bs = estate('alice', $BOB);

    # a copy refused (alreadyExists) leaves nothing to destroy: no implicit set
    my $r = $t->api('alice', undef, [
        ['Email/copy', { fromAccountId => $ACCT, accountId => $BOB, onSuccessDestroyOriginal => $T,
            destroyFromIfInState => "x$as", create => {
            m => { id => $src, mailboxIds => { $B{archive} => $T } } } }, 'mv'],
        ['Email/get', { accountId => $ACCT, ids => [$src], properties => ['subject'] }, 'g']]);
    my @resp = @{ $r->{methodResponses} || [] };
    is_deeply([map { "$_->[0] $_->[2]" } @resp], ['Email/copy mv', 'Email/get g'],
              'the same bytes again: no implicit set after it');
    is(set_err($resp[0][1], 'notCreated', 'm'), 'alreadyExists', '... alreadyExists');
    is($resp[0][1]{notCreated}{m}{existingId}, $copy, '... with existingId');
    # destroyFromIfInState that does not match: the copy stands
    my $msg2 = upload_ok('alice', $ACCT, crlf("From: f\@example.com\nSubject: framework 2\n\nx\n"));
    ($in, $ia) = call1('alice', 'Email/import', { accountId => $ACCT, emails => {
        f2 => { blobId => $msg2, mailboxIds => { $A{inbox} => $T } } } });
    my $src2 = $ia->{created}{f2}{id};
    $as = estate('alice', $ACCT);
    $r = $t->api('alice', undef, [
        ['Email/copy', { fromAccountId => $ACCT, accountId => $BOB, onSuccessDestroyOriginal => $T,
            destroyFromIfInState => "x$as", create => {
            m2 => { id => $src2, mailboxIds => { $B{archive} => $T } } } }, 'mv2'],
        ['Email/get', { accountId => $ACCT, ids => [$src2], properties => ['subject'] }, 'g2']]);
    @resp = @{ $r->{methodResponses} || [] };
    is_deeply([map { "$_->[0] $_->[2]" } @resp], ['Email/copy mv2', 'error mv2', 'Email/get g2'],
              'destroyFromIfInState mismatch: the copy, then the implicit set\'s error under the same call id');
    ok($resp[0][1]{created}{m2}, '... the copy is made') or diag(explain(\@resp));
    is($resp[1][1]{type}, 'stateMismatch', '... the set is stateMismatch');
    is(scalar @{ $resp[2][1]{list} || [] }, 1, '... and the original stays');
    is(estate('alice', $ACCT), $as, "... alice's state did not move");
};

subtest 'a user without the share reaches none of it' => sub {
    is(err_type(call1('dave', 'Email/copy', { fromAccountId => $BOB, accountId => $DAVE,
        create => { x => { id => $E{m}, mailboxIds => { $A{inbox} => $T } } } })),
       'fromAccountNotFound', 'dave cannot copy out of bob\'s account');
    is(err_type(call1('dave', 'Email/parse', { accountId => $BOB, blobIds => [$B_MSG] })),
       'accountNotFound', 'nor parse its blobs');
    is(err_type(call1('dave', 'Email/import', { accountId => $BOB, emails => {} })),
       'accountNotFound', 'nor import into it');
};

$t->check_error_log();
done_testing;
