#!/usr/bin/perl
# JMAPSubmission* directives are checked when httpd starts: bad URLs and
# keywords, numbers out of range, relay settings in a <VirtualHost>, and
# an AUTH file that others may read are refused with a message naming the
# directive, and so is a CA file that is missing, not a file or holds no
# certificate; a private AUTH file and a CA file start. Without a relay,
# a submission is forbiddenToSend.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use JMAPTest;

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
open(my $f, '>', "$dir/open.auth") or die;
print $f "relayuser:secret\n";
close $f;
chmod 0644, "$dir/open.auth";
open($f, '>', "$dir/bad.auth") or die;
print $f "no colon here\n";
close $f;
chmod 0600, "$dir/bad.auth";
open($f, '>', "$dir/notca.pem") or die;
print $f "this is no certificate\n";
close $f;
chmod 0644, "$dir/notca.pem";
open($f, '>', "$dir/unreadable.pem") or die;
print $f "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
close $f;
chmod 0000, "$dir/unreadable.pem";
mkdir "$dir/ca.d";
system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
       '-nodes', '-keyout', "$dir/ca.key", '-out', "$dir/ca.pem", '-days', '2',
       '-subj', '/CN=49 relay CA', '-batch') == 0 or die "openssl req failed\n";
chmod 0644, "$dir/ca.pem";

