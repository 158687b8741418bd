# 41-lmtp-postfix.t — delivery through a real MTA: a private Postfix
# (Debian's package; its own config_directory in a temp dir, loopback
# only, started and stopped by this test) takes a message over SMTP for
# alice, bob and an unknown user and relays it with its lmtp: transport
# into httpd's LMTP listener. Postfix must log status=sent with our 250 for
# alice and bob and bounce the unknown user on our 550 5.1.1; the message
# is read back with Email/get (Postfix's Received field on top of the bytes
# sent, dots intact). swaks speaks LMTP to the listener directly too.
# Skips (saying why) only when postfix is not installed (tools/install-deps
# installs it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Temp qw(tempdir);
use Net::SMTP;
use Time::HiRes qw(time sleep);
use JMAPTest;

my $POSTFIX = '/usr/sbin/postfix';
plan skip_all => "postfix is not installed (tools/install-deps installs postfix and swaks)"
    unless -x $POSTFIX && -x '/usr/lib/postfix/sbin/master';
plan skip_all => 'a private Postfix needs root (its queue belongs to the postfix user)'
    unless $> == 0;

my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                      lmtp => "    JMAPLMTPDomains example.com\n");
my $ALICE = $t->account_id('alice');
my $BOB = $t->account_id('bob');
ok($ALICE && $BOB, 'alice and bob have accounts') or do { done_testing; exit };

# --- a private Postfix relaying example.com to our LMTP port ----------------------
my $D = tempdir('jmap-postfix-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{JMAP_TEST_KEEP});
chmod 0755, $D;                          # the postfix user walks into it
mkdir "$D/$_" for qw(etc spool data);
my (undef, undef, $pfuid, $pfgid) = getpwnam('postfix');
chown $pfuid, $pfgid, "$D/data";
my $smtp_port = JMAPTest::_free_port();
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
    my $r = $t->api($user, undef, [[$name, $args, 'c']]);
    return $r ? $r->{methodResponses}[0][1] : {};
}

sub search {
    my ($user, $acct, $word) = @_;
    return api1($user, 'Email/query', { accountId => $acct, filter => { text => $word } })
        ->{ids} || [];
}

sub wait_for {
    my ($user, $acct, $word) = @_;
    my $end = time + 30;
    while (time < $end) {
        my $ids = search($user, $acct, $word);
        return $ids->[0] if @$ids;
        sleep 0.2;
    }
    return undef;
}

sub blob_of {
    my ($user, $acct, $id) = @_;
    my $e = api1($user, 'Email/get', { accountId => $acct, ids => [$id],
                                       properties => ['blobId'] })->{list}[0] or return '';
    my $res = $t->download($user, { accountId => $acct, blobId => $e->{blobId},
                                    name => 'm.eml', type => 'message/rfc822' });
    return $res->{status} == 200 ? $res->{content} : "(status $res->{status})";
}

# --- SMTP into Postfix, LMTP out of it ---------------------------------------------------
my $word = "postfixquokka$$";
my $msg = "From: Sender <sender\@example.org>\r\nTo: alice\@example.com\r\n"
        . "Subject: via Postfix $word\r\nMessage-ID: <pf.$$\@example.org>\r\n"
        . "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"
        . "Through a real MTA.\r\n.a line with a leading dot\r\n..\r\nend\r\n";
my $smtp = Net::SMTP->new("127.0.0.1:$smtp_port", Timeout => 20)
    or BAIL_OUT("cannot connect to Postfix: $@");
ok($smtp->mail('sender@example.org'), 'MAIL');
ok($smtp->to('alice@example.com', 'bob@example.com', 'nobody@example.com'),
   'RCPT alice, bob, nobody (Postfix accepts for relay_domains)');
ok($smtp->data($msg), 'DATA (Net::SMTP dot-stuffs)');
$smtp->quit;

my $ida = wait_for('alice', $ALICE, $word);
ok($ida, 'the message reached alice\'s account');
my $idb = wait_for('bob', $BOB, $word);
ok($idb, '... and bob\'s');
my $e = $ida ? api1('alice', 'Email/get', { accountId => $ALICE, ids => [$ida],
                                             properties => [qw(mailboxIds subject)] })->{list}[0]
             : {};
my $inbox = $t->mailbox_id('alice', 'inbox');
is_deeply($e->{mailboxIds}, { $inbox => JSON::PP::true }, 'in the Inbox');
is($e->{subject}, "via Postfix $word", 'subject');
my $blob = $ida ? blob_of('alice', $ALICE, $ida) : '';
like($blob, qr/\AReceived: from /, 'Postfix\'s Received field on top');
is(substr($blob, -length($msg)), $msg, 'then the bytes sent, dots intact after two stuffings');

# Postfix's own account of it
my $log = '';
$end = time + 15;
while (time < $end) {
    $log = `cat $D/postfix.log 2>/dev/null`;
    last if $log =~ /to=<nobody\@example.com>.*status=bounced/;
    sleep 0.2;
}
like($log, qr/to=<alice\@example.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$lmtp_port.*status=sent \(250 2\.0\.0 Delivered as Email \Q$ida\E\)/,
     'Postfix: alice sent with our 250') or diag($log);
like($log, qr/to=<bob\@example.com>.*status=sent \(250 2\.0\.0 Delivered as Email/,
     'Postfix: bob sent');
like($log, qr/to=<nobody\@example.com>.*status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 /,
     'Postfix: the unknown user bounced on our 550 5.1.1');
unlike($log, qr/status=deferred/, 'nothing deferred');

# --- swaks straight to the LMTP listener ---------------------------------------------------
SKIP: {
    skip 'swaks is not installed', 2 unless -x '/usr/bin/swaks';
    my $o = `swaks --server 127.0.0.1:$lmtp_port --protocol LMTP --from s\@example.org --to bob\@example.com --header 'Subject: swaks $word' --body 'swaks body' 2>&1`;
    like($o, qr/<-  250 2\.0\.0 Delivered as Email M\w+/, 'swaks --protocol LMTP: 250') or diag($o);
    ok(grep({ 1 } @{ search('bob', $BOB, 'swaks') }), 'the swaks message is in bob\'s account');
}

$t->check_error_log;
done_testing;
