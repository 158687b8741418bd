#!/usr/bin/perl
# EmailSubmission through a relay that does TLS and AUTH (the sink with
# STARTTLS, RFC 3207; implicit TLS, RFC 8314; AUTH PLAIN/LOGIN, RFC 4954),
# its certificate verified against JMAPSubmissionCAFile (a test CA made
# by JMAPTest, not the S/MIME PKI). Each case is a real submission: its
# deliveryStatus, the sink's record (tls, auth_user, the commands it got)
# and the error log. A TLS or AUTH failure sends nothing, leaves the
# recipient "queued" with a reply saying why, and is retried until
# JMAPSubmissionRetryTime.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use JMAPTest;

my @USING = qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
               urn:ietf:params:jmap:submission);

sub slurp { open(my $f, '<:raw', $_[0]) or return ''; local $/; my $d = <$f>; $d }
sub envelope_of { (my $j = $_[0]) =~ s/\.eml$/.json/; decode_json(slurp($j)) }

# a relay test server: no directory or S/MIME keys needed for plain text
sub server {
    my (%o) = @_;
    my $extra = delete($o{conf}) // '';
    return JMAPTest->new(ldap => 0, pki => 0,
                         extra_conf => "JMAPSubmissionConnectTimeout 5\n"
                                     . "JMAPSubmissionTimeout 10\n$extra", %o);
}

# alice submits a new draft to bob, as sales@example.com (JMAPSendAs:
# without the directory that is her one identity); the submission id
sub submit {
    my ($t) = @_;
    my $acct = $t->account_id('alice');
    my $r = $t->api('alice', \@USING, [['Identity/get', { accountId => $acct }, 'i']]);
    my ($ident) = map { $_->{id} } grep { $_->{email} eq 'sales@example.com' }
                  @{ $r->{methodResponses}[0][1]{list} || [] };
    my $draft = $t->text_draft('alice', from => [{ name => 'Sales', email => 'sales@example.com' }]);
    $r = $t->api('alice', \@USING, [
        ['Email/set', { accountId => $acct, create => { k => $draft } }, 'e'],
        ['EmailSubmission/set', { accountId => $acct, create => { s => {
            identityId => $ident, emailId => '#k' } } }, 's']]);
    my $sid = $r && $r->{methodResponses}[1][1]{created}{s}{id};
    ok($sid, 'submitted') or diag(explain($r));
    return $sid;
}

# bob's deliveryStatus once $done says so (or the last one after $secs)
sub status_when {
    my ($t, $sid, $done, $secs) = @_;
    my $acct = $t->account_id('alice');
    my $end = time + ($secs || 30);
    my $ds;
    while (time < $end) {
        my $r = $t->api('alice', \@USING, [['EmailSubmission/get',
                                            { accountId => $acct, ids => [$sid] }, 'g']]);
        $ds = $r && $r->{methodResponses}[0][1]{list}[0]{deliveryStatus}{'bob@example.com'};
        return $ds if $ds && $done->($ds);
        sleep 0.3;
    }
    return $ds || {};
}

sub relayed { my $d = $_[0]{delivered}; $d && $d ne 'queued' }

