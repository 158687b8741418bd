# 23-smime-gpgsm.t — interoperability with an S/MIME implementation we did
# not write and that does not use OpenSSL: GnuPG's gpgsm (libksba/libgcrypt).
# In a throwaway GNUPGHOME: the test CA trusted (trustlist.txt), bob's key
# imported, CRL checks off. gpgsm verifies opaque and multipart/signed
# messages made by the module (and rejects tampered ones), decrypts
# enveloped-data AES-256-CBC (JMAPContentEncryption aes256-cbc) and
# sign-then-encrypt, and - if this gpgsm can decrypt AuthEnvelopedData at
# all (probed with openssl's own output) - the default AES-256-GCM.
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
use MIMECheck qw(scratch_dir spew slurp run_cmd split_entity fields field mime_parts ct_param);

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $TMP = scratch_dir();

for my $tool (qw(gpgsm gpgconf openssl)) {
    plan skip_all => "$tool not installed"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

# ---- helpers (openssl) ----------------------------------------------------------

# ---- the gpgsm home ------------------------------------------------------------------

my $GH = tempdir('gpgsmXXXXXX', TMPDIR => 1, CLEANUP => 1);   # short: agent socket path
chmod 0700, $GH;
$ENV{GNUPGHOME} = $GH;
END { system('gpgconf', '--kill', 'all') if $GH && -d $GH; }

sub gpgsm {
    my (@args) = @_;
    my %o = ref $args[-1] eq 'HASH' ? %{ pop @args } : ();
    return run_cmd('gpgsm', '--batch', '--status-fd', '1', '--disable-crl-checks',
                   ($o{pass} ? ('--pinentry-mode', 'loopback', '--passphrase-fd', '0') : ()),
                   @args, ($o{pass} ? { stdin => $o{pass} } : ()));
}

my $t = JMAPTest->new(extra_conf => "JMAPContentEncryption aes256-cbc\n");
my $PKI = $t->pki_dir;

my $gpgsm_version = (run_cmd('gpgsm', '--version')->{out} =~ /^gpgsm \(GnuPG\) (\S+)/m) ? $1 : '?';
diag("gpgsm $gpgsm_version");

spew_to("$GH/gpgsm.conf", "disable-crl-checks\n");
spew_to("$GH/gpg-agent.conf", "allow-loopback-pinentry\n");
sub spew_to { my ($f, $d) = @_; open(my $fh, '>', $f) or die "$f: $!"; print $fh $d; close $fh; }

subtest 'gpgsm setup: CA trusted, bob\'s key imported' => sub {
    my $r = gpgsm('--import', "$PKI/ca.pem");
    is($r->{rc}, 0, 'CA certificate imported') or diag($r->{err});
    my $ca_fpr = run_cmd('openssl', 'x509', '-in', "$PKI/ca.pem", '-noout', '-fingerprint', '-sha1')->{out};
    ok($ca_fpr =~ /=([0-9A-F:]+)/, 'CA SHA-1 fingerprint') or return;
    (my $fpr = $1) =~ s/://g;
    spew_to("$GH/trustlist.txt", "$fpr S relax\n");

    $r = gpgsm('--import', "$PKI/bob.p12", { pass => "$PKI/bob.pass" });
    if ($r->{out} !~ /IMPORT_OK/ || $r->{err} =~ /error parsing or decrypting/) {
        # gpgsm 2.2 cannot read PBES2/AES PKCS#12 with an HMAC-SHA256 PRF: re-wrap
        # the same key and certificate with 3DES (what gpgsm reads).
        diag("gpgsm could not import bob.p12 as made by mkpki.sh; re-wrapping it with 3DES:\n$r->{err}");
        my $pem = "$TMP/bob-plain.pem";
        my $c = run_cmd('openssl', 'pkcs12', '-in', "$PKI/bob.p12", '-passin', "file:$PKI/bob.pass",
                        '-nodes', '-out', $pem);
        is($c->{rc}, 0, 'openssl read bob.p12') or diag($c->{err});
        $c = run_cmd('openssl', 'pkcs12', '-export', '-in', $pem, '-passout', "file:$PKI/bob.pass",
                     '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1',
                     '-out', "$TMP/bob-3des.p12");
        is($c->{rc}, 0, 'openssl wrote a 3DES PKCS#12') or diag($c->{err});
        unlink $pem;
        $r = gpgsm('--import', "$TMP/bob-3des.p12", { pass => "$PKI/bob.pass" });
    }
    like($r->{out}, qr/IMPORT_OK/, 'bob\'s key and certificate imported') or diag($r->{err});
    $r = gpgsm('--list-secret-keys');
    like($r->{out}, qr/bob\@example\.com/, 'bob\'s secret key is listed');
};

# ---- JMAP ------------------------------------------------------------------------------------

sub create_bytes {
    my ($s, %o) = @_;
    my $msg = $s->text_draft('alice', subject => 'Interop',
                             body => "Dear Bob,\ngpgsm should read this: 7.\n", %o);
    my (undef, $bytes) = $s->create_email('alice', $msg);
    return $bytes;
}

# The DER inside a base64 application/pkcs7-mime entity.
sub p7m_der {
    my ($entity) = @_;
    my ($h, $b) = split_entity($entity);
    like(field(fields($h), 'Content-Type') // '', qr{^application/pkcs7-mime}i, 'application/pkcs7-mime entity');
    return decode_base64($b);
}

sub good_sig {
    my ($r, $what) = @_;
    is($r->{rc}, 0, "$what: gpgsm exits 0") or diag($r->{err});
    like($r->{out}, qr/^\[GNUPG:\] GOODSIG /m, "$what: GOODSIG");
    like($r->{out}, qr/^\[GNUPG:\] VALIDSIG /m, "$what: VALIDSIG");
    like($r->{out}, qr/^\[GNUPG:\] TRUST_(?:FULLY|ULTIMATE)/m, "$what: chain to the trusted CA");
    like($r->{err}, qr/alice\@example\.com/, "$what: signer is alice\@example.com");
}

subtest 'gpgsm verifies an opaque signed message' => sub {
    my $bytes = create_bytes($t, smimeSign => $T) or return;
    my $der = p7m_der($bytes);
    my $out = "$TMP/opaque.out";
    my $r = gpgsm('--verify', '--output', $out, spew('opaque.p7m', $der));
    good_sig($r, 'opaque');
    like(slurp($out), qr/gpgsm should read this: 7\./, 'gpgsm outputs the signed content');
    (my $bad = $der) =~ s/read this: 7/read this: 8/;
    isnt($bad, $der, 'tampered one byte of the content');
    $r = gpgsm('--verify', '--output', "$TMP/bad.out", spew('bad.p7m', $bad));
    isnt($r->{rc}, 0, 'tampered: gpgsm fails');
    like($r->{out}, qr/^\[GNUPG:\] BADSIG /m, 'tampered: BADSIG');
    unlike($r->{out}, qr/^\[GNUPG:\] GOODSIG /m, 'tampered: no GOODSIG');
};

subtest 'gpgsm verifies a multipart/signed message (first part + p7s)' => sub {
    my $bytes = create_bytes($t, smimeSign => $T, smimeSignOpaque => $F) or return;
    my ($h, $b) = split_entity($bytes);
    my $boundary = ct_param(field(fields($h), 'Content-Type') // '', 'boundary');
    ok(defined $boundary, 'boundary') or return;
    my @parts = mime_parts($b, $boundary);
    is(scalar @parts, 2, 'two parts') or return;
    my ($sh, $sb) = split_entity($parts[1]);
    like(field(fields($sh), 'Content-Type') // '', qr{^application/pkcs7-signature}i, 'p7s part');
    my $sig = spew('detached.p7s', decode_base64($sb));
    my $r = gpgsm('--verify', $sig, spew('signed-part', $parts[0]));
    good_sig($r, 'detached');
    (my $bad = $parts[0]) =~ s/read this: 7/read this: 8/;
    $r = gpgsm('--verify', $sig, spew('bad-part', $bad));
    isnt($r->{rc}, 0, 'tampered first part: gpgsm fails');
    like($r->{out}, qr/^\[GNUPG:\] BADSIG /m, 'tampered: BADSIG');
};

sub gpgsm_decrypt {
    my ($der) = @_;
    my $out = spew('dec.out', '');
    my $r = gpgsm('--decrypt', '--output', $out, spew('enc.p7m', $der), { pass => "$PKI/bob.pass" });
    $r->{content} = slurp($out);
    return $r;
}

# gpgsm exits 2 when it met a RecipientInfo it has no key for (alice's: the
# sender is a recipient too) even though bob's worked, so success is judged by
# the status lines: DECRYPTION_OKAY, END_DECRYPTION, no DECRYPTION_FAILED.
sub decrypted_ok {
    my ($r, $what) = @_;
    my $ok = like($r->{out}, qr/^\[GNUPG:\] DECRYPTION_OKAY/m, "$what: gpgsm DECRYPTION_OKAY");
    unlike($r->{out}, qr/^\[GNUPG:\] DECRYPTION_FAILED/m, "$what: no DECRYPTION_FAILED");
    like($r->{err}, qr/encrypted to rsa2048 key/, "$what: gpgsm saw the RSA recipients");
    diag($r->{out} . $r->{err}) unless $ok;
    return $ok;
}

subtest 'gpgsm decrypts enveloped-data AES-256-CBC' => sub {
    my $bytes = create_bytes($t, smimeEncrypt => $T) or return;
    my ($h) = split_entity($bytes);
    like(field(fields($h), 'Content-Type') // '', qr/smime-type="?enveloped-data"?/i, 'enveloped-data');
    my $r = gpgsm_decrypt(p7m_der($bytes));
    decrypted_ok($r, 'CBC');
    like($r->{content}, qr/gpgsm should read this: 7\./, 'the payload');
    like($r->{content}, qr/^Subject: Interop\r$/m, 'the protected Subject inside');
    my $o = run_cmd('openssl', 'cms', '-decrypt', '-recip', "$PKI/bob.pem", '-inkey', "$PKI/bob.key",
                    '-in', spew('enc.eml', $bytes));
    is($r->{content}, $o->{out}, 'same bytes as openssl decrypts');
};

subtest 'gpgsm decrypts sign+encrypt (CBC) and verifies the inner signature' => sub {
    my $bytes = create_bytes($t, smimeSign => $T, smimeEncrypt => $T) or return;
    my $r = gpgsm_decrypt(p7m_der($bytes));
    decrypted_ok($r, 'sign+encrypt') or return;
    my $v = gpgsm('--verify', '--output', "$TMP/inner.out", spew('inner.p7m', p7m_der($r->{content})));
    good_sig($v, 'inner signature');
    like(slurp("$TMP/inner.out"), qr/gpgsm should read this: 7\./, 'inner content');
};

$t->check_error_log;
$t->stop;

# ---- AuthEnvelopedData (AES-256-GCM), if this gpgsm can do it at all -------------------------------

SKIP: {
    my $probe_in = spew('probe.txt', "Content-Type: text/plain\r\n\r\nprobe\r\n");
    my $o = run_cmd('openssl', 'cms', '-encrypt', '-aes-256-gcm', '-binary', '-outform', 'DER',
                    '-in', $probe_in, '-out', "$probe_in.der", "$PKI/bob.pem");
    skip "openssl cannot make an AES-256-GCM probe: $o->{err}", 1 if $o->{rc};
    my $p = gpgsm_decrypt(slurp("$probe_in.der"));
    if ($p->{rc} || $p->{content} !~ /probe/) {
        my ($why) = $p->{err} =~ /(message decryption failed: [^\n]*|error[^\n]*)/;
        skip "gpgsm $gpgsm_version cannot decrypt AuthEnvelopedData (not even openssl's own "
             . "AES-256-GCM output: " . ($why // 'failed') . ')', 1;
    }
    my $s = JMAPTest->new();
    subtest 'gpgsm decrypts authEnveloped-data AES-256-GCM' => sub {
        my $bytes = create_bytes($s, smimeEncrypt => $T) or return;
        my $r = gpgsm_decrypt(p7m_der($bytes));
        decrypted_ok($r, 'GCM');
        like($r->{content}, qr/gpgsm should read this: 7\./, 'the payload');
    };
    $s->check_error_log;
    $s->stop;
}

done_testing;
