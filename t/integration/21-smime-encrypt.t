# 21-smime-encrypt.t — Email/set create with smimeEncrypt (draft-ietf-jmap-
# smime-sender-extensions-02 §4): encrypted to the sender and every To/Cc/Bcc
# recipient (certificates from the test directory), checked with the openssl
# CLI: each recipient's key decrypts, a non-recipient's does not; AES-256-GCM
# authEnveloped-data by default (RFC 8551 §3.4), enveloped-data AES-256-CBC
# and RSAES-OAEP by configuration; sign-then-encrypt; header protection with
# hcp_baseline (RFC 9788: Subject "[...]" outside, hp="cipher", HP-Outer,
# Bcc never inside).
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
use MIMECheck qw(scratch_dir spew slurp run_cmd split_entity fields field mime_parts ct_param cms_verify cms_decrypt);

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $TMP = scratch_dir();

# ---- helpers (openssl) ----------------------------------------------------------

my $t = JMAPTest->new();
my $PKI = $t->pki_dir;

sub cms_print {
    my ($msg) = @_;
    my $r = run_cmd('openssl', 'cms', '-cmsout', '-print', '-in', spew('print.eml', $msg));
    return $r->{rc} ? '' : $r->{out};
}

# ---- helpers (JMAP; $t first: several servers in this file) ------------------------

sub message {
    my ($s, $user, %o) = @_;
    return $s->text_draft($user, subject => 'Secret plans',
                          body => "Hello Bob,\nthe secret numbers are in: 42.\n", %o);
}

sub recipient_count {
    my ($print) = @_;
    my @n = $print =~ /\bd\.(?:ktri|kari):/g;
    return scalar @n;
}

