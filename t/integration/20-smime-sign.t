# 20-smime-sign.t — Email/set create with smimeSign (draft-ietf-jmap-smime-
# sender-extensions-02 §4): the stored message, fetched through the
# downloadUrl, is checked with the openssl CLI (not our code): signature and
# chain, signer certificate = From (or Sender) address, signed attributes
# (RFC 8551 §2.5), media types (RFC 8551 §3.5), header protection
# (RFC 9788: hp="clear"), tamper detection, the four S/MIME arguments at
# method level as defaults, and what Email/get says about the stored email.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64 encode_base64);
use File::Temp qw(tempdir);
use POSIX ();
use JMAPTest;
use MIMECheck qw(scratch_dir spew slurp run_cmd split_entity fields field mime_parts ct_param cms_verify);

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $TMP = scratch_dir();

# ---- helpers (openssl) ----------------------------------------------------------

my $t = JMAPTest->new();
my $PKI = $t->pki_dir;

sub cert_text {
    my ($pem) = @_;
    return '' unless $pem;
    my $r = run_cmd('openssl', 'x509', '-in', $pem, '-noout', '-text', '-email');
    return $r->{out};
}

# The SignerInfos part of `openssl cms -cmsout -print`.
sub signer_infos {
    my ($msg) = @_;
    my $in = spew('print.eml', $msg);
    my $r = run_cmd('openssl', 'cms', '-cmsout', '-print', '-in', $in);
    return '' if $r->{rc};
    my $i = index($r->{out}, 'signerInfos:');
    return $i < 0 ? '' : substr($r->{out}, $i);
}

# ---- helpers (JMAP) ---------------------------------------------------------------

sub message {
    my ($user, %o) = @_;
    return $t->text_draft($user, subject => 'Quarterly numbers', %o);
}

sub download_blob {
    my ($user, $blob_id) = @_;
    my $dl = $t->download($user, { accountId => $t->account_id($user), blobId => $blob_id,
                                   name => 'message.eml', type => 'message/rfc822' });
    return $dl->{status} == 200 ? $dl->{content} : undef;
}

