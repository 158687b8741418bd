# 43-multinode.t — three httpd nodes on one PostgreSQL database, as
# behind a load balancer: nodes A and C change alice's account at the
# same time (Email/set creates, moves between mailboxes by mailboxIds,
# destroys, and LMTP deliveries on A), node B follows through an
# EventSource and through /changes and /queryChanges only. Checks: the
# StateChange events B pushes arrive, their states only grow and end at
# the final states; B's Email/changes walked from the start (a few
# changes at a time) lists every email exactly once and ends where a fresh
# read is; B's Email/queryChanges on the Inbox turns the old result into
# the new one; Mailbox/changes names the mailboxes whose counts moved.
# PostgreSQL only (JMAP_TEST_DRIVER=pgsql): nodes need a shared database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use JSON::PP;
use JMAPTest;
use JMAPEventSource;

my $driver = $ENV{JMAP_TEST_DRIVER} || 'sqlite3';
plan skip_all => "several nodes need a shared PostgreSQL database (runs with "
               . "JMAP_TEST_DRIVER=pgsql, in the suite's PostgreSQL pass)"
    unless $driver eq 'pgsql';

my $T = JSON::PP::true;
my %common = (ldap => 0, pki => 0, smtp => 0);
my $na = JMAPTest->new(%common, lmtp => "    JMAPLMTPDomains example.com\n");
my $db = { driver => 'pgsql', params => $na->db_params };
my $nb = JMAPTest->new(%common, db => $db);
my $nc = JMAPTest->new(%common, db => $db);
my $ACC = $na->account_id('alice');
ok($ACC && $nb->account_id('alice') eq $ACC && $nc->account_id('alice') eq $ACC,
   'three nodes, one account') or do { done_testing; exit };

sub one {
    my ($t, $name, $args) = @_;
    my $r = $t->api('alice', undef, [[$name, { accountId => $ACC, %$args }, 'c']]);
    my $resp = $r && JMAPTest->response_for($r, 'c') or return { error => 'none' };
    return $resp->[0] eq 'error' ? { error => $resp->[1]{type}, %{ $resp->[1] } } : $resp->[1];
}

my $INBOX = $na->mailbox_id('alice', 'inbox');
my $ARCHIVE = $na->mailbox_id('alice', 'archive');
my $inq = { filter => { inMailbox => $INBOX }, sort => [{ property => 'receivedAt', isAscending => JSON::PP::false }] };

# B's starting point
my $q0 = one($nb, 'Email/query', $inq);
my $e0 = one($nb, 'Email/get', { ids => [] })->{state};
my $m0 = one($nb, 'Mailbox/get', { ids => [] })->{state};
ok(defined $e0 && defined $m0 && defined $q0->{queryState}, 'node B: starting states');
my $es = JMAPEventSource->open($nb->port, 'alice', 'types=*&closeafter=no&ping=0');
is($es->{status}, 200, 'node B: event source open');

# A and C write at the same time (a child process drives C)
sub writer {
    my ($t, $tag, $n, $lmtp) = @_;
    my (@kept, @gone);
    for my $i (1 .. $n) {
        my $r = one($t, 'Email/set', { create => { k => {
            mailboxIds => { $INBOX => $T }, subject => "$tag $i",
            from => [{ email => 'alice@example.com' }],
            textBody => [{ partId => 't', type => 'text/plain' }],
            bodyValues => { t => { value => "node $tag message $i" } } } } });
        my $id = $r->{created}{k}{id} or next;
        if ($i % 3 == 0) {          # moved to the Archive
            one($t, 'Email/set', { update => { $id => { mailboxIds => { $ARCHIVE => $T } } } });
        }
        if ($i % 4 == 0) {          # destroyed
            one($t, 'Email/set', { destroy => [$id] });
            push @gone, $id;
            next;
        }
        push @kept, $id;
        if ($lmtp && $i % 2 == 0) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $na->lmtp_port,
                                          Proto => 'tcp', Timeout => 20) or next;
            my $rd = sub { while (defined(my $l = <$s>)) { return $l if $l =~ /^\d{3} / } '' };
            $rd->();
            print $s "LHLO t\r\nMAIL FROM:<x\@example.org>\r\nRCPT TO:<alice\@example.com>\r\nDATA\r\n";
            $rd->() for 1 .. 4;
            print $s "Subject: lmtp $tag $i\r\nMessage-ID: <$tag.$i.$$\@x>\r\n\r\nDelivered.\r\n.\r\n";
            $rd->();
            print $s "QUIT\r\n";
        }
    }
    return (\@kept, \@gone);
}

my $N = 12;
pipe(my $rfh, my $wfh) or die;
my $pid = fork // die "fork: $!";
if (!$pid) {
    close $rfh;
    my ($k, $g) = writer($nc, 'C', $N, 0);
    print $wfh JSON::PP->new->encode({ kept => $k, gone => $g });
    close $wfh;
    POSIX::_exit(0);
}
close $wfh;
my ($ka, $ga) = writer($na, 'A', $N, 1);
my $fromc = JSON::PP->new->decode(do { local $/; <$rfh> } || '{}');
waitpid($pid, 0);
my @kept = (@$ka, @{ $fromc->{kept} || [] });
my @gone = (@$ga, @{ $fromc->{gone} || [] });
is(scalar(@kept) + scalar(@gone), 2 * $N, "A and C made their $N emails each");