my @cases = (
    [ 'JMAPSubmissionURL http://relay.example',       qr/JMAPSubmissionURL.*not smtp/ ],
    [ 'JMAPSubmissionURL smtp://user:pw@relay.example', qr/JMAPSubmissionURL.*credentials/ ],
    [ 'JMAPSubmissionURL smtp://relay.example/path',  qr/JMAPSubmissionURL/ ],
    [ 'JMAPSubmissionStartTLS maybe',                 qr/JMAPSubmissionStartTLS: required, optional or off/ ],
    [ "JMAPSubmissionAuthFile $dir/open.auth",        qr/JMAPSubmissionAuthFile: .*readable by all users/ ],
    [ "JMAPSubmissionAuthFile $dir/bad.auth",         qr/JMAPSubmissionAuthFile: .*user:password/ ],
    [ "JMAPSubmissionAuthFile /nonexistent/relay.auth", qr/JMAPSubmissionAuthFile: cannot read/ ],
    [ 'JMAPSubmissionCAFile /nonexistent/relay-ca.pem', qr/JMAPSubmissionCAFile: cannot read \/nonexistent\/relay-ca\.pem: No such file/ ],
    [ "JMAPSubmissionCAFile $dir/ca.d",               qr/JMAPSubmissionCAFile: \S+ca\.d is not a file/ ],
    [ "JMAPSubmissionCAFile $dir/notca.pem",          qr/JMAPSubmissionCAFile: \S+notca\.pem holds no PEM certificate/ ],
    # root reads any file: the child's check (51-submission-tls-auth.t) covers it
    ($> ? [ "JMAPSubmissionCAFile $dir/unreadable.pem", qr/JMAPSubmissionCAFile: cannot read \S+unreadable\.pem: Permission denied/ ] : ()),
    [ 'JMAPSubmissionTimeout 0',                      qr/JMAPSubmissionTimeout: "0" is not a positive/ ],
    [ 'JMAPSubmissionMaxDelayedSend -1',              qr/JMAPSubmissionMaxDelayedSend: "-1" is not a non-negative/ ],
    [ 'JMAPSubmissionMaxRecipients lots',             qr/JMAPSubmissionMaxRecipients/ ],
);
for my $c (@cases) {
    my ($line, $want) = @$c;
    my $t = eval { JMAPTest->new(smtp => 0, ldap => 0, quiet_start_failure => 1,
                                 extra_conf => "$line\n") };
    ok(!$t, "refused at startup: $line");
    like($@ // '', $want, '... with a message naming the problem') if !$t;
    $t->stop if $t;
}

# relay settings belong to the main server (the worker serves every account)
my $v = eval { JMAPTest->new(smtp => 0, ldap => 0, quiet_start_failure => 1,
                             vhosts => ["JMAPSubmissionURL smtp://127.0.0.1:25\n"]) };
ok(!$v, 'JMAPSubmissionURL in a <VirtualHost> is refused');
like($@ // '', qr/JMAPSubmissionURL: the queue worker sends through the main server/,
     '... naming why') if !$v;
$v->stop if $v;
$v = eval { JMAPTest->new(smtp => 0, ldap => 0, quiet_start_failure => 1,
                          vhosts => ["JMAPSubmissionCAFile $dir/ca.pem\n"]) };
ok(!$v, 'JMAPSubmissionCAFile in a <VirtualHost> is refused');
like($@ // '', qr/JMAPSubmissionCAFile: the queue worker sends through the main server/,
     '... naming why') if !$v;
$v->stop if $v;

# a private AUTH file starts; limits may differ per <VirtualHost>
chmod 0600, "$dir/open.auth";
my $t = eval { JMAPTest->new(extra_conf => "JMAPSubmissionAuthFile $dir/open.auth\n"
                                                   . "JMAPSubmissionCAFile $dir/ca.pem\n"
                                                   . "JMAPSubmissionRetryTime 3\n",
                             vhosts => ["JMAPSubmissionMaxDelayedSend 0\n"]) };
ok($t, 'a private AUTH file and a CA file start') or diag($@);
if ($t) {
    my $acct = $t->account_id('alice');
    my $s = $t->session('alice');
    is($s->{accounts}{$acct}{accountCapabilities}{'urn:ietf:params:jmap:submission'}{maxDelayedSend},
       86400, 'main server: the default maxDelayedSend');
    my $r = $t->request('GET', $t->vhost_url(0) . '/jmap/session', 'alice');
    my $vs = eval { decode_json($r->{content}) } || {};
    my $vc = $vs->{accounts}{$acct}{accountCapabilities}{'urn:ietf:params:jmap:submission'} || {};
    is($vc->{maxDelayedSend}, 0, 'the vhost: maxDelayedSend 0');
    is_deeply($vc->{submissionExtensions}, {}, '... and no FUTURERELEASE');

    # a recipient that only gets 4xx is given up after the retry time
    my $using = [qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
                    urn:ietf:params:jmap:submission)];
    $r = $t->api('alice', $using, [['Identity/get', { accountId => $acct }, 'i']]);
    my ($ident) = map { $_->{id} } grep { $_->{email} eq 'alice@example.com' }
                  @{ $r->{methodResponses}[0][1]{list} };
    $r = $t->api('alice', $using, [
        ['Email/set', { accountId => $acct, create => { k => $t->text_draft('alice') } }, 'e'],
        ['EmailSubmission/set', { accountId => $acct, create => { s => {
            identityId => $ident, emailId => '#k', envelope => {
                mailFrom => { email => 'alice@example.com' },
                rcptTo => [{ email => 'defer-always@example.net' },
                           { email => 'bob@example.com' }] } } } }, 's']]);
    my $sid = $r->{methodResponses}[1][1]{created}{s}{id};
    ok($sid, 'submitted (the relay offers no AUTH: sent without)') or diag(explain($r));
    my ($o, $end) = (undef, time + 20);
    while (time < $end) {
        $r = $t->api('alice', $using, [['EmailSubmission/get', { accountId => $acct,
                                                                 ids => [$sid] }, 'g']]);
        $o = $r->{methodResponses}[0][1]{list}[0];
        last if $o && $o->{deliveryStatus}{'defer-always@example.net'}{delivered} ne 'queued';
        sleep 1;
    }
    is($o->{deliveryStatus}{'defer-always@example.net'}{delivered}, 'no',
       'deferred past the retry time: no');
    like($o->{deliveryStatus}{'defer-always@example.net'}{smtpReply},
         qr/^550 5\.4\.7 Delivery time expired after 3 seconds; last reply: 451 4\.2\.0 /,
         '... with the reason and the last reply');
    is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'unknown', 'the other relayed at once');
    is($o->{undoStatus}, 'final', 'final');
    my @m = $t->sink_messages;
    is(scalar @m, 1, 'one message at the relay');
    $t->check_error_log;
    $t->stop;
}

# no relay: forbiddenToSend
my $n = JMAPTest->new(smtp => 0, ldap => 0);
my $acct = $n->account_id('alice');
my $using = [qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail urn:ietf:params:jmap:submission)];
my $r = $n->api('alice', $using, [['Identity/get', { accountId => $acct }, 'i']]);
my $ident = $r->{methodResponses}[0][1]{list}[0]{id};
$r = $n->api('alice', $using, [
    ['Email/set', { accountId => $acct, create => { k => $n->text_draft('alice') } }, 'e'],
    ['EmailSubmission/set', { accountId => $acct, create => { s => {
        identityId => $ident // 'Ix', emailId => '#k' } } }, 's']]);
is($r->{methodResponses}[1][1]{notCreated}{s}{type}, 'forbiddenToSend',
   'no relay configured: forbiddenToSend');
is($n->session('alice')->{accounts}{$acct}{accountCapabilities}
   {'urn:ietf:params:jmap:submission'}{maxDelayedSend}, 0, 'and maxDelayedSend 0');
$n->check_error_log;
$n->stop;
done_testing;
