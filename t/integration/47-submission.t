#!/usr/bin/perl
# EmailSubmission (RFC 8621 §7) through the SMTP sink: the relayed bytes
# and envelope, every SetError, relay down and up again, delayed send and
# cancel, onSuccessUpdateEmail, /changes and /query, a signed and
# encrypted message, and a restart with a held submission.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use File::Temp qw(tempdir);
use JMAPTest;

my @USING = qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
               urn:ietf:params:jmap:submission urn:ietf:params:jmap:smime-advanced);

my $t = JMAPTest->new(extra_conf => "JMAPSubmissionMaxRecipients 5\n"
                                  . "JMAPSubmissionMaxDelayedSend 3600\n"
                                  . "JMAPSubmissionRetryTime 60\n"
                                  . "JMAPSubmissionConnectTimeout 2\n"
                                  . "JMAPSubmissionTimeout 5\n"
                                  . "JMAPSubmissionMaxMessageSize 20000\n");
my $acct = $t->account_id('alice');

sub call {
    my ($user, @calls) = @_;
    my $r = $t->api($user, \@USING, \@calls);
    return $r ? $r->{methodResponses} : [];
}

sub resp { my ($rs, $name, $id) = @_; (grep { $_->[0] eq $name && $_->[2] eq $id } @$rs)[0] }

# the identity of an address, as Identity/get gives it
my $rs = call('alice', ['Identity/get', { accountId => $acct }, 'i']);
my %ident = map { $_->{email} => $_->{id} } @{ $rs->[0][1]{list} };
ok($ident{'alice@example.com'}, 'alice has an identity') or BAIL_OUT('no identity');
my $IA = $ident{'alice@example.com'};

# the session advertises the capability with what is done
my $s = $t->session('alice');
my $cap = $s->{accounts}{$acct}{accountCapabilities}{'urn:ietf:params:jmap:submission'};
is($cap->{maxDelayedSend}, 3600, 'maxDelayedSend is the configured one');
is_deeply([keys %{ $cap->{submissionExtensions} }], ['FUTURERELEASE'],
          'submissionExtensions: FUTURERELEASE only');
is($cap->{submissionExtensions}{FUTURERELEASE}[0], '3600', 'FUTURERELEASE interval');
ok($s->{capabilities}{'urn:ietf:params:jmap:submission'}, 'capability in the session');

sub blob_of {
    my ($user, $id) = @_;
    my $rs = call($user, ['Email/get', { accountId => $t->account_id($user),
                                         ids => [$id], properties => ['blobId'] }, 'g']);
    my $b = $rs->[0][1]{list}[0]{blobId};
    my $dl = $t->download($user, { accountId => $t->account_id($user), blobId => $b,
                                   name => 'm.eml', type => 'message/rfc822' });
    return $dl->{content};
}

sub slurp { open(my $f, '<:raw', $_[0]) or return ''; local $/; my $d = <$f>; $d }
sub envelope_of { (my $j = $_[0]) =~ s/\.eml$/.json/; decode_json(slurp($j)) }

sub sub_get {
    my ($id) = @_;
    my $rs = call('alice', ['EmailSubmission/get', { accountId => $acct, ids => [$id] }, 'g']);
    return $rs->[0][1]{list}[0];
}

# wait until the submission is no longer pending/queued for any recipient
sub wait_final {
    my ($id, $secs) = @_;
    my $end = time + ($secs || 30);
    my $o;
    while (time < $end) {
        $o = sub_get($id);
        return $o if $o && !grep { $_->{delivered} eq 'queued' }
                                values %{ $o->{deliveryStatus} || {} };
        sleep 0.3;
    }
    return $o;
}

# ---- happy path: one request creates the draft, submits it, moves it -----
my $drafts = $t->mailbox_id('alice', 'drafts');
my $sent = $t->mailbox_id('alice', 'sent');
my $draft = $t->text_draft('alice', keywords => { '$draft' => JSON::PP::true },
    cc => [{ email => 'carol@example.com' }], bcc => [{ email => 'dave@example.com' }]);
$rs = call('alice',
    ['Email/set', { accountId => $acct, create => { k1 => $draft } }, 'e'],
    ['EmailSubmission/set', { accountId => $acct,
        create => { s1 => { identityId => $IA, emailId => '#k1' } },
        onSuccessUpdateEmail => { '#s1' => {
            "mailboxIds/$drafts" => undef, "mailboxIds/$sent" => JSON::PP::true,
            'keywords/$draft' => undef } } }, 's']);
