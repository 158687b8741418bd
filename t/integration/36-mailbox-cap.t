# 36-mailbox-cap.t — JMAPMaxMailboxesPerAccount: Mailbox/set refuses a
# Mailbox past the per-account cap with the SetError overQuota (the other
# creations of the call are made), a destroy makes room again, the cap is
# per account, and a cap that is no positive integer stops the start.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $T = JSON::PP::true;
# a new account has six mailboxes (31-mailbox.t): room for two more
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                      extra_conf => "JMAPMaxMailboxesPerAccount 8\n");
my $ACCT = $t->account_id('alice') or do { fail('no session'); done_testing; exit };

sub mset {
    my ($user, $acc, %args) = @_;
    my $r = $t->api($user, undef, [['Mailbox/set', { accountId => $acc, %args }, 'c']]);
    my $resp = JMAPTest->response_for($r, 'c') || ['none', {}];
    is($resp->[0], 'Mailbox/set', 'Mailbox/set answered') or diag(explain($resp));
    return $resp->[1];
}
sub count {
    my ($user, $acc) = @_;
    my $r = $t->api($user, undef, [['Mailbox/get', { accountId => $acc, ids => undef,
                                                     properties => ['name'] }, 'g']]);
    return scalar @{ (JMAPTest->response_for($r, 'g') || [0, {}])->[1]{list} || [] };
}

is(count('alice', $ACCT), 6, 'six mailboxes to start with');
my $a = mset('alice', $ACCT, create => { m1 => { name => 'one' }, m2 => { name => 'two' },
                                         m3 => { name => 'three' } });
is(scalar(keys %{ $a->{created} || {} }), 2, 'two more fit under the cap of 8');
my ($over) = keys %{ $a->{notCreated} || {} };
ok($over, 'the third is refused') or diag(explain($a));
is($over && $a->{notCreated}{$over}{type}, 'overQuota', '... with overQuota');
like($over ? $a->{notCreated}{$over}{description} : '', qr/at most 8 mailboxes/,
     '... saying what the cap is');
is(count('alice', $ACCT), 8, 'eight mailboxes now');

$a = mset('alice', $ACCT, create => { m4 => { name => 'four' } });
is($a->{notCreated}{m4}{type}, 'overQuota', 'at the cap: overQuota again');
ok(!$a->{created}, '... nothing created');
is($a->{oldState}, $a->{newState}, '... the state did not move');

my $r = $t->api('alice', undef, [['Mailbox/query', { accountId => $ACCT,
                                                     filter => { name => 'one' } }, 'q']]);
my ($one) = @{ (JMAPTest->response_for($r, 'q') || [0, {}])->[1]{ids} || [] };
ok($one, "the mailbox 'one'") or diag(explain($r));
$a = mset('alice', $ACCT, destroy => [$one], create => { m5 => { name => 'five' } });
is_deeply($a->{destroyed}, [$one], 'one destroyed');
is($a->{notCreated}{m5}{type}, 'overQuota',
   '... creates run before destroys (RFC 8620 §5.3), so that create was still over the cap');
$a = mset('alice', $ACCT, create => { m6 => { name => 'six' } });
ok($a->{created}{m6}, 'after the destroy there is room for one');

# the cap is per account: bob's account starts with six of its own
my $BOB = $t->account_id('bob');
$a = mset('bob', $BOB, create => { b1 => { name => 'b1' }, b2 => { name => 'b2' } });
is(scalar(keys %{ $a->{created} || {} }), 2, "bob's account has its own room");

$t->check_error_log();
$t->stop;

for my $bad ('0', '-1', 'many') {
    my $x = eval { JMAPTest->new(smtp => 0, ldap => 0, pki => 0, quiet_start_failure => 1,
                                 extra_conf => "JMAPMaxMailboxesPerAccount $bad\n") };
    ok(!$x, "refused at startup: JMAPMaxMailboxesPerAccount $bad");
    like($@ // '', qr/JMAPMaxMailboxesPerAccount.*positive integer/, '... naming the directive')
        if !$x;
    $x->stop if $x;
}

done_testing;