# Header protection (RFC 9788) on a signed-only message: the payload header
# section repeats the outer non-structural fields and Content-Type has hp="clear".
sub check_hp_clear {
    my ($outer_fields, $content) = @_;
    my ($ih) = split_entity($content);
    my $in = fields($ih);
    for my $name (qw(From To Subject Date Message-ID)) {
        my $o = field($outer_fields, $name);
        ok(defined $o, "outer $name present") or next;
        is(field($in, $name), $o, "protected $name equals the outer $name");
    }
    like(field($in, 'Content-Type') // '', qr{^text/plain\b}i, 'payload is text/plain');
    is(ct_param(field($in, 'Content-Type') // '', 'hp'), 'clear', 'payload Content-Type has hp="clear"');
    ok(!grep({ lc $_->[0] eq 'hp-outer' } @$in), 'no HP-Outer lines when only signing');
}

sub check_signed_attrs {
    my ($msg, $what) = @_;
    my $si = signer_infos($msg);
    like($si, qr/\(1\.2\.840\.113549\.1\.9\.5\)/, "$what: signingTime attribute");
    like($si, qr/\(1\.2\.840\.113549\.1\.9\.15\)/, "$what: SMIMECapabilities attribute");
    like($si, qr/\(1\.2\.840\.113549\.1\.9\.16\.2\.47\)/, "$what: signingCertificateV2 attribute");
    like($si, qr/digestAlgorithm:\s*\n\s*algorithm: sha256 \(2\.16\.840\.1\.101\.3\.4\.2\.1\)/,
         "$what: SignerInfo digest is sha256");
    return $si;
}

# Flip one character of the signed text inside the base64 CMS of an opaque message.
sub tamper_opaque {
    my ($bytes, $from, $to) = @_;
    my ($h, $b) = split_entity($bytes);
    my $der = decode_base64($b);
    my $n = ($der =~ s/\Q$from\E/$to/);
    return (undef, undef) unless $n;
    my $bad = $h . "\r\n" . join("\r\n", unpack('(A76)*', encode_base64($der, ''))) . "\r\n";
    my $good = $h . "\r\n" . join("\r\n", unpack('(A76)*', encode_base64(decode_base64($b), ''))) . "\r\n";
    return ($bad, $good);
}

ok($t->session('alice'), 'alice has a session') or do { done_testing; exit };

# ---- opaque, RSA ----------------------------------------------------------------------

my %made;    # name -> [created, bytes, user, message]

subtest 'alice signs opaque (default), RSA' => sub {
    my $msg = message('alice', smimeSign => $T);
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    $made{opaque} = [$c, $bytes, 'alice', $msg];
    my ($oh) = split_entity($bytes);
    my $of = fields($oh);
    my $ct = field($of, 'Content-Type') // '';
    like($ct, qr{^application/pkcs7-mime\s*;}i, 'outer Content-Type application/pkcs7-mime');
    is(lc(ct_param($ct, 'smime-type') // ''), 'signed-data', 'smime-type=signed-data');
    like(field($of, 'Content-Transfer-Encoding') // '', qr/^base64$/i, 'base64 transfer encoding');
    is(field($of, 'Subject'), 'Quarterly numbers', 'outer Subject unchanged (signing only)');
    unlike($bytes, qr/the numbers are in/, 'body only inside the CMS (opaque)');

    my $v = cms_verify($PKI, $bytes);
    ok($v->{ok}, 'openssl cms -verify -CAfile ca.pem succeeds') or diag($v->{err});
    my $cert = cert_text($v->{signer});
    like($cert, qr/^alice\@example\.com$/m, 'signer certificate email is the From address');
    like($cert, qr/rsaEncryption/, 'signer key is RSA');
    like($v->{content}, qr/\r\n\r\nHello Bob,\r\nthe numbers are in: 42\.\r\n$/,
         'signed content ends with the body (CRLF canonical form)');
    check_hp_clear($of, $v->{content});
    check_signed_attrs($bytes, 'opaque');

    my ($bad, $good) = tamper_opaque($bytes, 'numbers are in: 42', 'numbers are in: 43');
    ok(defined $bad, 'found the signed text inside the CMS') or return;
    ok(cms_verify($PKI, $good)->{ok}, 'control: the re-encoded untouched message verifies');
    my $tv = cms_verify($PKI, $bad);
    ok(!$tv->{ok}, 'one changed byte in the signed content: verification FAILS');
    like($tv->{err}, qr/failure|error/i, 'openssl reports the failure');
};

# ---- detached, RSA --------------------------------------------------------------------

# Checks for multipart/signed; returns the verify result.
sub check_detached {
    my ($bytes, $signer_email, $what) = @_;
    my ($oh, $ob) = split_entity($bytes);
    my $of = fields($oh);
    my $ct = field($of, 'Content-Type') // '';
    like($ct, qr{^multipart/signed\s*;}i, "$what: outer Content-Type multipart/signed");
    like($ct, qr{;\s*protocol\s*=\s*"application/pkcs7-signature"}i,
         "$what: protocol=\"application/pkcs7-signature\" (quoted, RFC 8551 §3.5.3.2)");
    is(lc(ct_param($ct, 'micalg') // ''), 'sha-256', "$what: micalg=sha-256");
    my $boundary = ct_param($ct, 'boundary');
    ok(defined $boundary, "$what: has a boundary") or return {};
    my @parts = mime_parts($ob, $boundary);
    is(scalar @parts, 2, "$what: two parts");
    my ($sh) = split_entity($parts[1] // '');
    like(field(fields($sh), 'Content-Type') // '', qr{^application/pkcs7-signature\b}i,
         "$what: second part application/pkcs7-signature");
    unlike($parts[0] // '', qr/[^\x00-\x7f]/, "$what: signed part is 7-bit");

    my $v = cms_verify($PKI, $bytes);
    ok($v->{ok}, "$what: openssl cms -verify reads multipart/signed and succeeds")
        or diag($v->{err});
    like(cert_text($v->{signer}), qr/^\Q$signer_email\E$/m, "$what: signer certificate is $signer_email");
    is($v->{content}, $parts[0], "$what: verified content is exactly the first part");
    $v->{outer} = $of;
    $v->{first} = $parts[0];
    return $v;
}

sub tamper_detached {
    my ($bytes, $from, $to, $what) = @_;
    (my $bad = $bytes) =~ s/\Q$from\E/$to/;
    isnt($bad, $bytes, "$what: changed one byte in the first part");
    my $tv = cms_verify($PKI, $bad);
    ok(!$tv->{ok}, "$what: tampered multipart/signed FAILS verification");
}

subtest 'alice signs detached (smimeSignOpaque false), RSA' => sub {
    my $msg = message('alice', smimeSign => $T, smimeSignOpaque => $F);
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    $made{detached} = [$c, $bytes, 'alice', $msg];
    my $v = check_detached($bytes, 'alice@example.com', 'detached');
    return unless $v->{outer};
    like($v->{first}, qr/the numbers are in: 42/, 'body readable in the first part');
    check_hp_clear($v->{outer}, $v->{content});
    check_signed_attrs($bytes, 'detached');
    tamper_detached($bytes, 'numbers are in: 42', 'numbers are in: 43', 'detached');
    # A header field of the first part is covered too.
    (my $subj_bad = $bytes) =~ s/(\r\n--[^\r\n]+\r\n(?:[^\r\n]+\r\n)*?Subject: )Quarterly/${1}Quarterlx/;
    isnt($subj_bad, $bytes, 'changed the protected Subject in the first part');
    ok(!cms_verify($PKI, $subj_bad)->{ok}, 'changed protected Subject: verification FAILS');
};

# ---- EC P-256 (carol) -------------------------------------------------------------------

for my $opaque (1, 0) {
    my $what = $opaque ? 'opaque' : 'detached';
    subtest "carol signs $what with EC P-256" => sub {
        my $msg = message('carol', from => [{ name => 'Carol', email => 'carol@example.com' }],
                          smimeSign => $T, smimeSignOpaque => $opaque ? $T : $F);
        my ($c, $bytes) = $t->create_email('carol', $msg) or return;
        my $v = $opaque ? cms_verify($PKI, $bytes) : check_detached($bytes, 'carol@example.com', "carol $what");
        ok($v->{ok}, 'openssl verifies the ECDSA signature') or diag($v->{err});
        my $cert = cert_text($v->{signer});
        like($cert, qr/^carol\@example\.com$/m, 'signer certificate is carol\'s');
        like($cert, qr/id-ecPublicKey/, 'signer key is EC');
        like($cert, qr/prime256v1|P-256/, 'on P-256');
        my $si = check_signed_attrs($bytes, "carol $what");
        like($si, qr/ecdsa-with-SHA256|1\.2\.840\.10045\.4\.3\.2|id-ecPublicKey/,
             'SignerInfo signature algorithm is ECDSA');
        if ($opaque) {
            my ($bad) = tamper_opaque($bytes, 'numbers are in: 42', 'numbers are in: 43');
            ok($bad && !cms_verify($PKI, $bad)->{ok}, 'tampered EC-signed message FAILS verification');
        } else {
            tamper_detached($bytes, 'numbers are in: 42', 'numbers are in: 43', "carol $what");
        }
    };
}

# ---- shared address -------------------------------------------------------------------------

for my $user (qw(alice bob)) {
    subtest "$user signs as the shared address sales\@example.com (JMAPSendAs)" => sub {
        my $msg = message($user, from => [{ name => 'Example Sales', email => 'sales@example.com' }],
                          smimeSign => $T);
        my ($c, $bytes) = $t->create_email($user, $msg) or return;
        my $v = cms_verify($PKI, $bytes);
        ok($v->{ok}, 'verifies') or diag($v->{err});
        my $cert = cert_text($v->{signer});
        like($cert, qr/^sales\@example\.com$/m, 'signed with the sales certificate');
        unlike($cert, qr/^\Q$user\E\@example\.com$/m, "not with $user\'s own certificate");
    };
}

# ---- headerProtect false ---------------------------------------------------------------------

subtest 'headerProtect false: no protected copy, no hp parameter' => sub {
    for my $opaque (1, 0) {
        my $msg = message('alice', smimeSign => $T, headerProtect => $F,
                          smimeSignOpaque => $opaque ? $T : $F);
        my ($c, $bytes) = $t->create_email('alice', $msg) or return;
        my $v = cms_verify($PKI, $bytes);
        ok($v->{ok}, ($opaque ? 'opaque' : 'detached') . ': verifies') or diag($v->{err});
        my ($ih, $ib) = split_entity($v->{content});
        my $in = fields($ih);
        ok(!defined field($in, $_), "payload has no $_ field") for qw(Subject From To Date Message-ID);
        like(field($in, 'Content-Type') // '', qr{^text/plain}i, 'payload Content-Type text/plain');
        ok(!defined ct_param(field($in, 'Content-Type') // '', 'hp'), 'no hp parameter');
        like($ib, qr/the numbers are in: 42/, 'body is there');
    }
};

# ---- Sender overrides From -------------------------------------------------------------------

# With a Sender field both addresses must be the person's (mail/jm_sendauth.h):
# alice may send as sales@ (JMAPSendAs), not as board@.
subtest 'Sender overrides From for the signer (From: sales, Sender: alice)' => sub {
    my $msg = message('alice', from => [{ name => 'The Sales Team', email => 'sales@example.com' }],
                      sender => [{ name => 'Alice Example', email => 'alice@example.com' }],
                      smimeSign => $T);
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    my ($oh) = split_entity($bytes);
    like(field(fields($oh), 'From') // '', qr/sales\@example\.com/, 'From is sales');
    my $v = cms_verify($PKI, $bytes);
    ok($v->{ok}, 'verifies') or diag($v->{err});
    like(cert_text($v->{signer}), qr/^alice\@example\.com$/m, 'signed by the Sender (alice)');
    my ($ih) = split_entity($v->{content});
    like(field(fields($ih), 'Sender') // '', qr/alice\@example\.com/, 'Sender is protected too');
};

subtest 'Sender alice with a From she may not send as is refused' => sub {
    my $res = $t->email_set('alice', {
        k => message('alice', from => [{ name => 'The Board', email => 'board@example.com' }],
                     sender => [{ email => 'alice@example.com' }], smimeSign => $T) });
    my $e = $res->{notCreated} && $res->{notCreated}{k};
    is($e && $e->{type}, 'signedSenderNotAllowed', 'signedSenderNotAllowed') or diag(explain($res));
    is_deeply($e && $e->{properties}, ['from'], 'names from');
    like($e && $e->{description} // '', qr/board\@example\.com/, 'names the address');
};

# ---- method-level defaults -------------------------------------------------------------------

subtest 'S/MIME arguments at method level are defaults; the creation object wins' => sub {
    my $res = $t->email_set('alice', {
        d1 => message('alice'),
        d2 => message('alice', smimeSign => $F),
        d3 => message('alice', smimeSignOpaque => $T, headerProtect => $T),
    }, smimeSign => $T, smimeSignOpaque => $F, headerProtect => $F);
    for my $k (qw(d1 d2 d3)) {
        ok($res->{created} && $res->{created}{$k}, "$k created") or diag(explain($res));
    }
    return unless $res->{created} && keys %{ $res->{created} } == 3;
    my %b = map { ($_ => download_blob('alice', $res->{created}{$_}{blobId})) } qw(d1 d2 d3);

    my ($h1) = split_entity($b{d1});
    like(field(fields($h1), 'Content-Type') // '', qr{^multipart/signed}i,
         'd1 (no own values): signed detached per the method defaults');
    my $v1 = cms_verify($PKI, $b{d1});
    ok($v1->{ok}, 'd1 verifies') or diag($v1->{err});
    my ($i1) = split_entity($v1->{content});
    ok(!defined ct_param(field(fields($i1), 'Content-Type') // '', 'hp'),
       'd1: headerProtect false from the method default');

    my ($h2, $body2) = split_entity($b{d2});
    like(field(fields($h2), 'Content-Type') // '', qr{^text/plain}i, 'd2 (smimeSign false): not signed');
    unlike($b{d2}, qr/pkcs7/i, 'd2: no pkcs7 anywhere');
    like($body2, qr/the numbers are in/, 'd2: plain body');

    my ($h3) = split_entity($b{d3});
    like(field(fields($h3), 'Content-Type') // '', qr{^application/pkcs7-mime}i,
         'd3 (smimeSignOpaque true): opaque despite the method default');
    my $v3 = cms_verify($PKI, $b{d3});
    ok($v3->{ok}, 'd3 verifies') or diag($v3->{err});
    my ($i3) = split_entity($v3->{content});
    is(ct_param(field(fields($i3), 'Content-Type') // '', 'hp'), 'clear', 'd3: headerProtect true wins');
};

# ---- the stored Email ----------------------------------------------------------------------------

subtest 'Email/get of signed emails: size, mailboxIds, keywords' => sub {
    my $msg = message('alice', smimeSign => $T,
                      mailboxIds => { $t->mailbox_id('alice', 'drafts') => $T,
                                      $t->mailbox_id('alice', 'sent') => $T },
                      keywords => { '$seen' => $T, '$Draft' => $T });
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    my @ids = ($c->{id}, map { $_->[0]{id} } grep { $_ } @made{qw(opaque detached)});
    my $r = $t->api('alice', undef, [['Email/get', { accountId => $t->account_id('alice'), ids => \@ids,
        properties => [qw(id blobId size mailboxIds keywords subject from)] }, 'g']]);
    my $list = $r ? $r->{methodResponses}[0][1]{list} : [];
    is(scalar @$list, scalar @ids, 'all signed emails found');
    my ($e) = grep { $_->{id} eq $c->{id} } @$list;
    ok($e, 'the new email is listed') or return;
    is($e->{size}, length $bytes, 'size equals the downloaded blob length');
    is($e->{blobId}, $c->{blobId}, 'same blobId as created');
    is_deeply($e->{mailboxIds}, { $t->mailbox_id('alice', 'drafts') => $T,
                                  $t->mailbox_id('alice', 'sent') => $T },
              'mailboxIds as given');
    is_deeply($e->{keywords}, { '$seen' => $T, '$draft' => $T }, 'keywords as given (lower-cased)');
    is($e->{subject}, 'Quarterly numbers', 'subject read from the signed message');
    for my $k (qw(opaque detached)) {
        next unless $made{$k};
        my ($g) = grep { $_->{id} eq $made{$k}[0]{id} } @$list;
        is($g && $g->{size}, length $made{$k}[1], "$k: size equals the blob length");
    }
};

is(scalar($t->sink_messages), 0, 'Email/set alone sends nothing');
$t->check_error_log;
$t->stop;
done_testing;