my $eid = resp($rs, 'Email/set', 'e')->[1]{created}{k1}{id};
my $sres = resp($rs, 'EmailSubmission/set', 's');
my $sc = $sres && $sres->[1]{created}{s1};
ok($sc && $sc->{id}, 'EmailSubmission created with #k1 of the same request') or diag(explain($rs));
is($sc->{undoStatus}, 'pending', 'undoStatus pending at creation');
is_deeply($sc->{envelope}, { mailFrom => { email => 'alice@example.com', parameters => undef },
    rcptTo => [map { { email => $_, parameters => undef } }
               qw(bob@example.com carol@example.com dave@example.com)] },
    'envelope derived from From, To, Cc and Bcc (§7)');
like($sc->{sendAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'sendAt is a UTCDate');
is($sc->{threadId}, resp($rs, 'Email/set', 'e')->[1]{created}{k1}{threadId}, 'threadId of the email');
my @names = map { $_->[0] } @$rs;
is_deeply(\@names, ['Email/set', 'EmailSubmission/set', 'Email/set'],
          'the implicit Email/set answers after EmailSubmission/set');
my $impl = $rs->[2];
is($impl->[2], 's', 'under the same call id');
ok(exists $impl->[1]{updated}{$eid}, 'the implicit Email/set updated the draft');
$rs = call('alice', ['Email/get', { accountId => $acct, ids => [$eid],
                                    properties => ['mailboxIds', 'keywords'] }, 'g']);
is_deeply($rs->[0][1]{list}[0]{mailboxIds}, { $sent => JSON::PP::true }, 'moved to Sent');
ok(!$rs->[0][1]{list}[0]{keywords}{'$draft'}, '$draft cleared');

my @m = $t->wait_sink_messages(1);
is(scalar @m, 1, 'the sink got one message');
my $blob = blob_of('alice', $eid);
(my $nobcc = $blob) =~ s/^Bcc:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*//mi;
ok($blob =~ /^Bcc:/mi, 'the stored message has its Bcc field');
ok(slurp($m[0]) eq $nobcc, 'relayed bytes are the blob without its Bcc field, byte for byte');
unlike(slurp($m[0]), qr/dave\@example/i, 'the Bcc recipient is not in the relayed bytes');
my $env = envelope_of($m[0]);
is($env->{mail_from}, 'alice@example.com', 'MAIL FROM');
is_deeply([sort @{ $env->{rcpt_tos} }],
          [qw(bob@example.com carol@example.com dave@example.com)], 'RCPT TO (Bcc too)');
my $o = wait_final($sc->{id});
is($o->{undoStatus}, 'final', 'undoStatus final once relayed');
is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'unknown',
   'relayed: delivered unknown (§7: relaying is not delivery)');
like($o->{deliveryStatus}{'bob@example.com'}{smtpReply}, qr/^250\b/, 'smtpReply 250');
is($o->{deliveryStatus}{'bob@example.com'}{displayed}, 'unknown', 'displayed unknown');
is_deeply($o->{dsnBlobIds}, [], 'dsnBlobIds');

# ---- an explicit envelope; per-recipient refusal --------------------------
my ($c) = $t->create_email('alice', $t->text_draft('alice'));
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, create => { s2 => {
    identityId => $IA, emailId => $c->{id},
    envelope => { mailFrom => { email => 'alice@example.com' },
                  rcptTo => [{ email => 'erin@example.net' },
                             { email => 'reject-me@example.net' }] } } } }, 's']);
my $s2 = $rs->[0][1]{created}{s2};
ok($s2, 'created with an explicit envelope') or diag(explain($rs));
@m = $t->wait_sink_messages(2);
is_deeply(envelope_of($m[1])->{rcpt_tos}, ['erin@example.net'], 'sent to the accepted one');
$o = wait_final($s2->{id});
is($o->{deliveryStatus}{'reject-me@example.net'}{delivered}, 'no', 'refused recipient: no');
like($o->{deliveryStatus}{'reject-me@example.net'}{smtpReply}, qr/^550 5\.1\.1 /,
     'its smtpReply is the RCPT reply');
