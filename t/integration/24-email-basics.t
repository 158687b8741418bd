# 24-email-basics.t — Email/set create without S/MIME (RFC 8621 §4.6) and
# Email/get of the result (§4.1, §4.2): multipart/alternative text + HTML with
# an uploaded attachment, RFC 2047 encoded-word Subject, Message-ID and Date
# added, CRLF and <= 998-octet lines (RFC 5322 §2.1.1), part blobIds that
# download the attachment's bytes; invalidProperties with property paths,
# blobNotFound, result references (RFC 8620 §3.7) and creation-id references
# (#k1, RFC 8620 §5.3).
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Encode qw(decode encode);
use MIME::Base64 qw(decode_base64 encode_base64);
use File::Temp qw(tempdir);
use POSIX ();
use JMAPTest;
use MIMECheck qw(scratch_dir spew slurp run_cmd split_entity fields field mime_parts ct_param);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $TMP = scratch_dir();

# ---- helpers (openssl) ----------------------------------------------------------

my $t = JMAPTest->new(ldap => 0);
ok($t->session('alice'), 'alice has a session') or do { done_testing; exit };
my $ACCT = $t->account_id('alice');

my $r0 = $t->api('alice', undef, [['Mailbox/get', { accountId => $ACCT }, 'm']]);
my %MB = map { (($_->{role} // $_->{name}) => $_->{id}) } @{ $r0 ? $r0->{methodResponses}[0][1]{list} : [] };
ok($MB{drafts}, 'alice has a Drafts mailbox');

sub call {
    my ($calls, %extra) = @_;
    return $t->api('alice', undef, $calls, %extra);
}

sub email_set {
    my ($create) = @_;
    my $r = call([['Email/set', { accountId => $ACCT, create => $create }, 's']]);
    my $resp = JMAPTest->response_for($r, 's');
    return $resp && $resp->[0] eq 'Email/set' ? $resp->[1] : { methodError => $resp };
}

sub email_count {
    my $r = call([['Email/get', { accountId => $ACCT, ids => undef, properties => ['id'] }, 'g']]);
    return $r ? scalar @{ $r->{methodResponses}[0][1]{list} || [] } : -1;
}

# ---- a complete message ------------------------------------------------------------------------

my $attachment = join('', map { chr($_ % 256) } 0 .. 4095) . "\r\n\x00end";
my $up = $t->upload('alice', $ACCT, $attachment, 'application/octet-stream');
my $att_blob = $up->{json} && $up->{json}{blobId};
ok($att_blob, 'uploaded a binary attachment') or diag($up->{status} . ' ' . ($up->{content} // ''));

my $SUBJECT = "Grüße aus Köln – 10 € ✓";
my $LONG = 'x' x 1500;
my $TEXT = "Hallo Bob,\nanbei die Datei. Straße, naïve café.\nA long line: $LONG\nEnd.\n";
my $HTML = "<html><body><p>Hallo <b>Bob</b>, anbei die Datei. Straße.</p></body></html>\n";

my $res = email_set({ k1 => {
    mailboxIds => { $MB{drafts} => $T },
    keywords   => { '$draft' => $T },
    from       => [{ name => 'Alice Müller', email => 'alice@example.com' }],
    to         => [{ name => 'Bob', email => 'bob@example.com' }],
    subject    => $SUBJECT,
    textBody   => [{ partId => 't', type => 'text/plain' }],
    htmlBody   => [{ partId => 'h', type => 'text/html' }],
    attachments => [{ blobId => $att_blob // 'none', type => 'application/octet-stream',
                      name => 'data.bin' }],
    bodyValues => { t => { value => $TEXT }, h => { value => $HTML } },
} });
my $c = $res->{created} && $res->{created}{k1};
ok($c && $c->{id} && $c->{blobId}, 'created text + HTML + attachment') or diag(explain($res));
my $raw = '';
if ($c) {
    my $dl = $t->download('alice', { accountId => $ACCT, blobId => $c->{blobId}, name => 'm.eml',
                                     type => 'message/rfc822' });
    is($dl->{status}, 200, 'downloaded the message blob');
    $raw = $dl->{content} // '';
    is(length $raw, $c->{size}, 'size equals the blob length');
}

subtest 'the stored message (RFC 5322 / MIME)' => sub {
    ok(length $raw, 'have bytes') or return;
    unlike($raw, qr/(?<!\r)\n/, 'no bare LF: every line ends CRLF');
    unlike($raw, qr/\r(?!\n)/, 'no bare CR');
    my @long = grep { length($_) > 998 } split /\r\n/, $raw;
    is(scalar @long, 0, 'no line longer than 998 octets (the 1500-char body line was encoded)');
    my ($h, $b) = split_entity($raw);
    unlike($h, qr/[^\x00-\x7f]/, 'header section is 7-bit');
    my $f = fields($h);
    my $subj = field($f, 'Subject') // '';
    like($subj, qr/=\?utf-8\?[bq]\?/i, 'Subject is an RFC 2047 encoded word');
    is(decode('MIME-Header', $subj), $SUBJECT, 'Subject decodes to the original');
    like(field($f, 'From') // '', qr/<alice\@example\.com>/, 'From');
    like(field($f, 'To') // '', qr/bob\@example\.com/, 'To');
    like(field($f, 'Message-ID') // '', qr/^<[^<>\s@]+@[^<>\s]+>$/, 'Message-ID added');
    like(field($f, 'Date') // '', qr/^(?:\w{3}, )?\d{1,2} \w{3} \d{4} \d\d:\d\d(?::\d\d)? [+-]\d{4}$/,
         'Date added (RFC 5322 date-time)');
    is(scalar(() = field($f, 'Date')), 1, 'exactly one Date');
    is(scalar(() = field($f, 'Message-ID')), 1, 'exactly one Message-ID');
    like(field($f, 'MIME-Version') // '', qr/^1\.0/, 'MIME-Version 1.0');
    my $ct = field($f, 'Content-Type') // '';
    like($ct, qr{^multipart/mixed}i, 'top level multipart/mixed');
    my @parts = mime_parts($b, ct_param($ct, 'boundary') // 'none');
    is(scalar @parts, 2, 'alternative + attachment');
    my ($ah, $ab) = split_entity($parts[0] // '');
    my $act = field(fields($ah), 'Content-Type') // '';
    like($act, qr{^multipart/alternative}i, 'first part multipart/alternative');
    my @alt = mime_parts($ab, ct_param($act, 'boundary') // 'none');
    like(field(fields((split_entity($alt[0] // ''))[0]), 'Content-Type') // '', qr{^text/plain}i, 'text/plain first');
    like(field(fields((split_entity($alt[1] // ''))[0]), 'Content-Type') // '', qr{^text/html}i, 'then text/html');
    my ($xh, $xb) = split_entity($parts[1] // '');
    my $xf = fields($xh);
    like(field($xf, 'Content-Disposition') // '', qr/^attachment\b.*filename="?data\.bin"?/i, 'attachment disposition');
    like(field($xf, 'Content-Transfer-Encoding') // '', qr/^base64$/i, 'binary attachment is base64');
    ok(decode_base64($xb) eq $attachment, 'attachment bytes round-trip in the MIME');
};

subtest 'Email/get returns what was created' => sub {
    return fail('nothing created') unless $c;
    my $r = call([['Email/get', { accountId => $ACCT, ids => [$c->{id}], fetchTextBodyValues => $T,
        properties => [qw(id subject from to bodyValues textBody htmlBody attachments
                          hasAttachment mailboxIds keywords size messageId sentAt)] }, 'g']]);
    my $e = $r && $r->{methodResponses}[0][1]{list} && $r->{methodResponses}[0][1]{list}[0];
    ok($e, 'Email/get found it') or return;
    is($e->{subject}, $SUBJECT, 'subject (decoded)');
    is_deeply($e->{from}, [{ name => 'Alice Müller', email => 'alice@example.com' }], 'from');
    is_deeply($e->{to}, [{ name => 'Bob', email => 'bob@example.com' }], 'to');
    is($e->{size}, length $raw, 'size');
    is_deeply($e->{mailboxIds}, { $MB{drafts} => $T }, 'mailboxIds');
    is_deeply($e->{keywords}, { '$draft' => $T }, 'keywords');
    ok($e->{hasAttachment}, 'hasAttachment');
    is(ref $e->{messageId}, 'ARRAY', 'messageId is a list');
    my $tb = $e->{textBody} && $e->{textBody}[0];
    ok($tb && $tb->{partId}, 'textBody has a part') or return;
    is($tb->{type}, 'text/plain', 'textBody type');
    is($e->{bodyValues}{$tb->{partId}}{value}, $TEXT, 'text bodyValue equals what was sent (LF)');
    ok(!$e->{bodyValues}{$tb->{partId}}{isTruncated}, 'not truncated');
    is($e->{htmlBody} && $e->{htmlBody}[0]{type}, 'text/html', 'htmlBody type');
    ok(!exists $e->{bodyValues}{$e->{htmlBody}[0]{partId} // ''}, 'HTML value not fetched (only fetchTextBodyValues)');
    my @att = @{ $e->{attachments} || [] };
    is(scalar @att, 1, 'one attachment');
    is($att[0]{name}, 'data.bin', 'attachment name');
    is($att[0]{type}, 'application/octet-stream', 'attachment type');
    is($att[0]{size}, length $attachment, 'attachment size is the decoded size');
    ok($att[0]{blobId}, 'attachment has a blobId') or return;
    my $dl = $t->download('alice', { accountId => $ACCT, blobId => $att[0]{blobId}, name => 'data.bin',
                                     type => 'application/octet-stream' });
    is($dl->{status}, 200, 'part blob downloadable');
    ok(($dl->{content} // '') eq $attachment, 'part blob has exactly the uploaded bytes');
};

# ---- invalid creations ---------------------------------------------------------------------------

sub base_msg {
    my %m = (
        mailboxIds => { $MB{drafts} => $T },
        from       => [{ email => 'alice@example.com' }],
        subject    => 'x',
        bodyStructure => { type => 'text/plain', partId => 'p' },
        bodyValues => { p => { value => "hi\n" } },
        @_,
    );
    defined $m{$_} or delete $m{$_} for keys %m;
    return \%m;
}

my @invalid = (
    ['bad address', base_msg(from => [{ email => 'not an address' }]), qr{^from/0/email$}],
    ['unknown EmailAddress key', base_msg(to => [{ email => 'bob@example.com', nick => 'b' }]), qr{^to/0/nick$}],
    ['no mailbox', base_msg(mailboxIds => {}), qr{^mailboxIds$}],
    ['unknown mailbox', base_msg(mailboxIds => { Mnope => $T }), qr{^mailboxIds/Mnope$}],
    ['bad keyword', base_msg(keywords => { 'a b' => $T }), qr{^keywords/a b$}],
    ['subject not a string', base_msg(subject => 42), qr{^subject$}],
    ['bad sentAt', base_msg(sentAt => 'yesterday'), qr{^sentAt$}],
    ['server-set id', base_msg(id => 'Mmine'), qr{^id$}],
    # RFC 8621 §4.6 constraints on creation
    ['partId missing from bodyValues', base_msg(bodyValues => { q => { value => "hi\n" } }),
     qr{^(?:bodyStructure|bodyValues)}],
    ['textBody of type text/html', base_msg(bodyStructure => undef,
        textBody => [{ partId => 'p', type => 'text/html' }]), qr{^textBody}],
    ['bodyStructure and textBody together', base_msg(textBody => [{ partId => 'p', type => 'text/plain' }]),
     qr{^(?:bodyStructure|textBody)$}],
    ['Content-* header on the Email object', base_msg('header:Content-Language' => 'de'),
     qr{^header:Content-Language}i],
    ['isTruncated true in a bodyValue', base_msg(bodyValues => { p => { value => "hi\n", isTruncated => $T } }),
     qr{^bodyValues/p}],
);
for my $case (@invalid) {
    my ($name, $msg, $path) = @$case;
    subtest "invalidProperties: $name" => sub {
        my $n0 = email_count();
        my $r = email_set({ k1 => $msg });
        my $e = $r->{notCreated} && $r->{notCreated}{k1};
        is($e && $e->{type}, 'invalidProperties', 'invalidProperties') or diag(explain($r));
        ok(grep({ $_ =~ $path } @{ ($e && $e->{properties}) || [] }), "properties has $path")
            or diag(explain($e));
        is(email_count(), $n0, 'nothing stored');
    };
}

subtest 'attachment with an unknown blobId: blobNotFound' => sub {
    my $n0 = email_count();
    my $r = email_set({ k1 => base_msg(bodyStructure => undef, bodyValues => { t => { value => "hi\n" } },
        textBody => [{ partId => 't', type => 'text/plain' }],
        attachments => [{ blobId => 'Gdoesnotexist0000', type => 'application/pdf', name => 'x.pdf' }]) });
    my $e = $r->{notCreated} && $r->{notCreated}{k1};
    is($e && $e->{type}, 'blobNotFound', 'blobNotFound') or diag(explain($r));
    is_deeply($e && $e->{notFound}, ['Gdoesnotexist0000'], 'notFound lists the blobId');
    is(email_count(), $n0, 'nothing stored');
};

# A part blob id (blob_partId) of an uploaded blob that is no message: it has
# no parts, so the part does not exist (found by fuzz_email_set: it was a
# rejection without a SetError).
subtest 'a part of a blob that is not a message: blobNotFound, and 404 on download' => sub {
    my $bin = "\x00\x01\x02 not a message at all\xff";
    my $u = $t->upload('alice', $ACCT, $bin, 'application/octet-stream');
    my $bid = $u->{json} && $u->{json}{blobId};
    ok($bid, 'uploaded') or return;
    my $n0 = email_count();
    my $r = email_set({ k1 => base_msg(bodyStructure => undef, bodyValues => { t => { value => "hi\n" } },
        textBody => [{ partId => 't', type => 'text/plain' }],
        attachments => [{ blobId => "${bid}_2", name => 'x.bin' }]) });
    my $e = $r->{notCreated} && $r->{notCreated}{k1};
    is($e && $e->{type}, 'blobNotFound', 'blobNotFound') or diag(explain($r));
    is_deeply($e && $e->{notFound}, ["${bid}_2"], 'notFound lists the part blob id');
    is(email_count(), $n0, 'nothing stored');
    my $d = $t->download('alice', { accountId => $ACCT, blobId => "${bid}_2", name => 'x',
                                    type => 'application/octet-stream' });
    is($d->{status}, 404, 'downloading it: 404') or diag($d->{status} . ' ' . ($d->{content} // ''));
};

# ---- references -------------------------------------------------------------------------------------------

subtest 'creation id and result references in later calls' => sub {
    my $r = call([
        ['Email/set', { accountId => $ACCT, create => { k1 => base_msg(subject => 'ref test') } }, 'c1'],
        ['Email/get', { accountId => $ACCT, ids => ['#k1'], properties => ['id'] }, 'g1'],
        ['Email/get', { accountId => $ACCT, '#ids' => { resultOf => 'g1', name => 'Email/get',
                                                         path => '/list/*/id' },
                        properties => ['id'] }, 'g2'],
        ['Email/get', { accountId => $ACCT, '#ids' => { resultOf => 'c1', name => 'Email/set',
                                                         path => '/created/k1/id' },
                        properties => ['id'] }, 'g3'],
        ['Email/get', { accountId => $ACCT, '#ids' => { resultOf => 'c1', name => 'Email/set',
                                                         path => '/created/nope/id' } }, 'g4'],
    ]);
    my $set = JMAPTest->response_for($r, 'c1');
    my $id = $set && $set->[1]{created} && $set->[1]{created}{k1}{id};
    ok($id, 'k1 created') or return diag(explain($r));
    my $g1 = JMAPTest->response_for($r, 'g1');
    is_deeply([map { $_->{id} } @{ $g1->[1]{list} || [] }], [$id], '"#k1" in ids resolves to the new id');
    my $g2 = JMAPTest->response_for($r, 'g2');
    is_deeply([map { $_->{id} } @{ $g2->[1]{list} || [] }], [$id], '"#ids" with path /list/*/id');
    # /created/k1/id resolves to a single Id, not an Id[]: RFC 8620 §3.7 does not
    # say to wrap it; a server either wraps it or answers invalidArguments, but
    # the reference itself resolves (never invalidResultReference).
    my $g3 = JMAPTest->response_for($r, 'g3');
    if ($g3 && $g3->[0] eq 'Email/get') {
        is_deeply([map { $_->{id} } @{ $g3->[1]{list} || [] }], [$id], '"#ids" /created/k1/id: the new email');
    } else {
        is($g3 && $g3->[1]{type}, 'invalidArguments',
           '"#ids" /created/k1/id (a single Id) is refused as invalidArguments, not a bad reference');
    }
    my $g4 = JMAPTest->response_for($r, 'g4');
    is($g4 && $g4->[1]{type}, 'invalidResultReference', 'a path that does not resolve: invalidResultReference');
    my $later = call([['Email/get', { accountId => $ACCT, ids => ['#k1'], properties => ['id'] }, 'g']]);
    my $lg = JMAPTest->response_for($later, 'g');
    ok($lg && !@{ $lg->[1]{list} || [] }, '"#k1" means nothing in a later request without createdIds');
    my $with = call([['Email/get', { accountId => $ACCT, ids => ['#k1'], properties => ['id'] }, 'g']],
                    createdIds => { k1 => $id });
    my $wg = JMAPTest->response_for($with, 'g');
    is_deeply([map { $_->{id} } @{ ($wg && $wg->[1]{list}) || [] }], [$id],
              '"#k1" resolves through the request\'s createdIds');
};

# ---- Email/get arguments (RFC 8621 §4.2 on RFC 8620 §5.1) -----------------------------------------

subtest 'Email/get arguments: good and bad' => sub {
    my $id = $c && $c->{id};
    my $get = sub {
        my ($args) = @_;
        my $r = call([['Email/get', { accountId => $ACCT, %$args }, 'g']]);
        my $resp = JMAPTest->response_for($r, 'g');
        return $resp || ['none', {}];
    };
    my $err = sub {
        my ($args, $type, $like, $name) = @_;
        my $resp = $get->($args);
        is($resp->[0], 'error', "$name: an error");
        is($resp->[1]{type}, $type, "$name: $type");
        like($resp->[1]{description} // '', $like, "$name: the description names it");
    };
    $err->({ ids => [$id], frobnicate => 1 }, 'invalidArguments', qr/frobnicate/,
           'unknown argument');
    $err->({ ids => [$id], properties => ['subject', 'nosuch'] }, 'invalidArguments',
           qr/nosuch/, 'unknown property');
    # names are checked before anything is read: also with no ids at all
    $err->({ ids => [], properties => ['nosuch'] }, 'invalidArguments', qr/nosuch/,
           'unknown property with empty ids');
    $err->({ ids => [$id], properties => ['header:Subject:asDate'] }, 'invalidArguments',
           qr/header:Subject:asDate/, 'header form not allowed for the field');
    $err->({ ids => [$id], properties => ['header:X-A:asBogus'] }, 'invalidArguments',
           qr/asBogus/, 'unknown header form');
    $err->({ ids => [$id], properties => ['header::asText'] }, 'invalidArguments',
           qr/header::asText/, 'empty header name');
    $err->({ ids => [$id], properties => 'subject' }, 'invalidArguments', qr/properties/,
           'properties not an array');
    $err->({ ids => [$id], properties => [5] }, 'invalidArguments', qr/properties/,
           'properties with a number');
    $err->({ ids => [$id], bodyProperties => ['partId', 'nosuch'] }, 'invalidArguments',
           qr/bodyProperties.*nosuch/, 'unknown body property');
    $err->({ ids => [$id], bodyProperties => [1] }, 'invalidArguments', qr/bodyProperties/,
           'body property not a string');
    $err->({ ids => [$id], bodyProperties => 'partId' }, 'invalidArguments',
           qr/bodyProperties/, 'bodyProperties not an array');
    $err->({ ids => [$id], maxBodyValueBytes => -1 }, 'invalidArguments',
           qr/maxBodyValueBytes/, 'maxBodyValueBytes negative');
    $err->({ ids => [$id], maxBodyValueBytes => 1.5 }, 'invalidArguments',
           qr/maxBodyValueBytes/, 'maxBodyValueBytes not an integer');
    $err->({ ids => [$id], maxBodyValueBytes => '10' }, 'invalidArguments',
           qr/maxBodyValueBytes/, 'maxBodyValueBytes a string');
    $err->({ ids => [$id], fetchTextBodyValues => 'yes' }, 'invalidArguments',
           qr/fetchTextBodyValues/, 'fetchTextBodyValues not a boolean');
    $err->({ ids => [$id], fetchAllBodyValues => 1 }, 'invalidArguments',
           qr/fetchAllBodyValues/, 'fetchAllBodyValues a number');
    $err->({ ids => 'x' }, 'invalidArguments', qr/ids/, 'ids not an array');
    $err->({ ids => ['not an id!'] }, 'invalidArguments', qr/ids/, 'ids with a bad Id');

    # maxBodyValueBytes 0 (the default) does not truncate
    my $full = $get->({ ids => [$id], properties => ['bodyValues', 'textBody'],
                        fetchTextBodyValues => $T, maxBodyValueBytes => 0 });
    my $tp = $full->[1]{list} && $full->[1]{list}[0]{textBody}[0]{partId};
    my $bv = $tp && $full->[1]{list}[0]{bodyValues}{$tp};
    ok($bv && !$bv->{isTruncated} && length($bv->{value}) > 1500,
       'maxBodyValueBytes 0: the whole value');
    my $cut = $get->({ ids => [$id], properties => ['bodyValues', 'textBody'],
                       fetchTextBodyValues => $T, maxBodyValueBytes => 20 });
    my $cv = $cut->[1]{list} && $cut->[1]{list}[0]{bodyValues}{$tp // ''};
    ok($cv && $cv->{isTruncated} && length($cv->{value}) <= 20, 'maxBodyValueBytes 20 truncates');
    # null arguments are their defaults
    my $nul = $get->({ ids => [$id], properties => undef, bodyProperties => undef,
                       fetchTextBodyValues => undef, maxBodyValueBytes => undef });
    is($nul->[0], 'Email/get', 'null arguments are accepted');
    my $o = $nul->[1]{list} && $nul->[1]{list}[0];
    ok($o && exists $o->{subject} && exists $o->{mailboxIds} && !exists $o->{headers}
       && !exists $o->{bodyStructure}, 'properties null: the default properties');
    ok($o && $o->{textBody} && !exists $o->{textBody}[0]{headers},
       'bodyProperties null: the default body properties');

    # header properties and bodyProperties answer as asked, id always
    my $h = $get->({ ids => [$id, 'Mnosuch0000', $id],
                     properties => ['header:Subject:asText', 'header:From:asAddresses:all',
                                    'bodyStructure'],
                     bodyProperties => ['partId', 'type', 'header:Content-Type'] });
    is($h->[0], 'Email/get', 'header properties: Email/get');
    my $ho = $h->[1]{list} && $h->[1]{list}[0];
    is(scalar @{ $h->[1]{list} || [] }, 1, 'an id given twice is answered once');
    is_deeply($h->[1]{notFound}, ['Mnosuch0000'], 'an unknown id is in notFound');
    is($ho && $ho->{'header:Subject:asText'}, $SUBJECT, 'header:Subject:asText');
    is($ho && ref $ho->{'header:From:asAddresses:all'}, 'ARRAY', 'header:From:asAddresses:all');
    is_deeply([sort keys %{ $ho || {} }],
              [sort 'id', 'header:Subject:asText', 'header:From:asAddresses:all', 'bodyStructure'],
              'exactly the properties asked for, and id');
    ok($ho && $ho->{bodyStructure}{type} && exists $ho->{bodyStructure}{'header:Content-Type'}
       && !exists $ho->{bodyStructure}{blobId}, 'bodyProperties shape bodyStructure');

    # ids null: every Email (maxObjectsInGet bounds it)
    my $all = $get->({ ids => undef, properties => ['id'] });
    ok(scalar(grep { $_->{id} eq ($id // '') } @{ $all->[1]{list} || [] }),
       'ids null lists the Email');
    is_deeply($all->[1]{notFound}, [], 'ids null: notFound empty');
};

is(scalar($t->sink_messages), 0, 'Email/set alone sends nothing');
# ---- the stored view copied as text, and parsed -----------------------------------------------
# Default properties are answered from each email's stored view, copied as
# text into the answer (src/core/jm_raw.h); explicit default bodyProperties
# make the server parse the message instead. Both must give the same
# Emails, and a result reference into the copied answer must see whole
# objects (RFC 8620 §3.7).

subtest 'Email/get: stored view copied as text equals the parsed message' => sub {
    my $r = email_set({
        v1 => base_msg(subject => "Quote \" backslash \\ tab\tend \x{1F600} \x{20AC}",
                       keywords => { '$seen' => $T, '$flagged' => $T },
                       to => [{ name => "B \"Q\" \x{e9}", email => 'b@example.com' }],
                       cc => [{ email => 'c@example.com' }],
                       replyTo => [{ name => 'R', email => 'r@example.com' }]),
        v2 => base_msg(subject => 'two boxes', mailboxIds => { map { $_ => $T } grep { defined }
                                                              @MB{qw(drafts inbox)} }),
        v3 => base_msg(subject => undef, textBody => [{ partId => 't', type => 'text/plain' }],
                       htmlBody => [{ partId => 'h', type => 'text/html' }],
                       bodyStructure => undef,
                       bodyValues => { t => { value => "plain \x{fc}\n" },
                                       h => { value => "<p>html</p>\n" } }),
    });
    is(scalar keys %{ $r->{created} || {} }, 3, 'three varied emails') or diag(explain($r));
    my $all = call([['Email/get', { accountId => $ACCT, ids => undef, properties => ['id'] }, 'a']]);
    my @ids = map { $_->{id} } @{ $all->{methodResponses}[0][1]{list} || [] };
    ok(@ids >= 4, scalar(@ids) . ' emails in the account');
    my @bp = qw(partId blobId size name type charset disposition cid language location);
    my $g = call([['Email/get', { accountId => $ACCT, ids => [@ids, 'Mnope'] }, 'raw'],
                  ['Email/get', { accountId => $ACCT, ids => [@ids, 'Mnope'],
                                  bodyProperties => \@bp }, 'parsed']]);
    my ($raw, $parsed) = map { JMAPTest->response_for($g, $_) } qw(raw parsed);
    is($raw && $raw->[0], 'Email/get', 'default properties answered') or return diag(explain($g));
    is($parsed && $parsed->[0], 'Email/get', 'explicit bodyProperties answered') or return;
    my %p = map { $_->{id} => $_ } @{ $parsed->[1]{list} };
    is(scalar @{ $raw->[1]{list} }, scalar @ids, 'every id listed');
    for my $e (@{ $raw->[1]{list} }) {
        is_deeply($e, $p{ $e->{id} }, "$e->{id}: same Email from the stored view and the message")
            or diag(explain([$e, $p{ $e->{id} }]));
    }
    is_deeply($raw->[1]{notFound}, ['Mnope'], 'notFound as before');
    is($raw->[1]{state}, $parsed->[1]{state}, 'same state');

    # a later call looks into the copied answer
    my $ref = call([
        ['Email/get', { accountId => $ACCT, ids => \@ids }, 'g'],
        ['Thread/get', { accountId => $ACCT, '#ids' => { resultOf => 'g', name => 'Email/get',
                                                          path => '/list/*/threadId' } }, 't'],
        ['Email/get', { accountId => $ACCT, '#ids' => { resultOf => 'g', name => 'Email/get',
                                                         path => '/list/*/id' },
                        properties => ['subject', 'keywords'] }, 'g2'],
    ]);
    my ($rg, $rt, $rg2) = map { JMAPTest->response_for($ref, $_) } qw(g t g2);
    is_deeply($rg && $rg->[1]{list}, $raw->[1]{list}, 'the referenced answer is unchanged');
    my %threads = map { $_->{threadId} => 1 } @{ $raw->[1]{list} };
    is($rt && $rt->[0], 'Thread/get', '#ids /list/*/threadId resolves') or return diag(explain($ref));
    is_deeply([sort map { $_->{id} } @{ $rt->[1]{list} }], [sort keys %threads],
              'into the threads of the listed emails');
    is_deeply([map { [$_->{id}, $_->{subject}, $_->{keywords}] } @{ $rg2->[1]{list} || [] }],
              [map { [$_->{id}, $_->{subject}, $_->{keywords}] } @{ $raw->[1]{list} }],
              '#ids /list/*/id: the same emails, their subjects and keywords');
};

$t->check_error_log;
$t->stop;
done_testing;