# The outer header checks of an encrypted message; returns the outer fields.
sub check_outer_encrypted {
    my ($bytes, $smime_type, $what) = @_;
    my ($oh, $ob) = split_entity($bytes);
    my $of = fields($oh);
    my $ct = field($of, 'Content-Type') // '';
    like($ct, qr{^application/pkcs7-mime\s*;}i, "$what: outer Content-Type application/pkcs7-mime");
    is(ct_param($ct, 'smime-type'), $smime_type, "$what: smime-type=$smime_type");
    like(field($of, 'Content-Transfer-Encoding') // '', qr/^base64$/i, "$what: base64");
    unlike($bytes, qr/secret numbers/, "$what: the body is not readable in the stored message");
    return $of;
}

# RFC 9788 on an encrypted message's Cryptographic Payload.
sub check_hp_cipher {
    my ($outer, $payload, $what) = @_;
    my ($ih, $ib) = split_entity($payload);
    my $in = fields($ih);
    is(field($outer, 'Subject'), '[...]', "$what: outer Subject is \"[...]\" (hcp_baseline)");
    is(field($in, 'Subject'), 'Secret plans', "$what: real Subject inside");
    is(ct_param(field($in, 'Content-Type') // '', 'hp'), 'cipher', "$what: hp=\"cipher\"");
    for my $name (qw(From To Date Message-ID)) {
        is(field($in, $name), field($outer, $name), "$what: protected $name equals the outer one");
    }
    my %hpo = map { /^([^:]+):\s*(.*)$/ ? (lc($1) => $2) : () } field($in, 'HP-Outer');
    # Bcc is outside (the sender's stored copy) but must not leak inside.
    my @outer_ns = grep { $_->[0] !~ /^(?:Content-|MIME-Version$|Bcc$)/i } @$outer;
    for my $f (@outer_ns) {
        is($hpo{lc $f->[0]}, $f->[1], "$what: HP-Outer records the outer $f->[0]");
    }
    is(scalar(keys %hpo), scalar(@outer_ns), "$what: one HP-Outer line per outer non-structural field");
    ok(!defined field($in, 'Bcc'), "$what: no Bcc inside the payload");
    ok(!exists $hpo{bcc}, "$what: no HP-Outer line for Bcc");
    like($ib, qr/the secret numbers are in: 42\./, "$what: the body");
    return $in;
}

ok($t->session('alice'), 'alice has a session') or do { done_testing; exit };

subtest 'alice encrypts to bob: authEnveloped-data AES-256-GCM, both can decrypt' => sub {
    my ($c, $bytes) = $t->create_email('alice', message($t, 'alice', smimeEncrypt => $T)) or return;
    my $of = check_outer_encrypted($bytes, 'authEnveloped-data', 'default');
    my $print = cms_print($bytes);
    like($print, qr/contentEncryptionAlgorithm:\s*\n\s*algorithm: aes-256-gcm \(2\.16\.840\.1\.101\.3\.4\.1\.46\)/,
         'content encryption AES-256-GCM');
    is(recipient_count($print), 2, 'two RecipientInfos (alice + bob)');
    like($print, qr/rsaEncryption \(1\.2\.840\.113549\.1\.1\.1\)/, 'RSA PKCS#1 v1.5 key transport (default)');
    my $d = cms_decrypt($PKI, $bytes, 'bob');
    ok($d->{ok}, 'bob decrypts with openssl') or diag($d->{err});
    check_hp_cipher($of, $d->{content}, 'bob');
    my $da = cms_decrypt($PKI, $bytes, 'alice');
    ok($da->{ok}, 'alice (the sender) decrypts too') or diag($da->{err});
    is($da->{content}, $d->{content}, 'same payload for alice');
    ok(!cms_decrypt($PKI, $bytes, 'carol')->{ok}, 'carol (not a recipient) cannot decrypt');
};

subtest 'carol (EC P-256, key agreement) as a recipient' => sub {
    my $msg = message($t, 'alice', to => [{ name => 'Carol', email => 'carol@example.com' }],
                      smimeEncrypt => $T);
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    check_outer_encrypted($bytes, 'authEnveloped-data', 'to carol');
    my $print = cms_print($bytes);
    like($print, qr/\bd\.kari:/, 'a KeyAgreeRecipientInfo for the EC key');
    my $d = cms_decrypt($PKI, $bytes, 'carol');
    ok($d->{ok}, 'carol decrypts with her EC key') or diag($d->{err});
    like($d->{content}, qr/the secret numbers are in: 42/, 'payload body');
    ok(cms_decrypt($PKI, $bytes, 'alice')->{ok}, 'alice decrypts');
    ok(!cms_decrypt($PKI, $bytes, 'bob')->{ok}, 'bob (not a recipient) cannot');
};

# A Bcc recipient gets a copy of its own when the Email is sent (README
# "EmailSubmission", t/integration/47-submission.t): the Email's message is
# for the sender, To and Cc, so those learn nothing of the Bcc recipient
# from its RecipientInfos.
subtest 'To and Cc recipients can decrypt, Bcc not from the To/Cc copy; Bcc stays out of the payload' => sub {
    my $msg = message($t, 'alice', cc => [{ name => 'Carol', email => 'carol@example.com' }],
                      bcc => [{ name => 'Sales', email => 'sales@example.com' }],
                      smimeEncrypt => $T);
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    my $of = check_outer_encrypted($bytes, 'authEnveloped-data', 'to+cc+bcc');
    is(recipient_count(cms_print($bytes)), 3, 'three RecipientInfos (alice, bob, carol)');
    ok(!cms_decrypt($PKI, $bytes, 'sales')->{ok}, 'sales (Bcc) is not among them');
    my $payload;
    for my $who (qw(bob carol alice)) {
        my $d = cms_decrypt($PKI, $bytes, $who);
        ok($d->{ok}, "$who decrypts") or diag($d->{err});
        $payload //= $d->{content} if $d->{ok};
    }
    ok(!cms_decrypt($PKI, $bytes, 'heidi')->{ok}, 'heidi (not a recipient) cannot');
    return unless defined $payload;
    my $in = check_hp_cipher($of, $payload, 'to+cc+bcc');
    like(field($in, 'Cc') // '', qr/carol\@example\.com/, 'Cc is protected');
    unlike($payload, qr/sales\@example\.com/i, 'the Bcc address appears nowhere in the payload');
};

subtest 'group syntax (header:To:asGroupedAddresses): every member can decrypt' => sub {
    my %msg = %{ message($t, 'alice', smimeEncrypt => $T) };
    delete $msg{to};
    $msg{'header:To:asGroupedAddresses'} = [{ name => 'Team', addresses => [
        { name => 'Bob', email => 'bob@example.com' },
        { name => 'Carol', email => 'carol@example.com' } ] }];
    my ($c, $bytes) = $t->create_email('alice', \%msg) or return;
    my ($oh) = split_entity($bytes);
    like(field(fields($oh), 'To') // '', qr/^Team:.*bob\@example\.com.*carol\@example\.com.*;$/,
         'outer To uses group syntax');
    ok(cms_decrypt($PKI, $bytes, $_)->{ok}, "group member $_ decrypts") for qw(bob carol);
};

subtest 'sign then encrypt: decrypt, then openssl verifies the inner signed entity' => sub {
    for my $opaque (1, 0) {
        my $what = $opaque ? 'opaque' : 'detached';
        my $msg = message($t, 'alice', smimeSign => $T, smimeEncrypt => $T,
                          smimeSignOpaque => $opaque ? $T : $F);
        my ($c, $bytes) = $t->create_email('alice', $msg) or return;
        my $of = check_outer_encrypted($bytes, 'authEnveloped-data', "sign+encrypt $what");
        my $d = cms_decrypt($PKI, $bytes, 'bob');
        ok($d->{ok}, "$what: bob decrypts") or return diag($d->{err});
        my ($ih) = split_entity($d->{content});
        like(field(fields($ih), 'Content-Type') // '',
             $opaque ? qr{^application/pkcs7-mime;.*smime-type=signed-data}i : qr{^multipart/signed}i,
             "$what: the decrypted entity is the signed one");
        my $v = cms_verify($PKI, $d->{content});
        ok($v->{ok}, "$what: openssl verifies the inner signature") or diag($v->{err});
        like($v->{signer_text}, qr/^alice\@example\.com$/m, "$what: signed by alice");
        check_hp_cipher($of, $v->{content}, "sign+encrypt $what");
    }
};

subtest 'headerProtect false with encryption: outer Subject kept, no hp' => sub {
    my $msg = message($t, 'alice', smimeEncrypt => $T, headerProtect => $F);
    my ($c, $bytes) = $t->create_email('alice', $msg) or return;
    my $of = check_outer_encrypted($bytes, 'authEnveloped-data', 'headerProtect false');
    is(field($of, 'Subject'), 'Secret plans', 'outer Subject unchanged');
    my $d = cms_decrypt($PKI, $bytes, 'bob');
    ok($d->{ok}, 'bob decrypts') or return;
    my ($ih, $ib) = split_entity($d->{content});
    my $in = fields($ih);
    ok(!defined ct_param(field($in, 'Content-Type') // '', 'hp'), 'no hp parameter');
    ok(!defined field($in, $_), "no $_ in the payload") for qw(Subject HP-Outer From);
    like($ib, qr/the secret numbers are in: 42/, 'body');
};

is(scalar($t->sink_messages), 0, 'Email/set alone sends nothing');
$t->check_error_log;
$t->stop;

# ---- configuration variants ------------------------------------------------------------------

{
    my $s = JMAPTest->new(extra_conf => "JMAPContentEncryption aes256-cbc\n");
    subtest 'JMAPContentEncryption aes256-cbc: enveloped-data' => sub {
        my ($c, $bytes) = $s->create_email('alice', message($s, 'alice', smimeEncrypt => $T)) or return;
        my $of = check_outer_encrypted($bytes, 'enveloped-data', 'cbc');
        like(cms_print($bytes), qr/contentEncryptionAlgorithm:\s*\n\s*algorithm: aes-256-cbc \(2\.16\.840\.1\.101\.3\.4\.1\.42\)/,
             'content encryption AES-256-CBC');
        my $d = cms_decrypt($PKI, $bytes, 'bob');
        ok($d->{ok}, 'bob decrypts') or diag($d->{err});
        check_hp_cipher($of, $d->{content}, 'cbc') if $d->{ok};
        ok(cms_decrypt($PKI, $bytes, 'alice')->{ok}, 'alice decrypts');
    };
    $s->check_error_log;
    $s->stop;
}

{
    my $s = JMAPTest->new(extra_conf => "JMAPKeyTransportRSAPadding oaep\n");
    subtest 'JMAPKeyTransportRSAPadding oaep: RSAES-OAEP key transport' => sub {
        my ($c, $bytes) = $s->create_email('alice', message($s, 'alice', smimeEncrypt => $T)) or return;
        check_outer_encrypted($bytes, 'authEnveloped-data', 'oaep');
        my $print = cms_print($bytes);
        my @oaep = $print =~ /keyEncryptionAlgorithm:\s*\n\s*algorithm: \S+ \(1\.2\.840\.113549\.1\.1\.7\)/g;
        is(scalar @oaep, 2, 'both RSA recipients use rsaesOaep (1.2.840.113549.1.1.7)');
        unlike($print, qr/keyEncryptionAlgorithm:\s*\n\s*algorithm: rsaEncryption/, 'no PKCS#1 v1.5 key transport');
        for my $who (qw(bob alice)) {
            my $d = cms_decrypt($PKI, $bytes, $who);
            ok($d->{ok}, "$who decrypts with openssl") or diag($d->{err});
            like($d->{content}, qr/the secret numbers are in: 42/, "$who: payload body");
        }
    };
    $s->check_error_log;
    $s->stop;
}

done_testing;