is($o->{deliveryStatus}{'erin@example.net'}{delivered}, 'unknown', 'the other relayed');
# the bounce: an RFC 3464 report in alice's Inbox
my $inbox = $t->mailbox_id('alice', 'inbox');
my $bounce;
for (1 .. 20) {
    $rs = call('alice', ['Email/query', { accountId => $acct, filter => {
        inMailbox => $inbox, subject => 'Undelivered Mail Returned to Sender' } }, 'q']);
    last if ($bounce) = @{ $rs->[0][1]{ids} || [] };
    sleep 0.3;
}
ok($bounce, 'a delivery status notification in the sender\'s Inbox');
my $dsn = $bounce ? blob_of('alice', $bounce) : '';
like($dsn, qr{^Content-Type: multipart/report; report-type=delivery-status;}m, 'multipart/report');
like($dsn, qr{^Final-Recipient: rfc822; reject-me\@example\.net\r\nAction: failed\r\nStatus: 5\.1\.1\r\n}m,
     'Final-Recipient, Action failed, Status 5.1.1 (RFC 3464)');
like($dsn, qr{^Original-Envelope-Id: \Q$s2->{id}\E\r$}m, 'names the submission');
unlike($dsn, qr/erin\@example/, 'only the failed recipient');
my $bblob = $bounce ? call('alice', ['Email/get', { accountId => $acct, ids => [$bounce],
                                                   properties => ['blobId'] }, 'g'])
                       ->[0][1]{list}[0]{blobId} : '';
is_deeply(sub_get($s2->{id})->{dsnBlobIds}, [$bblob], 'dsnBlobIds lists the bounce (RFC 8621 §7)');
is_deeply(sub_get($s2->{id})->{mdnBlobIds}, [], 'mdnBlobIds empty');

# ---- errors ------------------------------------------------------------------
sub create_err {
    my ($obj, $name, %args) = @_;
    my $rs = call('alice', ['EmailSubmission/set', { accountId => $acct,
                                                     create => { x => $obj }, %args }, 's']);
    my $e = $rs->[0][1]{notCreated}{x};
    ok($e, "$name: not created") or diag(explain($rs));
    return $e || {};
}
my $e;
$e = create_err({ identityId => 'Inope', emailId => $c->{id} }, 'unknown identity');
is($e->{type}, 'invalidProperties', 'unknown identity: invalidProperties');
is_deeply($e->{properties}, ['identityId'], '... naming identityId');
$e = create_err({ identityId => $IA, emailId => 'Mnope' }, 'unknown email');
is_deeply([$e->{type}, $e->{properties}], ['invalidProperties', ['emailId']], 'unknown email');
$e = create_err({ identityId => $IA }, 'no emailId');
is($e->{type}, 'invalidProperties', 'missing emailId');
$e = create_err({ identityId => $IA, emailId => $c->{id}, sendAt => '2030-01-01T00:00:00Z' },
                'sendAt given');
is($e->{type}, 'invalidProperties', 'sendAt is server-set');

my ($cf) = $t->create_email('alice', $t->text_draft('alice',
    from => [{ email => 'mallory@example.org' }]));
$e = create_err({ identityId => $IA, emailId => $cf->{id} }, 'From not the user');
is($e->{type}, 'forbiddenFrom', 'forbiddenFrom');
# with a Sender field both Sender and From must be the user's (one table of
# sending rights: JMAPSendAs grants alice sales@example.com)
my ($cs) = $t->create_email('alice', $t->text_draft('alice',
    from => [{ email => 'alice@example.com' }], sender => [{ email => 'mallory@example.org' }]));
