#!/usr/bin/perl
# Directives are checked when httpd starts, with a message that names the
# directive and the problem — never at the first request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JMAPTest;

my $ok = JMAPTest->new(smtp => 0);        # the default test config starts
my $pki = $ok->pki_dir;
ok($ok->session('alice'), 'the default configuration starts');
$ok->stop;

my @cases = (
    [ 'JMAPBaseURL ftp://x.example',            qr/JMAPBaseURL.*not an absolute/ ],
    [ 'JMAPBaseURL https://x.example/some/path', qr/JMAPBaseURL/ ],
    [ 'JMAPPath jmap',                          qr/JMAPPath must be an absolute/ ],
    [ 'JMAPContentEncryption des',              qr/JMAPContentEncryption: unknown value "des"/ ],
    [ 'JMAPKeyTransportRSAPadding none',        qr/JMAPKeyTransportRSAPadding: unknown value/ ],
    [ 'JMAPDurability sometimes',               qr/JMAPDurability: unknown value/ ],
    [ 'JMAPLDAPURL http://ldap.example',        qr/JMAPLDAPURL.*not an ldap/ ],
    [ 'JMAPLDAPCertFilter mail=%s',             qr/JMAPLDAPCertFilter.*LDAP filter/ ],
    [ 'JMAPLDAPUserFilter (&(uid=%s)(cn=%s))',  qr/JMAPLDAPUserFilter.*exactly once/ ],
    [ 'JMAPLDAPTimeout 0',                      qr/JMAPLDAPTimeout.*seconds/ ],
    [ 'JMAPTrustAnchors /nonexistent/ca.pem',   qr/JMAPTrustAnchors: cannot read \/nonexistent\/ca.pem/ ],
    [ 'JMAPCRLFile /nonexistent/ca.crl',        qr/JMAPCRLFile: cannot read/ ],
    [ 'JMAPLDAPBindPasswordFile /nonexistent',  qr/JMAPLDAPBindPasswordFile: cannot read/ ],
    [ 'JMAPSendAs not-an-address alice',        qr/JMAPSendAs.*not an email address/ ],
    [ 'JMAPSendAs sales2@example.com',          qr/JMAPSendAs needs an address and at least one user/ ],
    [ 'JMAPSendAs a*@example.com alice',        qr/JMAPSendAs.*not an email address \(or \*\@domain\)/ ],
    [ 'JMAPSendAs *@*.example.com alice',       qr/JMAPSendAs.*not an email address/ ],
    [ 'JMAPSendAs *@ alice',                    qr/JMAPSendAs.*not an email address/ ],
    [ 'JMAPVacationPeriod 0',                   qr/JMAPVacationPeriod/ ],
    [ 'JMAPVacationPeriod a-week',              qr/JMAPVacationPeriod/ ],
    # signing keys are loaded and checked at startup
    [ "JMAPSigningKey grace\@example.com /nonexistent/key.pem", qr/JMAPSigningKey grace\@example.com/ ],
    [ "JMAPSigningKey bob2\@example.com $pki/alice-full.pem",   qr/JMAPSigningKey bob2\@example.com.*/ ],
    [ "JMAPSigningKey dave\@example.com $pki/dave-full.pem",    qr/JMAPSigningKey dave\@example.com.*(expired|valid)/i ],
    [ "JMAPSigningKey heidi\@example.com $pki/heidi.p12 $pki/bob.pass",
      qr/JMAPSigningKey heidi\@example.com/ ],
    [ "JMAPSigningKey alice\@example.com $pki/alice-full.pem",  qr/configured twice/ ],
    [ "JMAPSignatureRSAPadding pss",                            qr/must come before/ ],
);

for my $c (@cases) {
    my ($line, $want) = @$c;
    my $t = eval { JMAPTest->new(smtp => 0, ldap => 0, quiet_start_failure => 1,
                                 extra_conf => "$line\n") };
    ok(!$t, "refused at startup: $line");
    like($@ // '', $want, '... with a message naming the problem') if !$t;
    $t->stop if $t;
}

# key material readable by others starts, but with a warning naming the file
{
    use File::Temp qw(tempdir);
    use File::Copy qw(copy);
    my $dir = tempdir(CLEANUP => 1);
    copy("$pki/heidi.p12", "$dir/heidi.p12") or die;
    copy("$pki/heidi.pass", "$dir/heidi.pass") or die;
    chmod 0644, "$dir/heidi.p12", "$dir/heidi.pass";
    my $w = eval { JMAPTest->new(smtp => 0, ldap => 0,
        extra_conf => "JMAPSigningKey heidi\@example.com $dir/heidi.p12 $dir/heidi.pass\n") };
    ok($w, 'a group/world-readable key still starts') or diag($@);
    if ($w) {
        my $out = $w->httpd_output('-t');
        like($out, qr/JM01205: JMAPSigningKey: passphrase file \Q$dir\E\/heidi.pass is readable/,
             'warning for the passphrase file');
        like($out, qr/JM01205: JMAPSigningKey: key file \Q$dir\E\/heidi.p12 is readable/,
             'warning for the key file');
        unlike($out, qr/JM01205.*alice-full/, 'no warning for the 0600 default keys');
        $w->stop;
    }
}

# a key passphrase file and a PKCS#12 key that fit together do start
my $good = eval { JMAPTest->new(smtp => 0, ldap => 0,
    extra_conf => "JMAPSigningKey heidi\@example.com $pki/heidi.p12 $pki/heidi.pass\n") };
ok($good, 'a PKCS#12 key with its passphrase file starts') or diag($@);
$good->stop if $good;

done_testing;
