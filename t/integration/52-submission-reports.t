#!/usr/bin/perl
# Delivery reports about mail sent (RFC 8621 §7 dsnBlobIds, mdnBlobIds,
# deliveryStatus displayed): a relay's DSN (RFC 3464) naming the message by
# its returned header, an MDN (RFC 8098) naming it by Original-Message-ID,
# both delivered over LMTP into the sender's Inbox, are linked to the
# submission, its state moves, the same report twice is linked once, and
# a report about a message of another account or an unknown one changes
# no submission. SQLite and PostgreSQL (JMAP_TEST_DRIVER).
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
my $t = JMAPTest->new(
    lmtp => "    JMAPLMTPDomains example.com\n");
my $acct = $t->account_id('alice');
my $bob = $t->account_id('bob');

sub call {
    my ($user, @calls) = @_;
    my $r = $t->api($user, \@USING, \@calls);
    return $r ? $r->{methodResponses} : [];
}
sub sub_get {
    my ($user, $acc, $id) = @_;
    my $rs = call($user, ['EmailSubmission/get', { accountId => $acc, ids => [$id] }, 'g']);
    return ($rs->[0][1]{list}[0] || {}, $rs->[0][1]{state});
}

# msg over LMTP to rcpt from the null reverse path; the reply after DATA
sub deliver { $t->lmtp_deliver('', @_) }

# alice's identity, and a submission to a remote recipient the sink takes
my $rs = call('alice', ['Identity/get', { accountId => $acct }, 'i']);
my ($IA) = map { $_->{id} } grep { $_->{email} eq 'alice@example.com' } @{ $rs->[0][1]{list} };
ok($IA, 'alice has an identity') or BAIL_OUT('no identity');
my ($c) = $t->create_email('alice', $t->text_draft('alice',
    to => [{ email => 'bob@example.net' }]));
$rs = call('alice', ['Email/get', { accountId => $acct, ids => [$c->{id}],
                                    properties => ['messageId'] }, 'm'],
                    ['EmailSubmission/set', { accountId => $acct, create => { s1 => {
                        identityId => $IA, emailId => $c->{id} } } }, 's']);
my ($MID) = @{ $rs->[0][1]{list}[0]{messageId} || [] };
my $S = $rs->[1][1]{created}{s1}{id};
ok($MID && $S, 'submitted a message with a Message-ID') or BAIL_OUT(explain($rs));
for (1 .. 100) { last if $t->sink_messages; sleep 0.2 }
my ($o, $state0) = sub_get('alice', $acct, $S);
is_deeply([$o->{dsnBlobIds}, $o->{mdnBlobIds}], [[], []], 'no reports yet');

my $dsn = "From: Mail Delivery System <MAILER-DAEMON\@relay.example>\r\n"
        . "To: alice\@example.com\r\nSubject: Delayed Mail (still being retried)\r\n"
        . "Message-ID: <dsn.1.$$\@relay.example>\r\nMIME-Version: 1.0\r\n"
        . "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        . "\tboundary=\"B.1\"\r\n\r\n"
        . "--B.1\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n"
        . "--B.1\r\nContent-Type: message/delivery-status\r\n\r\n"
        . "Reporting-MTA: dns; relay.example\r\n\r\n"
        . "Final-Recipient: rfc822; bob\@example.net\r\nAction: delayed\r\n"
        . "Status: 4.4.1\r\n\r\n"
        . "--B.1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        . "From: alice\@example.com\r\nTo: bob\@example.net\r\nMessage-ID: <$MID>\r\n\r\n"
        . "--B.1--\r\n";
like(deliver('alice@example.com', $dsn), qr/^250 2\.0\.0 /, 'a relay\'s DSN delivered to alice');
my $state1;
($o, $state1) = sub_get('alice', $acct, $S);
is(scalar @{ $o->{dsnBlobIds} || [] }, 1, 'dsnBlobIds: the DSN, found by the returned Message-ID');
isnt($state1, $state0, 'the EmailSubmission state moved');
$rs = call('alice', ['EmailSubmission/changes', { accountId => $acct, sinceState => $state0 }, 'c']);
is_deeply($rs->[0][1]{updated}, [$S], '/changes: the submission updated');
my $dl = $t->download('alice', { accountId => $acct, blobId => $o->{dsnBlobIds}[0],
                                 name => 'dsn.eml', type => 'message/rfc822' });
is($dl->{content}, $dsn, 'the blob is the report as delivered');

like(deliver('alice@example.com', $dsn), qr/^250 /, 'the same DSN again');
($o) = sub_get('alice', $acct, $S);
is(scalar @{ $o->{dsnBlobIds} }, 1, '... linked once');

my $mdn = "From: bob\@example.net\r\nTo: alice\@example.com\r\n"
        . "Subject: Read: your message\r\nMessage-ID: <mdn.1.$$\@example.net>\r\n"
        . "MIME-Version: 1.0\r\n"
        . "Content-Type: multipart/report; report-type=disposition-notification; boundary=M1\r\n\r\n"
        . "--M1\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
        . "--M1\r\nContent-Type: message/disposition-notification\r\n\r\n"
        . "Reporting-UA: mua.example.net; Mail 1.0\r\nFinal-Recipient: rfc822; Bob\@example.net\r\n"
        . "Original-Message-ID: <$MID>\r\n"
        . "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--M1--\r\n";
like(deliver('alice@example.com', $mdn), qr/^250 2\.0\.0 /, 'an MDN delivered to alice');
($o) = sub_get('alice', $acct, $S);
is(scalar @{ $o->{mdnBlobIds} || [] }, 1, 'mdnBlobIds: the MDN (Original-Message-ID)');
is($o->{deliveryStatus}{'bob@example.net'}{displayed}, 'yes',
   'displayed: yes for its Final-Recipient (address case ignored)');
is(scalar @{ $o->{dsnBlobIds} }, 1, 'dsnBlobIds unchanged');

# the same reports for bob: his account has no such submission
my (undef, $sb0) = sub_get('bob', $bob, 'Snone');
like(deliver('bob@example.com', $mdn), qr/^250 /, 'the MDN delivered to bob instead');
($o) = sub_get('alice', $acct, $S);
is(scalar @{ $o->{mdnBlobIds} }, 1, 'alice\'s submission is not touched by bob\'s mail');
my (undef, $sb1) = sub_get('bob', $bob, 'Snone');
is($sb1, $sb0, 'bob\'s EmailSubmission state unchanged');

(my $other = $dsn) =~ s/<\Q$MID\E>/<unknown.$$\@example.com>/;
$other =~ s/dsn\.1\./dsn.2./;
my (undef, $st2) = sub_get('alice', $acct, $S);
like(deliver('alice@example.com', $other), qr/^250 /, 'a DSN about an unknown message');
my (undef, $st3) = sub_get('alice', $acct, $S);
is($st3, $st2, 'stored, no submission changed');

$t->check_error_log();
done_testing;