$e = create_err({ identityId => $IA, emailId => $cs->{id} }, 'Sender not the user');
is($e->{type}, 'forbiddenFrom', 'a Sender not the user\'s: forbiddenFrom');
like($e->{description} // '', qr/mallory\@example\.org \(Sender\)/, '... naming the Sender');
my ($cg) = $t->create_email('alice', $t->text_draft('alice',
    from => [{ email => 'sales@example.com' }], sender => [{ email => 'alice@example.com' }]));
my $rsg = call('alice', ['EmailSubmission/set', { accountId => $acct, create => { g => {
    identityId => $IA, emailId => $cg->{id} } } }, 's']);
ok($rsg->[0][1]{created}{g}, 'From a role address she may send as, Sender her own: accepted')
    or diag(explain($rsg));
is($rsg->[0][1]{created}{g}{envelope}{mailFrom}{email}, 'alice@example.com',
   '... the envelope sender is the Sender (§7)');
# relayed before the relay-down part below counts the sink's messages
my $og = $rsg->[0][1]{created}{g} ? wait_final($rsg->[0][1]{created}{g}{id}) : {};
is($og->{deliveryStatus}{'bob@example.com'}{delivered}, 'unknown', '... and relayed');
$e = create_err({ identityId => $IA, emailId => $c->{id}, envelope => {
    mailFrom => { email => 'mallory@example.org' }, rcptTo => [{ email => 'b@example.com' }] } },
    'envelope sender not the user');
is($e->{type}, 'forbiddenMailFrom', 'forbiddenMailFrom');
$e = create_err({ identityId => $IA, emailId => $c->{id}, envelope => {
    mailFrom => { email => 'alice@example.com' }, rcptTo => [] } }, 'no recipients');
is($e->{type}, 'noRecipients', 'noRecipients');
$e = create_err({ identityId => $IA, emailId => $c->{id}, envelope => {
    mailFrom => { email => 'alice@example.com' },
    rcptTo => [{ email => 'ok@example.com' }, { email => 'no spaces@example.com' },
               { email => 'nodomain' }] } }, 'bad recipients');
is($e->{type}, 'invalidRecipients', 'invalidRecipients');
is_deeply([sort @{ $e->{invalidRecipients} || [] }], ['no spaces@example.com', 'nodomain'],
          '... listing the bad ones');
$e = create_err({ identityId => $IA, emailId => $c->{id}, envelope => {
    mailFrom => { email => 'alice@example.com' },
    rcptTo => [map { { email => "r$_\@example.com" } } 1 .. 6] } }, 'too many');
is($e->{type}, 'tooManyRecipients', 'tooManyRecipients');
is($e->{maxRecipients}, 5, '... with maxRecipients');
$e = create_err({ identityId => $IA, emailId => $c->{id}, envelope => {
    mailFrom => { email => 'alice@example.com', parameters => { SIZE => '100' } },
    rcptTo => [{ email => 'b@example.com' }] } }, 'unsupported parameter');
is_deeply([$e->{type}, $e->{properties}],
          ['invalidProperties', ['envelope/mailFrom/parameters/SIZE']], 'unknown parameter');
$e = create_err({ identityId => $IA, emailId => $c->{id}, envelope => {
    mailFrom => { email => 'alice@example.com', parameters => { HOLDFOR => '3601' } },
    rcptTo => [{ email => 'b@example.com' }] } }, 'held too long');
is($e->{type}, 'invalidProperties', 'HOLDFOR past maxDelayedSend');
my ($big) = $t->create_email('alice', $t->text_draft('alice', body => join('', ('x' x 70 . "\n") x 400)));
$e = create_err({ identityId => $IA, emailId => $big->{id} }, 'too large');
is($e->{type}, 'tooLarge', 'tooLarge');
is($e->{maxSize}, 20000, '... with maxSize');
my ($two) = $t->create_email('alice', $t->text_draft('alice',
    from => [{ email => 'alice@example.com' }, { email => 'sales@example.com' }]));
$e = create_err({ identityId => $IA, emailId => $two->{id} }, 'two From, no Sender');
is_deeply([$e->{type}, $e->{properties}], ['invalidEmail', ['from']], 'invalidEmail (from)');

# ---- relay down: queued; relay up: delivered once -----------------------
$t->stop_sink;
my $n0 = () = $t->sink_messages;
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct,
    create => { s3 => { identityId => $IA, emailId => $c->{id} } } }, 's']);
my $s3 = $rs->[0][1]{created}{s3}{id};
ok($s3, 'created while the relay is down');
sleep 2.5;
$o = sub_get($s3);
is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'queued', 'relay down: queued');
like($o->{deliveryStatus}{'bob@example.com'}{smtpReply}, qr/^451 4\.4\.1 /,
     'smtpReply says the relay did not answer');
