# 33-sync.t — a client that keeps a copy of the account follows what
# another client changes, through /changes and /queryChanges only
# (RFC 8620 §5.2, §5.6): it takes states, a second session changes
# mailboxes, keywords, memberships and emails, and the first client, from
# its states alone, ends exactly where a fresh full read is. On PostgreSQL
# the second session talks to a second httpd on the same database (two
# nodes), so states and change logs must agree across processes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $T = JSON::PP::true;
my $driver = $ENV{JMAP_TEST_DRIVER} || 'sqlite3';
my $t1 = JMAPTest->new(ldap => 0, pki => 0, smtp => 0);
my $t2 = $driver eq 'pgsql'
    ? JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                    db => { driver => 'pgsql', params => $t1->db_params })
    : $t1;
note($driver eq 'pgsql' ? 'two httpd on one PostgreSQL database' : 'two sessions, one httpd');
my $ACCT = $t1->account_id('alice') or do { fail('no session'); done_testing; exit };
is($t2->account_id('alice'), $ACCT, 'both nodes see the same account');

sub api {
    my ($t, @calls) = @_;
    my $r = $t->api('alice', undef, [map { [$_->[0], { accountId => $ACCT, %{ $_->[1] } }, "c$_"] }
                                     @calls]);
    return $r;
}

sub one {
    my ($t, $name, $args) = @_;
    my $r = $t->api('alice', undef, [[$name, { accountId => $ACCT, %$args }, 'c']]);
    my $resp = JMAPTest->response_for($r, 'c') or return { error => 'none' };
    return $resp->[0] eq 'error' ? { error => $resp->[1]{type} } : $resp->[1];
}

# The client's copy: objects by id, and the state it is at.
my %copy;
sub full_read {
    my ($t) = @_;
    my %c;
    my $m = one($t, 'Mailbox/get', { ids => undef });
    $c{Mailbox} = { map { ($_->{id} => $_) } @{ $m->{list} } };
    $c{MailboxState} = $m->{state};
    my $e = one($t, 'Email/get', { ids => undef, properties => [qw(id mailboxIds keywords threadId)] });
    $c{Email} = { map { ($_->{id} => $_) } @{ $e->{list} } };
    $c{EmailState} = $e->{state};
    my @tids = keys %{ { map { ($_->{threadId} => 1) } values %{ $c{Email} } } };
    my $th = one($t, 'Thread/get', { ids => \@tids });
    $c{Thread} = { map { ($_->{id} => $_) } @{ $th->{list} } };
    $c{ThreadState} = $th->{state};
    return \%c;
}

# /changes then /get of what changed, as a client does (§5.2).
sub catch_up {
    my ($t, $c, $type, @props) = @_;
    my $guard = 0;
    while ($guard++ < 100) {
        my $ch = one($t, "$type/changes", { sinceState => $c->{"${type}State"}, maxChanges => 3 });
        return fail("$type/changes: $ch->{error}") if $ch->{error};
        delete $c->{$type}{$_} for @{ $ch->{destroyed} };
        my @get = (@{ $ch->{created} }, @{ $ch->{updated} });
        if (@get) {
            my $g = one($t, "$type/get", { ids => \@get, @props ? (properties => \@props) : () });
            $c->{$type}{ $_->{id} } = $_ for @{ $g->{list} };
            delete $c->{$type}{$_} for @{ $g->{notFound} };
        }
        $c->{"${type}State"} = $ch->{newState};
        return 1 unless $ch->{hasMoreChanges};
    }
    fail("$type/changes did not end");
}

