#!/usr/bin/perl
# The directory unreachable is a retryable condition, never "not found" and
# never a silent downgrade: Identity/get answers serverUnavailable (method
# level), Email/set with smimeSign answers a per-email serverUnavailable
# (the sending authorisation cannot be checked), and nothing is stored.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use JMAPTest;

# a port nothing listens on
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1);
my $closed = $sock->sockport;
close $sock;

my $t = JMAPTest->new(smtp => 0,
    directives => { JMAPLDAPURL => "ldap://127.0.0.1:$closed" },
    extra_conf => "JMAPLDAPTimeout 1\n",
    expected_errors => [qr/JM0(1040|1050|3001)/]);
my $acc = $t->account_id('alice');
my $using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail',
             'urn:ietf:params:jmap:submission'];

my $r = $t->api('alice', $using, [['Identity/get', { accountId => $acc }, 'i']]);
my $i = JMAPTest->response_for($r, 'i');
is($i->[0], 'error', 'Identity/get with the directory down is an error');
is($i->[1]{type}, 'serverUnavailable', '... serverUnavailable (retryable)');

my $T = JSON::PP::true;
my $start = time;
my $s = [ 'Email/set', $t->email_set('alice', { k => {
    mailboxIds => { $t->mailbox_id('alice', 'drafts') => $T },
    from => [{ email => 'alice@example.com' }],
    to => [{ email => 'bob@example.com' }], subject => 'x', smimeSign => $T,
    textBody => [{ partId => 't', type => 'text/plain' }],
    bodyValues => { t => { value => 'hi' } } } }) ];
is($s->[1]{notCreated}{k}{type}, 'serverUnavailable', 'signing: per-email serverUnavailable');
ok(!$s->[1]{created}, 'nothing created');
ok(time - $start <= 6, 'answered within the bounded timeout');
my $g = $t->api('alice', undef, [['Email/get', { accountId => $acc, ids => undef }, 'g']]);
is(scalar @{ JMAPTest->response_for($g, 'g')->[1]{list} }, 0, 'no email stored');

$t->check_error_log(qr/JM0(1040|1050|3001)/);
$t->stop;
done_testing;