is($o->{undoStatus}, 'pending', 'still pending');
$t->start_sink;
@m = $t->wait_sink_messages($n0 + 1, 40);
is(scalar @m, $n0 + 1, 'relay up: delivered');
$o = wait_final($s3, 10);
is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'unknown', 'relayed after the retry');
sleep 2;
is(scalar(() = $t->sink_messages), $n0 + 1, 'exactly once');

# ---- a recipient deferred (4xx) is retried, then given up ------------------
# (retry time 60 s would make the test long: only that it stays queued)
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, create => { s4 => {
    identityId => $IA, emailId => $c->{id}, envelope => {
        mailFrom => { email => 'alice@example.com' },
        rcptTo => [{ email => 'defer-me@example.net' }] } } } }, 's']);
my $s4 = $rs->[0][1]{created}{s4}{id};
sleep 2.5;
$o = sub_get($s4);
is($o->{deliveryStatus}{'defer-me@example.net'}{delivered}, 'queued', '4xx: still queued');
like($o->{deliveryStatus}{'defer-me@example.net'}{smtpReply}, qr/^451 4\.2\.0 /,
     '... with the relay\'s reply');

# ---- delayed send, cancel, cannotUnsend ----------------------------------
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, create => { s5 => {
    identityId => $IA, emailId => $c->{id}, envelope => {
        mailFrom => { email => 'alice@example.com', parameters => { HOLDFOR => '600' } },
        rcptTo => [{ email => 'bob@example.com' }] } } } }, 's']);
my $s5 = $rs->[0][1]{created}{s5};
ok($s5, 'held for 600 s') or diag(explain($rs));
my $now = time;
my ($y, $mo, $d, $h, $mi, $se) = $s5->{sendAt} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/;
require Time::Local;
my $at = Time::Local::timegm($se, $mi, $h, $d, $mo - 1, $y);
ok($at >= $now + 595 && $at <= $now + 605, 'sendAt is 600 s ahead');
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, update => {
    $s5->{id} => { undoStatus => 'canceled' } } }, 'u']);
ok(exists $rs->[0][1]{updated}{$s5->{id}}, 'canceled while pending') or diag(explain($rs));
is(sub_get($s5->{id})->{undoStatus}, 'canceled', 'undoStatus canceled');
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, update => {
    $sc->{id} => { undoStatus => 'canceled' } } }, 'u']);
is($rs->[0][1]{notUpdated}{$sc->{id}}{type}, 'cannotUnsend', 'a sent one: cannotUnsend');
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, update => {
    $sc->{id} => { undoStatus => 'final' } } }, 'u']);
is($rs->[0][1]{notUpdated}{$sc->{id}}{type}, 'invalidProperties', 'undoStatus final by client');

# ---- /query and /changes --------------------------------------------------
$rs = call('alice', ['EmailSubmission/query', { accountId => $acct,
    filter => { undoStatus => 'canceled' } }, 'q']);
is_deeply($rs->[0][1]{ids}, [$s5->{id}], 'query by undoStatus');
$rs = call('alice', ['EmailSubmission/query', { accountId => $acct,
    filter => { emailIds => [$eid] } }, 'q']);
is_deeply($rs->[0][1]{ids}, [$sc->{id}], 'query by emailIds');
$rs = call('alice', ['EmailSubmission/query', { accountId => $acct,
    filter => { after => '2000-01-01T00:00:00Z' }, sort => [{ property => 'sentAt',
    isAscending => JSON::PP::false }] }, 'q']);
is($rs->[0][1]{ids}[0], $s5->{id}, 'sort by sentAt, newest (held) first');
my $qstate = $rs->[0][1]{queryState};
$rs = call('alice', ['EmailSubmission/query', { accountId => $acct,
    filter => { nope => 1 } }, 'q']);
is($rs->[0][0], 'error', 'unknown filter');
is($rs->[0][1]{type}, 'unsupportedFilter', '... unsupportedFilter');
$rs = call('alice', ['EmailSubmission/changes', { accountId => $acct, sinceState => '0' }, 'c']);
ok(scalar(grep { $_ eq $sc->{id} } @{ $rs->[0][1]{created} }), '/changes lists the created');
my $state = $rs->[0][1]{newState};
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct,
    destroy => [$s5->{id}] }, 'd'],
    ['EmailSubmission/changes', { accountId => $acct, sinceState => $state }, 'c'],
    ['EmailSubmission/queryChanges', { accountId => $acct, sinceQueryState => $qstate,
     filter => { after => '2000-01-01T00:00:00Z' },
     sort => [{ property => 'sentAt', isAscending => JSON::PP::false }] }, 'qc']);
