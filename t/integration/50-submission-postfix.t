# 50-submission-postfix.t — sending through a real MTA: EmailSubmission
# relays through a private Postfix (Debian's package, its own
# config_directory in a temp dir, loopback only, started and stopped by
# this test), which hands mail for example.com to httpd's LMTP listener:
# alice's submission to bob lands in bob's Inbox. The bytes bob gets are
# alice's blob without its Bcc field, under Postfix's Received field;
# smtpReply is Postfix's 250 with its queue id; Postfix logs status=sent.
# Skips (saying why) only when postfix is not installed or the test is not
# root (tools/install-deps installs it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(time sleep);
use JMAPTest;

my $POSTFIX = '/usr/sbin/postfix';
plan skip_all => "postfix is not installed (tools/install-deps installs postfix and swaks)"
    unless -x $POSTFIX && -x '/usr/lib/postfix/sbin/master';
plan skip_all => 'a private Postfix needs root (its queue belongs to the postfix user)'
    unless $> == 0;

my @USING = qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
               urn:ietf:params:jmap:submission);
my $smtp_port = JMAPTest::_free_port();
my $t = JMAPTest->new(smtp => 0, lmtp => "    JMAPLMTPDomains example.com\n",
                      extra_conf => "JMAPSubmissionURL smtp://127.0.0.1:$smtp_port\n"
                                  . "JMAPSubmissionStartTLS off\n");
my $ALICE = $t->account_id('alice');
my $BOB = $t->account_id('bob');
ok($ALICE && $BOB, 'alice and bob have accounts') or do { done_testing; exit };

# --- a private Postfix relaying example.com to our LMTP port ----------------------
my $D = tempdir('jmap-postfix-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{JMAP_TEST_KEEP});
chmod 0755, $D;                          # the postfix user walks into it
mkdir "$D/$_" for qw(etc spool data);
my (undef, undef, $pfuid, $pfgid) = getpwnam('postfix');
chown $pfuid, $pfgid, "$D/data";
my $lmtp_port = $t->lmtp_port;
open(my $in, '<', '/etc/postfix/master.cf') or die "master.cf: $!";
open(my $out, '>', "$D/etc/master.cf") or die;
while (<$in>) {
    # the smtpd on our loopback port, not chrooted (the spool is ours)
    s/^smtp\s+inet\s.*$/127.0.0.1:$smtp_port inet n - n - - smtpd/;
    print $out $_;
}
close $out;
open($out, '>', "$D/etc/main.cf") or die;
print $out <<"EOF";
compatibility_level = 3.6
queue_directory = $D/spool
data_directory = $D/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.jmaptest.invalid
mydestination =
relay_domains = example.com
transport_maps = inline:{ example.com=lmtp:inet:127.0.0.1:$lmtp_port }
# bounces (to example.org) go nowhere
default_transport = discard:test
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
maillog_file = $D/postfix.log
maillog_file_prefixes = $D
EOF
close $out;

sub postfix {
    my ($cmd) = @_;
    # its errors go to syslog, which is not there: a tty shows them
    my $o = `script -qc '$POSTFIX -c $D/etc $cmd' /dev/null 2>&1`;
    return ($? == 0, $o);
}
my ($started, $why) = postfix('start');
ok($started, 'a private Postfix started') or diag($why);
my $master;
END {
    if ($D && -d "$D/etc") {
        postfix('stop');
        my $pid = $master // (`cat $D/spool/pid/master.pid 2>/dev/null` =~ /(\d+)/)[0];
        kill 'TERM', $pid if $pid && kill 0, $pid;
    }
}
my $end = time + 10;
sleep 0.1 until (-s "$D/spool/pid/master.pid" && JMAPTest::_port_open($smtp_port)) || time > $end;
($master) = `cat $D/spool/pid/master.pid 2>/dev/null` =~ /(\d+)/;
ok(JMAPTest::_port_open($smtp_port), "Postfix's smtpd listens on 127.0.0.1:$smtp_port")
    or do { diag(`cat $D/postfix.log 2>/dev/null`); done_testing; exit };

sub api1 {
    my ($user, $name, $args) = @_;
    my $r = $t->api($user, \@USING, [[$name, $args, 'c']]);
    return $r ? $r->{methodResponses}[0][1] : {};
}

my $r = api1('alice', 'Identity/get', { accountId => $ALICE });
my ($ident) = map { $_->{id} } grep { $_->{email} eq 'alice@example.com' } @{ $r->{list} };
ok($ident, 'alice\'s identity');
my $word = 'postfixword' . int(rand(1e6));
my $res = $t->api('alice', \@USING, [
    ['Email/set', { accountId => $ALICE, create => { k => $t->text_draft('alice',
        subject => "via postfix $word", bcc => [{ email => 'carol@example.com' }],
        body => "Hello Bob,\n.\n..a line with dots\n") } }, 'e'],
    ['EmailSubmission/set', { accountId => $ALICE, create => { s => {
        identityId => $ident, emailId => '#k' } } }, 's']]);
my $eid = $res->{methodResponses}[0][1]{created}{k}{id};
my $sid = $res->{methodResponses}[1][1]{created}{s}{id};
ok($sid, 'submitted') or diag(explain($res));

# bob's Inbox gets it through Postfix and LMTP (generous: Postfix's queue manager)
my ($bob_id, $end2) = (undef, time + 60);
while (time < $end2 && !$bob_id) {
    my $q = api1('bob', 'Email/query', { accountId => $BOB, filter => { text => $word } });
    $bob_id = $q->{ids} && $q->{ids}[0];
    sleep 0.5 unless $bob_id;
}
ok($bob_id, 'the message is in bob\'s account') or diag(`cat $D/postfix.log`);

sub blob_of {
    my ($user, $acct, $id) = @_;
    my $g = api1($user, 'Email/get', { accountId => $acct, ids => [$id], properties => ['blobId'] });
    my $dl = $t->download($user, { accountId => $acct, blobId => $g->{list}[0]{blobId},
                                   name => 'm.eml', type => 'message/rfc822' });
    return $dl->{content};
}
SKIP: {
    skip 'not delivered', 3 unless $bob_id;
    my $sent = blob_of('alice', $ALICE, $eid);
    (my $nobcc = $sent) =~ s/^Bcc:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*//mi;
    my $got = blob_of('bob', $BOB, $bob_id);
    (my $body_of_got = $got) =~ s/\A(?:Received:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)+//;
    like($got, qr/\AReceived: from /, 'Postfix added its Received field on top');
    is($body_of_got, $nobcc, 'below it: alice\'s blob without its Bcc field, byte for byte');
    unlike($got, qr/carol/i, 'no Bcc address reached bob');
}
my $o;
my $end3 = time + 20;
while (time < $end3) {
    $o = api1('alice', 'EmailSubmission/get', { accountId => $ALICE, ids => [$sid] })->{list}[0];
    last if $o && $o->{undoStatus} eq 'final';
    sleep 0.3;
}
like($o->{deliveryStatus}{'bob@example.com'}{smtpReply}, qr/^250 2\.\d\.\d /,
     'smtpReply: Postfix\'s 250 for bob');
is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'unknown', 'relayed');
is($o->{undoStatus}, 'final', 'final');
my $log = '';
$end3 = time + 20;
while (time < $end3) {
    $log = `cat $D/postfix.log 2>/dev/null`;
    last if $log =~ /to=<bob\@example.com>.*status=sent/;
    sleep 0.3;
}
like($log, qr/to=<bob\@example.com>.*status=sent \(250 2\.0\.0 Delivered as Email/,
     'Postfix: bob sent over LMTP with our 250');
$t->check_error_log;
done_testing;