my $MB = { map { (($_->{role} // $_->{name}) => $_->{id}) }
           @{ one($t1, 'Mailbox/get', { ids => undef })->{list} } };

# a starting point with some mail
my $seed = $t1->email_set('alice', {
    map { ("s$_" => $t1->text_draft('alice', subject => "seed $_",
                                    mailboxIds => { $MB->{inbox} => $T }, keywords => {})) } 1 .. 5 });
is(scalar keys %{ $seed->{created} || {} }, 5, 'five emails to start with');

my $client = full_read($t1);
my @eq = ({ filter => { inMailbox => $MB->{inbox} }, sort => [{ property => 'receivedAt', isAscending => JSON::PP::false }] },
          { filter => { operator => 'NOT', conditions => [{ hasKeyword => '$seen' }] },
            sort => [{ property => 'subject' }, { property => 'size', isAscending => JSON::PP::false }] },
          { sort => [{ property => 'receivedAt' }] });
my @eq0 = map { one($t1, 'Email/query', $_) } @eq;
ok($_->{canCalculateChanges}, 'Email/query: canCalculateChanges') for @eq0;
my $qargs = { sort => [{ property => 'name' }], filter => { hasAnyRole => JSON::PP::false } };
my $q0 = one($t1, 'Mailbox/query', $qargs);
my @qids = @{ $q0->{ids} };

# --- the other session changes things --------------------------------------------
my @seed = map { $seed->{created}{"s$_"}{id} } 1 .. 5;
my $s = one($t2, 'Mailbox/set', { create => { f => { name => 'Folder' }, g => { name => 'Another' } } });
my $F = $s->{created}{f}{id};
ok($F && $s->{created}{g}, 'node 2: two mailboxes') or diag(explain($s));
$s = one($t2, 'Mailbox/set', { update => { $s->{created}{g}{id} => { name => 'Zzz' } } });
my $e = one($t2, 'Email/set', {
    update => { $seed[0] => { 'keywords/$seen' => $T },
                $seed[1] => { mailboxIds => { $F => $T } },
                $seed[2] => { "mailboxIds/$F" => $T, 'keywords/$flagged' => $T } },
    destroy => [$seed[3]] });
is(scalar keys %{ $e->{updated} || {} }, 3, 'node 2: three emails updated') or diag(explain($e));
is_deeply($e->{destroyed}, [$seed[3]], 'node 2: one destroyed');
my $more = $t2->email_set('alice', { n1 => $t2->text_draft('alice', mailboxIds => { $F => $T }) });
ok($more->{created}{n1}, 'node 2: a new email');
$s = one($t2, 'Mailbox/set', { destroy => [$MB->{junk}] });
is_deeply($s->{destroyed}, [$MB->{junk}], 'node 2: junk destroyed');

# --- the first client catches up, from node 1 ------------------------------------
ok(catch_up($t1, $client, 'Mailbox'), 'Mailbox/changes');
ok(catch_up($t1, $client, 'Email', qw(id mailboxIds keywords threadId)), 'Email/changes');
ok(catch_up($t1, $client, 'Thread'), 'Thread/changes');
my $fresh = full_read($t1);
for my $type (qw(Mailbox Email Thread)) {
    is_deeply($client->{$type}, $fresh->{$type}, "$type: the copy equals a fresh read");
    is($client->{"${type}State"}, $fresh->{"${type}State"}, "$type: at the current state");
}
is($fresh->{Mailbox}{$F}{totalEmails}, 3, 'Folder counts the three emails node 2 put there');
is($fresh->{Mailbox}{ $MB->{inbox} }{totalEmails}, 3, 'the inbox lost two');

my $qc = one($t1, 'Mailbox/queryChanges', { %$qargs, sinceQueryState => $q0->{queryState} });
ok(!$qc->{error}, 'Mailbox/queryChanges') or diag(explain($qc));
my %rm = map { $_ => 1 } @{ $qc->{removed} || [] };
my @l = grep { !$rm{$_} } @qids;
splice(@l, $_->{index}, 0, $_->{id}) for sort { $a->{index} <=> $b->{index} } @{ $qc->{added} || [] };
is_deeply(\@l, one($t1, 'Mailbox/query', $qargs)->{ids}, 'the query results follow too');

for my $i (0 .. $#eq) {
    my $r = one($t1, 'Email/queryChanges', { %{ $eq[$i] }, sinceQueryState => $eq0[$i]{queryState},
                                             calculateTotal => $T });
    ok(!$r->{error}, "Email/queryChanges $i") or diag(explain($r));
    my %rmv = map { $_ => 1 } @{ $r->{removed} || [] };
    my @have = grep { !$rmv{$_} } @{ $eq0[$i]{ids} };
    splice(@have, $_->{index}, 0, $_->{id}) for sort { $a->{index} <=> $b->{index} } @{ $r->{added} || [] };
    my $now = one($t1, 'Email/query', $eq[$i]);
    is_deeply(\@have, $now->{ids}, "Email query $i: removed + added give the current results");
    is($r->{newQueryState}, $now->{queryState}, "Email query $i: at the current state");
    is($r->{total}, scalar @{ $now->{ids} }, "Email query $i: total");
}
my $cq = one($t1, 'Email/query', { collapseThreads => $T });
ok(!$cq->{canCalculateChanges}, 'collapseThreads: canCalculateChanges false');
is(one($t1, 'Email/queryChanges', { collapseThreads => $T, sinceQueryState => $cq->{queryState} })->{error},
   'cannotCalculateChanges', 'and Email/queryChanges says cannotCalculateChanges');
my $tq = one($t1, 'Email/query', { filter => { someInThreadHaveKeyword => '$seen' } });
ok(!$tq->{canCalculateChanges}, 'a thread-keyword filter: canCalculateChanges false');
is(one($t1, 'Email/queryChanges', { sinceQueryState => 'x' })->{error}, 'cannotCalculateChanges',
   'an unknown query state: cannotCalculateChanges');
is(one($t1, 'Email/queryChanges', { sinceQueryState => $eq0[0]{queryState}, maxChanges => 1,
                                    %{ $eq[0] } })->{error}, 'tooManyChanges', 'maxChanges 1: tooManyChanges');

# both nodes agree on every state
for my $type (qw(Mailbox Email Thread)) {
    is(one($t2, "$type/get", { ids => [] })->{state}, $fresh->{"${type}State"},
       "$type state is the same on both nodes");
}

$t2->check_error_log if $t2 != $t1;
$t2->stop if $t2 != $t1;
$t1->check_error_log;
$t1->stop;
done_testing;