is_deeply($rs->[0][1]{destroyed}, [$s5->{id}], 'destroyed');
is_deeply($rs->[1][1]{destroyed}, [$s5->{id}], '/changes: destroyed');
ok(scalar(grep { $_ eq $s5->{id} } @{ $rs->[2][1]{removed} }), '/queryChanges: removed');
is(sub_get($s5->{id}), undef, 'gone from /get');

# ---- restart: a held submission survives and is sent -----------------------
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct, create => { s6 => {
    identityId => $IA, emailId => $c->{id}, envelope => {
        mailFrom => { email => 'alice@example.com', parameters => { HOLDFOR => '4' } },
        rcptTo => [{ email => 'frank@example.com' }] } } } }, 's']);
my $s6 = $rs->[0][1]{created}{s6}{id};
ok($s6, 'held for 4 s');
my $n1 = () = $t->sink_messages;
$t->restart;
is(sub_get($s6)->{undoStatus}, 'pending', 'pending after the restart');
@m = $t->wait_sink_messages($n1 + 1, 30);
is(scalar @m, $n1 + 1, 'sent after the restart, when due');
is_deeply(envelope_of($m[-1])->{rcpt_tos}, ['frank@example.com'], 'to its recipient');

# ---- a crash after the relay took the message, before the result was
# recorded: the lease runs out, the message goes again with the same
# Message-ID, and the relay (the sink) recognises it: one copy
my ($cc) = $t->create_email('alice', $t->text_draft('alice', subject => 'crash'));
my $n3 = () = $t->sink_messages;
open(my $dh, '>', $t->sink_dir . '/delay-data') or die;
print $dh "6\n";
close $dh;
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct,
    create => { s8 => { identityId => $IA, emailId => $cc->{id} } } }, 's']);
my $s8 = $rs->[0][1]{created}{s8}{id};
@m = $t->wait_sink_messages($n3 + 1, 20);
is(scalar @m, $n3 + 1, 'the relay has the message (its reply is held back)');
$t->crash_httpd;
unlink $t->sink_dir . '/delay-data';
$t->restart;
$o = sub_get($s8);
is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'queued',
   'after the crash: not recorded as relayed');
$o = wait_final($s8, 40);     # the lease: connect 2 s + transaction 5 s + 10 s
is($o->{deliveryStatus}{'bob@example.com'}{delivered}, 'unknown', 'then relayed');
like($o->{deliveryStatus}{'bob@example.com'}{smtpReply}, qr/^250\b/, 'with a 250');
is(scalar(() = $t->sink_messages), $n3 + 1, 'one copy at the relay');
like(slurp($t->sink_dir . '/duplicates.log'), qr/^\d+ <[^>]+>$/m,
     'the second attempt was recognised by the relay (same Message-ID)');

# ---- signed and encrypted: the relayed bytes verify and decrypt -----------
my $pki = $t->pki_dir;
my ($ce) = $t->create_email('alice', $t->text_draft('alice', subject => 'secret'),
                            smimeSign => JSON::PP::true, smimeEncrypt => JSON::PP::true);
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct,
    create => { s7 => { identityId => $IA, emailId => $ce->{id} } } }, 's']);
ok($rs->[0][1]{created}{s7}, 'signed+encrypted submitted') or diag(explain($rs));
my $n2 = () = $t->sink_messages;
@m = $t->wait_sink_messages($n2 + 0, 1);
@m = $t->wait_sink_messages(scalar(@m) + 1, 30) if @m == $n2;
my $relayed = slurp($m[-1]);
is($relayed, blob_of('alice', $ce->{id}), 'relayed bytes equal the blob');
my $dir = tempdir(CLEANUP => 1);
open(my $fh, '>:raw', "$dir/m.eml") or die;
print $fh $relayed;
close $fh;
my $dec = system("openssl cms -decrypt -in $dir/m.eml -recip $pki/bob-full.pem -out $dir/inner.eml 2>$dir/err");
is($dec, 0, 'openssl cms -decrypt with the recipient key') or diag(slurp("$dir/err"));
my $ver = system("openssl cms -verify -in $dir/inner.eml -CAfile $pki/ca.pem -out $dir/plain 2>$dir/err");
is($ver, 0, 'openssl cms -verify of the decrypted part') or diag(slurp("$dir/err"));
like(slurp("$dir/plain"), qr/the numbers are in: 42/, 'the text inside');

