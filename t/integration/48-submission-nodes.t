#!/usr/bin/perl
# Two httpd (nodes) on one database (PostgreSQL with JMAP_TEST_DRIVER=pgsql:
# claims with FOR UPDATE SKIP LOCKED and a lease; SQLite: the lease alone),
# each with its own queue worker, one relay: a burst of 200 submissions
# made through both is relayed exactly once each (counted at the sink by
# Message-ID), and every submission ends relayed.
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
my $N = 200;
my $PER = 50;

my $a = JMAPTest->new(extra_conf => "JMAPSubmissionConnectTimeout 5\n"
                                  . "JMAPSubmissionTimeout 20\n");
my $b = JMAPTest->new(smtp => 0, db => { driver => $a->db_driver, params => $a->db_params },
                      extra_conf => "JMAPSubmissionURL smtp://127.0.0.1:" . $a->smtp_port . "\n"
                                  . "JMAPSubmissionConnectTimeout 5\n"
                                  . "JMAPSubmissionTimeout 20\n");
diag('driver ' . $a->db_driver);
my $acct = $a->account_id('alice');
is($b->account_id('alice'), $acct, 'both nodes serve the same account');

my $rs = $a->api('alice', \@USING, [['Identity/get', { accountId => $acct }, 'i']]);
my ($ident) = map { $_->{id} } grep { $_->{email} eq 'alice@example.com' }
              @{ $rs->{methodResponses}[0][1]{list} };
ok($ident, 'identity');
my $drafts = $a->mailbox_id('alice', 'drafts');

my @sub_ids;
my $t_start = time;
for my $round (0 .. $N / $PER - 1) {
    my $node = $round % 2 ? $b : $a;
    my (%emails, %subs);
    for my $i (1 .. $PER) {
        my $k = "r${round}n$i";
        $emails{"e$k"} = {
            mailboxIds => { $drafts => JSON::PP::true },
            from => [{ email => 'alice@example.com' }],
            to => [{ email => 'bob@example.com' }],
            subject => "burst $k",
            bodyStructure => { type => 'text/plain', partId => 'b' },
            bodyValues => { b => { value => "message $k\n" } } };
        $subs{"s$k"} = { identityId => $ident, emailId => "#e$k" };
    }
    my $t0 = time;
    my $r = $node->api('alice', \@USING, [
        ['Email/set', { accountId => $acct, create => \%emails }, 'e'],
        ['EmailSubmission/set', { accountId => $acct, create => \%subs }, 's']]);
    my $created = $r && $r->{methodResponses}[1][1]{created} || {};
    is(scalar(keys %$created), $PER, "round $round: $PER submissions through node "
       . ($round % 2 ? 'B' : 'A')) or diag(explain($r->{methodResponses}[1]));
    diag(sprintf('round %d: %.2f s for %d emails and submissions', $round, time - $t0, $PER));
    push @sub_ids, map { $_->{id} } values %$created;
}

# generous: a worker sends one batch after another, once a second
my $end = time + 180;
my @m;
while (time < $end) {
    @m = $a->sink_messages;
    last if @m >= $N;
    sleep 0.5;
}
is(scalar @m, $N, "the sink got $N messages");
diag(sprintf('%d submissions made and relayed in %.1f s', scalar @m, time - $t_start));
sleep 3;   # a second copy would come now
@m = $a->sink_messages;
my %by_id;
for my $f (@m) {
    open(my $fh, '<:raw', $f) or die;
    local $/;
    my $d = <$fh>;
    my ($mid) = $d =~ /^Message-ID:\s*<([^>]+)>/mi;
    $by_id{$mid // ''}++;
}
is(scalar(keys %by_id), $N, "$N distinct Message-IDs");
is(scalar(grep { $_ != 1 } values %by_id), 0, 'each relayed exactly once');
ok(!-e $a->sink_dir . '/duplicates.log', 'no message was sent a second time');

# every submission ends relayed ("unknown": handed to the relay) and final
my %status;
for (my $i = 0; $i < @sub_ids; $i += 100) {
    my $r = $a->api('alice', \@USING, [['EmailSubmission/get', { accountId => $acct,
        ids => [@sub_ids[$i .. ($i + 99 < $#sub_ids ? $i + 99 : $#sub_ids)]] }, 'g']]);
    for my $o (@{ $r->{methodResponses}[0][1]{list} }) {
        $status{ $o->{undoStatus} . '/' . $o->{deliveryStatus}{'bob@example.com'}{delivered} }++;
    }
}
is_deeply(\%status, { 'final/unknown' => $N }, 'all final, all relayed');

# which node sent what (both usually do; the claims decide, not the test)
my ($na, $nb) = map { scalar(() = $_->error_log =~ /JM15002: submission/g) } $a, $b;
diag("node A relayed $na, node B $nb");
is($na + $nb, $N, 'the two workers relayed N submissions between them');

$a->check_error_log;
$b->check_error_log;
$b->stop;
$a->stop;
done_testing;
