#!/usr/bin/perl
# httpd stops while the submission worker is in a session with the relay.
# mod_watchdog never joins its thread in a child, so the child waits for
# the worker's pass itself (a pre-cleanup of its pool):
#   - a session that has sent nothing of the message (here: a relay that
#     accepts the connection and never greets) is abandoned at once and
#     recorded as not sent, so the next worker tries again after the usual
#     backoff instead of after the lease;
#   - a session that has handed over the message (here: the sink saved it
#     and holds its reply back) runs to its end and its 250 is recorded, so
#     the message is not sent a second time after the restart.
# Under the sanitizer pass either stop must leave no report.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use JMAPTest;

my @USING = qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
               urn:ietf:params:jmap:submission);

# the lease would be 5 + 60 + 10 s: far longer than any wait below
my $t = JMAPTest->new(ldap => 0, pki => 0,
                      extra_conf => "JMAPSubmissionConnectTimeout 5\n"
                                  . "JMAPSubmissionTimeout 60\n"
                                  . "JMAPSubmissionRetryTime 600\n");
my $acct = $t->account_id('alice');

sub call {
    my (@calls) = @_;
    my $r = $t->api('alice', \@USING, \@calls);
    return $r ? $r->{methodResponses} : [];
}

sub slurp { open(my $f, '<:raw', $_[0]) or return ''; local $/; my $d = <$f>; $d }

my $rs = call(['Identity/get', { accountId => $acct }, 'i']);
# without the directory, JMAPSendAs gives alice one identity
my ($IA) = map { $_->{id} } grep { $_->{email} eq 'sales@example.com' }
           @{ $rs->[0][1]{list} || [] };
ok($IA, 'alice has an identity') or BAIL_OUT('no identity: ' . explain($rs));

sub submit {
    my ($subject) = @_;
    my $rs = call(['Email/set', { accountId => $acct,
                                  create => { k => $t->text_draft('alice', subject => $subject,
                                      from => [{ name => 'Sales', email => 'sales@example.com' }]) } }, 'e'],
                  ['EmailSubmission/set', { accountId => $acct, create => { s => {
                      identityId => $IA, emailId => '#k' } } }, 's']);
    my $sid = $rs->[1] && $rs->[1][1]{created}{s}{id};
    ok($sid, "submitted ($subject)") or diag(explain($rs));
    return $sid;
}

sub bob_status {
    my ($sid) = @_;
    my $rs = call(['EmailSubmission/get', { accountId => $acct, ids => [$sid] }, 'g']);
    return ($rs->[0][1]{list}[0] || {})->{deliveryStatus}{'bob@example.com'} || {};
}

# bob's status once $done says so, or the last one after $secs
sub status_when {
    my ($sid, $done, $secs) = @_;
    my $end = time + $secs;
    my $st;
    while (time < $end) {
        $st = bob_status($sid);
        return $st if $done->($st);
        sleep 0.2;
    }
    return $st;
}

# ---- the relay accepts the connection and never greets --------------------
$t->stop_sink;
my $held = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $t->smtp_port,
                                 Listen => 5, ReuseAddr => 1)
    or BAIL_OUT("cannot listen on the relay's port " . $t->smtp_port . ": $!");
my $sid = submit('held');
# the kernel completes the connection; the worker then waits for the 220
ok(IO::Select->new($held)->can_read(15), 'the worker connected to the relay');
my $conn = $held->accept;
ok($conn, '... which holds the connection silently');
my $log0 = length $t->error_log;
my $t0 = time;
$t->stop_httpd;                     # graceful; SIGTERM only after 15 s
my $stop_secs = sprintf '%.1f', time - $t0;
my $log = substr($t->error_log, $log0);
like($log, qr/JM15002: submission \Q$sid\E \(Message-ID <[^>]+>\) from <sales\@example\.com>: no reply; httpd is stopping; the attempt was abandoned before any of the message was sent/,
     'the stop abandoned the session and logged it');
unlike($log, qr/JM01195:/, '... without waiting for the relay (no timeout warning)');
ok($stop_secs < 15, "... and httpd stopped gracefully ($stop_secs s; the relay's timeout is 60 s)");
$t->start_httpd;
my $st = bob_status($sid);
is($st->{delivered}, 'queued', 'after the restart: still queued');
like($st->{smtpReply} // '', qr/^451 4\.3\.2 Not sent: the server was stopping; nothing was sent/,
     '... with a reply saying why') or diag(explain($st));
close $conn;
close $held;
$t->start_sink;
# the next attempt is due after the backoff (1 s, 2 s ...), not the lease
my $done = sub { ($_[0]{delivered} // '') ne 'queued' };
$st = status_when($sid, $done, 30);
is($st->{delivered}, 'unknown', 'relayed after the restart, well before the lease ran out');
like($st->{smtpReply} // '', qr/^250\b/, '... with the relay\'s 250');
is(scalar(() = $t->sink_messages), 1, '... once');
$t->check_error_log;

# ---- the relay has the message and holds its reply back -------------------
my $delay = $t->sink_dir . '/delay-data';
open(my $dh, '>', $delay) or die "$delay: $!";
print $dh "4\n";
close $dh;
$sid = submit('in flight');
my @m = $t->wait_sink_messages(2, 20);
is(scalar @m, 2, 'the relay saved the message (its reply is held back 4 s)');
$log0 = length $t->error_log;
$t->stop_httpd;
unlink $delay;
$log = substr($t->error_log, $log0);
like($log, qr/JM15002: submission \Q$sid\E \(Message-ID <[^>]+>\) from <sales\@example\.com>: 250 /,
     'the stop waited for the relay\'s reply and logged it');
$t->start_httpd;
$st = bob_status($sid);
is($st->{delivered}, 'unknown', 'after the restart: recorded as relayed');
like($st->{smtpReply} // '', qr/^250\b/, '... with the relay\'s 250');
sleep 3;                            # a wrongly kept claim would be retried
is(scalar(() = $t->sink_messages), 2, 'not sent again');
is(slurp($t->sink_dir . '/duplicates.log'), '', '... the relay saw no second attempt');
$t->check_error_log;
$t->stop;
done_testing;
