#!/usr/bin/perl
# JMAPReadOnlyUsers: isReadOnly in the session, accountReadOnly for writes
# (RFC 8620 §3.6.2), reads still work, other users unaffected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JMAPTest;

my $t = JMAPTest->new(pki => 0, smtp => 0, extra_conf => "JMAPReadOnlyUsers carol\n");

my $s = $t->session('carol');
my $acc = $t->account_id('carol');
ok($s && $s->{accounts}{$acc}, 'carol has an account');
ok($s->{accounts}{$acc}{isReadOnly}, 'carol: isReadOnly true');
my $sb = $t->session('bob');
my $bacc = $t->account_id('bob');
ok(!$sb->{accounts}{$bacc}{isReadOnly}, 'bob: isReadOnly false');
isnt($s->{state}, $sb->{state}, 'session states differ per user');

my $r = $t->api('carol', undef, [
    ['Email/set', { accountId => $acc, create => { k => { subject => 'x' } } }, 'w'],
    ['Mailbox/get', { accountId => $acc, properties => ['role'] }, 'r'],
]);
my $w = JMAPTest->response_for($r, 'w');
is($w->[0], 'error', 'Email/set on a read-only account is an error');
is($w->[1]{type}, 'accountReadOnly', '... accountReadOnly');
my $rd = JMAPTest->response_for($r, 'r');
is($rd->[0], 'Mailbox/get', 'reading still works');
is(scalar @{ $rd->[1]{list} }, 6, '... six mailboxes');
my $g = $t->api('carol', undef, [['Email/get', { accountId => $acc, ids => [] }, 'g']]);
is(JMAPTest->response_for($g, 'g')->[0], 'Email/get', 'Email/get is not a write');

my $rb = $t->api('bob', undef, [['Email/set', { accountId => $bacc }, 'w']]);
is(JMAPTest->response_for($rb, 'w')->[0], 'Email/set', 'bob may still write');

$t->check_error_log;
$t->stop;
done_testing;