# ---- Bcc of an encrypted email: its own copy; the To copy reveals nothing
sub serial_of {
    my $o = `openssl x509 -in $_[0] -noout -serial`;
    $o =~ /serial=([0-9A-F]+)/i ? $1 : 'none';
}
sub cms_print { my $o = `openssl cms -cmsout -print -in $_[0] 2>/dev/null`; $o }
my ($cb) = $t->create_email('alice', $t->text_draft('alice', subject => 'bcc secret',
    bcc => [{ email => 'carol@example.com' }]),
    smimeSign => JSON::PP::true, smimeEncrypt => JSON::PP::true);
my $n4 = () = $t->sink_messages;
$rs = call('alice', ['EmailSubmission/set', { accountId => $acct,
    create => { s9 => { identityId => $IA, emailId => $cb->{id} } } }, 's']);
my $s9 = $rs->[0][1]{created}{s9}{id};
ok($s9, 'encrypted with a Bcc: submitted') or diag(explain($rs));
@m = $t->wait_sink_messages($n4 + 2, 30);
is(scalar @m, $n4 + 2, 'two transactions: the To copy and the Bcc copy');
my ($to_copy, $bcc_copy);
for my $f (@m[$n4 .. $#m]) {
    my $rc = envelope_of($f)->{rcpt_tos};
    $to_copy = $f if "@$rc" eq 'bob@example.com';
    $bcc_copy = $f if "@$rc" eq 'carol@example.com';
}
ok($to_copy && $bcc_copy, 'bob in one envelope, carol alone in the other');
SKIP: {
    skip 'copies missing', 8 unless $to_copy && $bcc_copy;
    is(slurp($to_copy), do { (my $x = blob_of('alice', $cb->{id}))
                             =~ s/^Bcc:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*//mi; $x },
       'the To copy is the Email\'s blob without its Bcc field');
    unlike(slurp($to_copy), qr/carol/i, 'no Bcc address in the To copy\'s bytes');
    my ($sc_carol, $sc_bob) = (serial_of("$pki/carol.pem"), serial_of("$pki/bob.pem"));
    my $p_to = cms_print($to_copy);
    like($p_to, qr/serialNumber:.*/, 'the To copy\'s RecipientInfos print');
    ok(index(lc $p_to, lc(sprintf('0x%s', $sc_carol))) < 0
       && $p_to !~ /carol/i, 'no RecipientInfo for the Bcc certificate in the To copy')
        or diag("carol serial $sc_carol");
    isnt(system("openssl cms -decrypt -in $to_copy -recip $pki/carol-full.pem -out /dev/null 2>/dev/null"),
         0, 'the Bcc key cannot decrypt the To copy');
    is(system("openssl cms -decrypt -in $to_copy -recip $pki/bob-full.pem -out $dir/to.inner 2>$dir/err"),
       0, 'bob decrypts the To copy') or diag(slurp("$dir/err"));
    is(system("openssl cms -decrypt -in $bcc_copy -recip $pki/carol-full.pem -out $dir/bcc.inner 2>$dir/err"),
       0, 'the Bcc copy decrypts with the Bcc key') or diag(slurp("$dir/err"));
    isnt(system("openssl cms -decrypt -in $bcc_copy -recip $pki/bob-full.pem -out /dev/null 2>/dev/null"),
         0, 'bob cannot decrypt the Bcc copy');
    is(system("openssl cms -verify -in $dir/bcc.inner -CAfile $pki/ca.pem -out /dev/null 2>$dir/err"),
       0, 'the Bcc copy verifies') or diag(slurp("$dir/err"));
    is(slurp("$dir/bcc.inner"), slurp("$dir/to.inner"), 'both carry the same signed payload');
}
$o = wait_final($s9, 10);
is($o->{deliveryStatus}{'carol@example.com'}{delivered}, 'unknown', 'the Bcc recipient relayed');

$t->check_error_log(qr/JM1500[0-9]/);
done_testing;