# relayed: one message at the sink; its envelope record
sub delivered_ok {
    my ($t, $sid, $what) = @_;
    my $ds = status_when($t, $sid, \&relayed);
    is($ds->{delivered}, 'unknown', "$what: relayed") or diag(explain($ds));
    like($ds->{smtpReply} // '', qr/^250 /, '... with the relay\'s 250');
    my @m = $t->sink_messages;
    is(scalar @m, 1, '... one message at the sink');
    return @m ? envelope_of($m[0]) : {};
}

# a session that may not go on: nothing sent, bob stays queued with a
# reply matching $reply, the error log has $log; at least two attempts
sub refused_ok {
    my ($t, $sid, $what, $reply, $log) = @_;
    my $ds = status_when($t, $sid, sub { ($_[0]{smtpReply} // '') =~ $reply });
    is($ds->{delivered}, 'queued', "$what: still queued") or diag(explain($ds));
    like($ds->{smtpReply} // '', $reply, '... smtpReply says why');
    my $end = time + 20;
    my $n = 0;
    while (time < $end) {
        $n = () = $t->error_log =~ /$log/g;
        last if $n >= 2;
        sleep 0.3;
    }
    cmp_ok($n, '>=', 2, '... the error log says it, and it was tried again')
        or diag($t->error_log);
    is(status_when($t, $sid, \&relayed, 0.1)->{delivered}, 'queued', '... and stays queued');
    is(scalar($t->sink_messages), 0, '... nothing reached the sink');
    my @mail = grep { / (?:MAIL|RCPT|DATA|AUTH)/ } $t->sink_commands;
    is_deeply(\@mail, [], '... not even MAIL FROM (or AUTH)');
}

# ---- STARTTLS required, offered (and required) by the relay -------------
{
    my $t = server(sink_tls => 'required', conf => "JMAPSubmissionStartTLS required\n");
    my $sid = submit($t);
    my $env = delivered_ok($t, $sid, 'STARTTLS required and offered');
    is($env->{tls}, JSON::PP::true, '... over TLS');
    is($env->{auth_user}, undef, '... without AUTH');
    my @c = $t->sink_commands;
    my ($conn) = map { /^(\d+) STARTTLS/ ? $1 : () } @c;
    ok($conn, '... after STARTTLS') or diag(join "\n", @c);
    is_deeply([grep { /^$conn (?:MAIL|RCPT|DATA) tls=0/ } @c], [], '... nothing in clear')
        if $conn;
    $t->check_error_log;
    $t->stop;
}

# ---- STARTTLS required, the relay does not offer it ----------------------
{
    my $t = server(relay_pki => 1, sink_env => {},
                   conf => "JMAPSubmissionStartTLS required\n",
                   expected_errors => [qr/JM15050:/]);
    my $sid = submit($t);
    refused_ok($t, $sid, 'STARTTLS required, not offered',
               qr/^451 4\.7\.0 STARTTLS is required \(JMAPSubmissionStartTLS\) and the relay does not offer it; nothing was sent$/,
               qr/JM15050: relay smtp:\/\/127\.0\.0\.1:\d+: JMAPSubmissionStartTLS is required but the relay does not offer STARTTLS in its EHLO reply, so nothing is sent in clear; mail stays queued and is retried/);
    $t->check_error_log;
    $t->stop;
}

# ---- STARTTLS optional: clear text when not offered, TLS when offered ----
{
    my $t = server(relay_pki => 1, sink_env => {}, conf => "JMAPSubmissionStartTLS optional\n");
    my $env = delivered_ok($t, submit($t), 'STARTTLS optional, not offered');
    is($env->{tls}, JSON::PP::false, '... in clear');
    $t->check_error_log;
    $t->stop;
    $t = server(sink_tls => 'starttls', conf => "JMAPSubmissionStartTLS optional\n");
    $env = delivered_ok($t, submit($t), 'STARTTLS optional, offered');
    is($env->{tls}, JSON::PP::true, '... over TLS');
    $t->check_error_log;
    $t->stop;
}

# ---- the relay's certificate is not accepted: another CA, another host ---
for my $c (['other-ca', qr/certificate problem: unable to get local issuer certificate/],
           ['other-host', qr/no alternative certificate subject name matches target host name '127\.0\.0\.1'/]) {
    my ($cert, $why) = @$c;
    # optional: a relay that offers STARTTLS is still verified, never
    # used without it
    my $t = server(sink_tls => 'starttls', sink_cert => $cert,
                   conf => "JMAPSubmissionStartTLS optional\n",
                   expected_errors => [qr/JM15051:/]);
    my $sid = submit($t);
    refused_ok($t, $sid, "certificate of $cert",
               qr/^451 4\.7\.5 The relay's TLS certificate was not accepted: .*$why.*; nothing was sent$/,
               qr/JM15051: relay smtp:\S+: its TLS certificate was not accepted \([^)]*$why[^)]*\), verified against \S+\/relaypki\/ca\.pem; nothing is sent/);
    $t->check_error_log;
    $t->stop;
}

# ---- smtps:// against implicit TLS ---------------------------------------
{
    my $t = server(sink_tls => 'smtps');
    my $env = delivered_ok($t, submit($t), 'smtps://');
    is($env->{tls}, JSON::PP::true, '... over TLS');
    my @c = $t->sink_commands;
    is_deeply([grep { /tls=0/ } @c], [], '... every command in TLS') or diag(join "\n", @c);
    $t->check_error_log;
    $t->stop;
}

# ---- smtps:// against a relay that does not speak TLS on connect ---------
{
    my $t = server(relay_pki => 1, sink_env => {}, relay_scheme => 'smtps',
                   expected_errors => [qr/JM15053:/]);
    my $sid = submit($t);
    refused_ok($t, $sid, 'smtps:// to a relay without TLS',
               qr/^451 4\.7\.0 TLS with the relay failed: .+; nothing was sent$/,
               qr/JM15053: relay smtps:\S+: the TLS handshake failed \(.+\) \(does the relay speak TLS from the start on this port\? smtp:\/\/ with STARTTLS is the other way\); nothing is sent/);
    $t->check_error_log;
    $t->stop;
}

# ---- AUTH over STARTTLS: the right credentials ---------------------------
{
    my $t = server(sink_tls => 'required', sink_auth => 'relayuser:s3cret pw',
                   relay_auth => 'relayuser:s3cret pw',
                   conf => "JMAPSubmissionStartTLS required\n");
    my $env = delivered_ok($t, submit($t), 'AUTH with the right password');
    is($env->{auth_user}, 'relayuser', '... authenticated as relayuser');
    is($env->{tls}, JSON::PP::true, '... over TLS');
    my @c = $t->sink_commands;
    ok((grep { /^\d+ AUTH (?:PLAIN|LOGIN) tls=1$/ } @c), '... AUTH after STARTTLS')
        or diag(join "\n", @c);
    unlike($t->error_log, qr/s3cret/, 'the password is not logged');
    $t->check_error_log;
    $t->stop;
}

# ---- AUTH, wrong password: the relay's 535, retried, then given up -------
# A refused password is our configuration's problem (or the relay's), not
# the message's: retried like a relay that is down, until the retry time.
{
    my $t = server(sink_tls => 'starttls', sink_auth => 'relayuser:right',
                   relay_auth => 'relayuser:wrong',
                   conf => "JMAPSubmissionRetryTime 6\n",
                   expected_errors => [qr/JM15054:/]);
    my $sid = submit($t);
    my $ds = status_when($t, $sid, sub { ($_[0]{smtpReply} // '') =~ /^535/ });
    is($ds->{delivered}, 'queued', 'wrong password: queued');
    is($ds->{smtpReply}, '535 5.7.8 Authentication credentials invalid',
       '... smtpReply is the relay\'s 535');
    like($t->error_log, qr/JM15054: relay smtp:\S+ refused the credentials of JMAPSubmissionAuthFile \(user relayuser\): 535 5\.7\.8 Authentication credentials invalid; nothing is sent, mail stays queued and is retried/,
         '... the error log names the user and the reply');
    $ds = status_when($t, $sid, \&relayed, 30);
    is($ds->{delivered}, 'no', '... given up after the retry time');
    like($ds->{smtpReply} // '', qr/^550 5\.4\.7 Delivery time expired after 6 seconds; last reply: 535 5\.7\.8 /,
         '... with the last reply, the 535');
    my $auths = grep { / AUTH / } $t->sink_commands;
    cmp_ok($auths, '>=', 2, '... after more than one attempt');
    is(scalar($t->sink_messages), 0, 'nothing reached the sink');
    is_deeply([grep { / (?:MAIL|RCPT|DATA)/ } $t->sink_commands], [], '... not even MAIL FROM');
    unlike($t->error_log, qr/JM15054:.*wrong/, 'the password is not logged');
    $t->check_error_log;
    $t->stop;
}

# ---- the relay requires AUTH, no JMAPSubmissionAuthFile: 530 retried -----
{
    my $t = server(sink_tls => 'starttls', sink_auth => 'relayuser:right');
    my $sid = submit($t);
    my $ds = status_when($t, $sid, sub { ($_[0]{smtpReply} // '') =~ /^530/ });
    is($ds->{delivered}, 'queued', 'relay needs AUTH, none configured: queued');
    is($ds->{smtpReply}, '530 5.7.0 Authentication required', '... with the relay\'s 530');
    is(scalar($t->sink_messages), 0, '... nothing relayed');
    $t->check_error_log;
    $t->stop;
}

# ---- JMAPSubmissionCAFile that httpd's User cannot read ------------------
SKIP: {
    # not root: the startup check cannot read it either (49 tests that)
    skip('a file only root reads needs a test run as root', 6) unless $> == 0;
    # read at startup as root, but libcurl reads it again in the worker
    my $t = server(sink_tls => 'starttls', conf => "JMAPSubmissionStartTLS required\n",
                   expected_errors => [qr/JM01194:/, qr/JM15052:/]);
    chmod 0600, $t->relay_pki_dir . '/ca.pem';
    $t->restart;
    # written by each child as it starts, which may be after the listener
    # answers: wait for it
    my $want = qr/JM01194: JMAPSubmissionCAFile \S+ is not readable by httpd's User/;
    for (1 .. 100) { last if $t->error_log =~ $want; select(undef, undef, undef, 0.1) }
    like($t->error_log, $want, 'a CA file only root reads: the error log says so at startup');
    my $sid = submit($t);
    my $ds = status_when($t, $sid, sub { ($_[0]{smtpReply} // '') =~ /^451 4\.7\.5/ });
    is($ds->{delivered}, 'queued', '... the submission stays queued');
    like($ds->{smtpReply} // '', qr/^451 4\.7\.5 The relay's TLS certificate could not be verified: /,
         '... with a reply saying why');
    like($t->error_log, qr/JM15052: relay \S+: the CA certificates in \S+ could not be used/,
         '... and the error log what to fix');
    is(scalar($t->sink_messages), 0, '... nothing relayed');
    $t->check_error_log;
    $t->stop;
}

done_testing;