# final states, read on node A
my $ef = one($na, 'Email/get', { ids => [] })->{state};
my $mf = one($na, 'Mailbox/get', { ids => [] })->{state};

# B's events: states only grow, and reach the final ones
my (%last, @bad);
my $end = time + 10;
while (time < $end && !(($last{Email} // -1) == $ef && ($last{Mailbox} // -1) == $mf)) {
    my $ev = $es->next_named('state', $end - time) or last;
    my $ch = $ev->{json}{changed}{$ACC} or next;
    for my $type (keys %$ch) {
        push @bad, "$type $ch->{$type} after $last{$type}"
            if defined $last{$type} && $ch->{$type} <= $last{$type};
        $last{$type} = $ch->{$type};
    }
}
is_deeply(\@bad, [], 'node B: every pushed state is higher than the one before');
is($last{Email}, $ef, 'node B: the last pushed Email state is the final one');
is($last{Mailbox}, $mf, 'node B: so is the Mailbox state');
ok($last{EmailDelivery}, 'node B: EmailDelivery was pushed for the LMTP deliveries on A');
$es->close;

# B's Email/changes from the start, a few at a time. A page collapses the
# changes of its window (created then moved: created; created then
# destroyed within one window: left out, RFC 8620 §5.2), so per email:
# created exactly once, destroyed at most once and only after its
# creation was told (or never told at all), never two lists in one page.
my (%created, %destroyed, @dups);
my ($since, $steps) = ($e0, 0);
while ($steps++ < 500) {
    my $r = one($nb, 'Email/changes', { sinceState => $since, maxChanges => 3 });
    if ($r->{error}) { diag(explain($r)); last }
    my %page;
    for my $id (@{ $r->{created} }, @{ $r->{updated} }, @{ $r->{destroyed} }) {
        push @dups, "$id twice in one page" if $page{$id}++;
    }
    for my $id (@{ $r->{created} }) {
        push @dups, "$id created twice" if $created{$id}++;
    }
    for my $id (@{ $r->{destroyed} }) {
        push @dups, "$id destroyed twice" if $destroyed{$id}++;
    }
    my ($new, $old) = ("$r->{newState}", "$since");   # copies: $since stays a string
    push @dups, "newState $new not after $old" unless $new > $old;
    $since = "$r->{newState}";
    last unless $r->{hasMoreChanges};
}
is($since, $ef, 'node B: Email/changes ends at the final state');
is_deeply(\@dups, [], 'node B: no change told twice, pages move forward');
my %kept = map { ($_ => 1) } @kept;
my @missing = grep { !$created{$_} } @kept;
is_deeply(\@missing, [], 'node B: every email kept on A or C is created once in /changes');
my @lost = grep { $created{$_} && !$destroyed{$_} } @gone;
is_deeply(\@lost, [], 'node B: every destroyed email told as created is told as destroyed');
my @both = grep { $destroyed{$_} } @kept;
is_deeply(\@both, [], 'node B: nothing kept is called destroyed');
my $all = one($nb, 'Email/get', { ids => undef, properties => ['id'] });
my %have = map { ($_->{id} => 1) } @{ $all->{list} || [] };
ok(!grep({ !$have{$_} } @kept) && !grep({ $have{$_} } @gone),
   'node B: a fresh Email/get agrees (kept ones there, destroyed ones gone)');

# B's Email/queryChanges on the Inbox
my $qc = one($nb, 'Email/queryChanges', { %$inq, sinceQueryState => $q0->{queryState} });
ok(!$qc->{error}, 'node B: Email/queryChanges on the Inbox') or diag(explain($qc));
my @ids = @{ $q0->{ids} };
my %removed = map { ($_ => 1) } @{ $qc->{removed} || [] };
@ids = grep { !$removed{$_} } @ids;
for my $add (sort { $a->{index} <=> $b->{index} } @{ $qc->{added} || [] }) {
    splice(@ids, $add->{index}, 0, $add->{id});
}
my $q1 = one($nb, 'Email/query', $inq);
is_deeply(\@ids, $q1->{ids}, 'node B: the old Inbox result plus queryChanges is the new one');
is($qc->{newQueryState}, $q1->{queryState}, 'node B: newQueryState = the query state');
my $moved = grep { my $i = $_; !grep { $_ eq $i } @{ $q1->{ids} } } @kept;
ok($moved > 0, "node B: moved emails ($moved) left the Inbox result");

my $mc = one($nb, 'Mailbox/changes', { sinceState => $m0 });
my %mch = map { ($_ => 1) } @{ $mc->{updated} || [] };
ok($mch{$INBOX} && $mch{$ARCHIVE}, 'node B: Mailbox/changes names the Inbox and the Archive');
is($mc->{newState}, $mf, 'node B: Mailbox/changes ends at the final state');

$_->check_error_log() for $na, $nb, $nc;
done_testing;
