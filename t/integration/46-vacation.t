# 46-vacation.t — VacationResponse/get and /set (RFC 8621 §8: the one
# object "singleton", singleton SetErrors for create and destroy, dates,
# bad values) and the vacation reply at LMTP delivery (RFC 3834): a reply
# reaches the relay (the SMTP sink) from the null reverse path exactly once
# per sender per period, never for a list, bulk, auto-submitted or bounced
# message, a Bcc, the account's own address, or outside fromDate..toDate;
# the delivered message is stored in every case. With the relay down a
# reply waits and goes once it is back. Without a relay
# (JMAPSubmissionURL) the capability is not advertised and no reply is
# made.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $VAC = 'urn:ietf:params:jmap:vacationresponse';
my @USING = ('urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', $VAC);
my $t = JMAPTest->new(ldap => 0, pki => 0,
                      extra_conf => "JMAPVacationPeriod 86400\n"
                                  . "JMAPSubmissionConnectTimeout 2\n",
                      lmtp => "    JMAPLMTPDomains example.com\n");

sub call1 {
    my ($user, $name, $args, $using) = @_;
    my $r = $t->api($user, $using || \@USING, [[$name, $args, 'c']]);
    my $resp = $r && JMAPTest->response_for($r, 'c');
    return $resp ? @$resp[0, 1] : ('none', {});
}
sub ok_call {
    my ($user, $name, $args) = @_;
    my ($n, $a) = call1($user, $name, $args);
    is($n, $name, "$name answers") or diag(explain($a));
    return $a;
}
sub err_type { my ($n, $a) = @_; $n eq 'error' ? $a->{type} : "no error ($n)" }

my $ALICE = $t->account_id('alice');
my $BOB = $t->account_id('bob');
ok($ALICE && $BOB, 'accounts') or do { done_testing; exit };

subtest 'advertised (a relay is configured)' => sub {
    my $s = $t->session('alice');
    ok(exists $s->{capabilities}{$VAC}, 'in the session capabilities');
    is_deeply($s->{accounts}{$ALICE}{accountCapabilities}{$VAC}, {},
              'and in the account\'s, empty (RFC 8621 §1.3.3)');
    is($s->{primaryAccounts}{$VAC}, $ALICE, 'primary account: her own');
    my ($n) = call1('alice', 'VacationResponse/get', { accountId => $ALICE },
                    ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail']);
    is($n, 'error', 'without it in using: an error');
};

my $state0;
subtest 'VacationResponse/get' => sub {
    my $g = ok_call('alice', 'VacationResponse/get', { accountId => $ALICE });
    $state0 = $g->{state};
    ok(defined $state0, 'a state');
    is_deeply($g->{list}, [{ id => 'singleton', isEnabled => $F, fromDate => undef,
                             toDate => undef, subject => undef, textBody => undef,
                             htmlBody => undef }], 'one object, disabled, all null');
    my $p = ok_call('alice', 'VacationResponse/get', { accountId => $ALICE,
        ids => ['singleton', 'other'], properties => ['isEnabled'] });
    is_deeply($p->{list}, [{ id => 'singleton', isEnabled => $F }], 'properties');
    is_deeply($p->{notFound}, ['other'], 'another id: notFound');
    my $n = ok_call('alice', 'VacationResponse/get', { accountId => $ALICE, ids => [] });
    is_deeply($n->{list}, [], 'ids []: nothing');
};

subtest 'VacationResponse/set: singleton errors, bad values' => sub {
    my $s = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE,
        create => { v => { isEnabled => $T } }, destroy => ['singleton', 'other'],
        update => { nope => { isEnabled => $T } } });
    is($s->{notCreated}{v}{type}, 'singleton', 'create: singleton');
    is($s->{notDestroyed}{singleton}{type}, 'singleton', 'destroy: singleton');
    is($s->{notDestroyed}{other}{type}, 'notFound', 'destroy of another id: notFound');
    is($s->{notUpdated}{nope}{type}, 'notFound', 'update of another id: notFound');
    is($s->{newState}, $s->{oldState}, 'nothing changed');
    my %bad = (
        month => { fromDate => '2026-13-01T00:00:00Z' },
        offset => { fromDate => '2026-12-01T00:00:00+01:00' },
        text => { toDate => 'next week' },
        order => { fromDate => '2026-12-10T00:00:00Z', toDate => '2026-12-01T00:00:00Z' },
        same => { fromDate => '2026-12-10T00:00:00Z', toDate => '2026-12-10T00:00:00Z' },
        enabled => { isEnabled => 'yes' },
        subject => { subject => "Away\r\nBcc: victim\@example.net" },
        long => { subject => 'x' x 1000 },
        body => { textBody => 7 },
        id => { id => 'other' },
        unknown => { colour => 'blue' },
    );
    my %want = (month => 'fromDate', offset => 'fromDate', text => 'toDate',
                order => 'toDate', same => 'toDate', enabled => 'isEnabled',
                subject => 'subject', long => 'subject', body => 'textBody',
                id => 'id', unknown => 'colour');
    for my $k (sort keys %bad) {
        my $r = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE,
                                                          update => { singleton => $bad{$k} } });
        my $e = $r->{notUpdated}{singleton} || {};
        is($e->{type}, 'invalidProperties', "$k: invalidProperties");
        is_deeply($e->{properties}, [$want{$k}], "$k: names $want{$k}");
    }
    my $g = ok_call('alice', 'VacationResponse/get', { accountId => $ALICE });
    is($g->{state}, $state0, 'still the first state');
};

my $state1;
subtest 'VacationResponse/set update' => sub {
    my $s = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE,
        ifInState => $state0, update => { singleton => {
            isEnabled => $T, subject => 'Away until Monday',
            textBody => "I am away.\nBack on Monday.", htmlBody => '<p>I am away.</p>' } } });
    ok(exists $s->{updated}{singleton}, 'updated') or diag(explain($s));
    isnt($s->{newState}, $state0, 'a new state');
    $state1 = $s->{newState};
    my $g = ok_call('alice', 'VacationResponse/get', { accountId => $ALICE });
    is($g->{state}, $state1, 'get says it');
    is_deeply($g->{list}[0], { id => 'singleton', isEnabled => $T, fromDate => undef,
                               toDate => undef, subject => 'Away until Monday',
                               textBody => "I am away.\nBack on Monday.",
                               htmlBody => '<p>I am away.</p>' }, 'stored');
    my $b = ok_call('bob', 'VacationResponse/get', { accountId => $BOB });
    ok(!$b->{list}[0]{isEnabled}, 'bob\'s is his own (disabled)');
    my ($n, $a) = call1('alice', 'VacationResponse/set', { accountId => $ALICE,
        ifInState => $state0, update => { singleton => { isEnabled => $F } } });
    is(err_type($n, $a), 'stateMismatch', 'ifInState of the old state');
};

# --- delivery ----------------------------------------------------------------------------

my $n = 0;
# One message over LMTP to alice; the 250 after DATA, or what was said.
sub deliver {
    my (%o) = @_;
    my $from = exists $o{from} ? $o{from} : 'bob@example.org';
    my $hdr = $o{headers} // '';
    my $to = $o{to} // 'Alice <alice@example.com>';
    $n++;
    my $msg = "From: <$from>\r\nTo: $to\r\nSubject: Question $n\r\n"
            . "Message-ID: <q$n.$$\@example.org>\r\n${hdr}\r\nHello $n.\r\n";
    return $t->lmtp_deliver($from, 'alice@example.com', $msg);
}

# The replies the relay got, "mail from|rcpt" in order ("<>": the null
# reverse path), once the outbox
# (what the worker has not finished) is empty: the worker runs every second.
sub outbox {
    for (1 .. 100) {
        last if ($t->db_sql("SELECT COUNT(*) FROM jm_vacation_outbox") // '') =~ /^0\s*$/;
        select(undef, undef, undef, 0.2);
    }
    my @r;
    for my $eml ($t->sink_messages) {
        (my $js = $eml) =~ s/\.eml\z/.json/;
        open(my $fh, '<', $js) or next;
        my $m = decode_json(do { local $/; <$fh> });
        push @r, join('|', $m->{mail_from} // '', @{ $m->{rcpt_tos} });
    }
    return \@r;
}

# the bytes of the reply relayed to rcpt
sub reply_to {
    my ($rcpt) = @_;
    for my $eml ($t->sink_messages) {
        (my $js = $eml) =~ s/\.eml\z/.json/;
        open(my $fh, '<', $js) or next;
        my $m = decode_json(do { local $/; <$fh> });
        next unless grep { $_ eq $rcpt } @{ $m->{rcpt_tos} };
        open(my $e, '<:raw', $eml) or die;
        return do { local $/; <$e> };
    }
    return '';
}

sub inbox_total {
    my ($nm, $a) = call1('alice', 'Mailbox/get', { accountId => $ALICE });
    my ($in) = grep { ($_->{role} // '') eq 'inbox' } @{ $a->{list} || [] };
    return $in ? $in->{totalEmails} : -1;
}

subtest 'a reply to the first message of a sender, once per period' => sub {
    my $before = inbox_total();
    like(deliver(), qr/^250 2\.0\.0 /, 'delivered');
    my $o = outbox();
    is_deeply($o, ["<>|bob\@example.org"], 'one reply relayed, null reverse path, to bob');
    my $msg = reply_to('bob@example.org');
    like($msg, qr/^From: alice\@example\.com\r?$/mi, 'From: the recipient address');
    like($msg, qr/^To: bob\@example\.org\r?$/mi, 'To: the sender');
    like($msg, qr/^Subject: Away until Monday\r?$/m, 'Subject from the settings');
    like($msg, qr/^Auto-Submitted: auto-replied\r?$/m, 'Auto-Submitted: auto-replied');
    like($msg, qr/^In-Reply-To: <q1\.$$\@example\.org>\r?$/m, 'In-Reply-To');
    like($msg, qr/^References: <q1\.$$\@example\.org>\r?$/m, 'References');
    like($msg, qr/^Message-ID: <[^>]+>\r?$/mi, 'a Message-ID');
    like($msg, qr/^Date: /m, 'a Date');
    like($msg, qr{multipart/alternative}i, 'text and html');
    like($msg, qr/Back on Monday\./, 'the text body');

    like(deliver(), qr/^250 /, 'the same sender again');
    like(deliver(from => 'BOB@example.org'), qr/^250 /, '... in another case');
    is(scalar @{ outbox() }, 1, 'no second reply within the period');
    like(deliver(from => 'carol@example.org'), qr/^250 /, 'another sender');
    is_deeply(outbox()->[1], "<>|carol\@example.org", 'she gets one');
    is(inbox_total(), $before + 4, 'every message was stored');
};

subtest 'no reply: lists, bulk, machines, bounces, Bcc, own address' => sub {
    my $before = inbox_total();
    my @cases = (
        [ 'List-Id', from => 'l1@example.org', headers => "List-Id: <talk.example.org>\r\n" ],
        [ 'List-Unsubscribe', from => 'l2@example.org',
          headers => "List-Unsubscribe: <mailto:u\@example.org>\r\n" ],
        [ 'Precedence: bulk', from => 'p1@example.org', headers => "Precedence: bulk\r\n" ],
        [ 'Precedence: list', from => 'p2@example.org', headers => "Precedence: list\r\n" ],
        [ 'Precedence: junk', from => 'p3@example.org', headers => "Precedence: junk\r\n" ],
        [ 'Auto-Submitted: auto-generated', from => 'a1@example.org',
          headers => "Auto-Submitted: auto-generated\r\n" ],
        [ 'Auto-Submitted: auto-replied', from => 'a2@example.org',
          headers => "Auto-Submitted: auto-replied\r\n" ],
        [ 'a bounce (MAIL FROM:<>)', from => '' ],
        [ 'MAILER-DAEMON', from => 'MAILER-DAEMON@example.org' ],
        [ 'owner-*', from => 'owner-talk@example.org' ],
        [ '*-request', from => 'talk-request@example.org' ],
        [ 'alice only in Bcc', from => 'b1@example.org', to => 'someone@example.org' ],
        [ 'her own address', from => 'alice@example.com' ],
    );
    for my $c (@cases) {
        my ($name, %o) = @$c;
        like(deliver(%o), qr/^250 2\.0\.0 /, "$name: delivered");
    }
    is(scalar @{ outbox() }, 2, 'no reply to any of them');
    is(inbox_total(), $before + @cases, 'all stored');
    like(deliver(from => 'yes@example.org', headers => "Auto-Submitted: no\r\n"), qr/^250 /,
         'Auto-Submitted: no');
    like(deliver(from => 'cc@example.org', to => 'x@example.org', headers => "Cc: alice\@example.com\r\n"),
         qr/^250 /, 'alice in Cc');
    is_deeply([@{ outbox() }[2, 3]], ["<>|yes\@example.org", "<>|cc\@example.org"],
              'both answered');
};

subtest 'dates and isEnabled' => sub {
    my $s = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE, update => {
        singleton => { fromDate => '2099-01-01T00:00:00Z' } } });
    ok(exists $s->{updated}{singleton}, 'fromDate in the future');
    like(deliver(from => 'future@example.org'), qr/^250 /, 'delivered');
    is(scalar @{ outbox() }, 4, 'before fromDate: no reply');
    $s = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE, update => {
        singleton => { fromDate => '2020-01-01T00:00:00Z', toDate => '2021-01-01T00:00:00Z' } } });
    ok(exists $s->{updated}{singleton}, 'a window in the past');
    like(deliver(from => 'past@example.org'), qr/^250 /, 'delivered');
    is(scalar @{ outbox() }, 4, 'after toDate: no reply');
    $s = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE, update => {
        singleton => { toDate => '2099-01-01T00:00:00Z', subject => undef, htmlBody => undef } } });
    like(deliver(from => 'now@example.org'), qr/^250 /, 'inside the window');
    is(scalar @{ outbox() }, 5, 'a reply');
    my $msg = reply_to('now@example.org');
    like($msg, qr/^Subject: Auto: Question \d+\r?$/m, 'subject null: Auto: + the original');
    unlike($msg, qr{text/html}i, 'htmlBody null: text only');
    $s = ok_call('alice', 'VacationResponse/set', { accountId => $ALICE, update => {
        singleton => { isEnabled => $F } } });
    like(deliver(from => 'off@example.org'), qr/^250 /, 'delivered');
    is(scalar @{ outbox() }, 5, 'disabled: no reply');
};

subtest 'the relay down: the reply waits, then goes once' => sub {
    ok_call('alice', 'VacationResponse/set', { accountId => $ALICE, update => {
        singleton => { isEnabled => $T } } });
    my $before = scalar @{ outbox() };
    $t->stop_sink;
    like(deliver(from => 'later@example.org'), qr/^250 2\.0\.0 /, 'delivered while the relay is down');
    my $waiting;
    for (1 .. 50) {
        $waiting = $t->db_sql("SELECT tries || '|' || last_reply FROM jm_vacation_outbox"
                              . " WHERE rcpt = 'later\@example.org'") // '';
        # tries counts at the claim, last_reply comes after the attempt
        last if $waiting =~ /^[1-9]\d*\|no reply/;
        select(undef, undef, undef, 0.2);
    }
    like($waiting, qr/^[1-9]\d*\|no reply/, 'it waits, with the failed attempt counted');
    $t->start_sink;
    my $o = outbox();
    is(scalar @$o, $before + 1, 'relayed once the relay is back');
    is($o->[-1], '<>|later@example.org', 'to the sender, from the null reverse path');
    like($t->error_log, qr/JM15007: vacation reply of account \S+ to <later\@example\.org> relayed: 250/,
         'the relay\'s 250 is logged');
};

$t->check_error_log();

subtest 'no relay: not advertised, no reply made' => sub {
    my $u = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                          lmtp => "    JMAPLMTPDomains example.com\n");
    my $ua = $u->account_id('alice');
    my $s = $u->session('alice');
    ok(!exists $s->{capabilities}{$VAC}, 'not in the session capabilities');
    ok(!exists $s->{accounts}{$ua}{accountCapabilities}{$VAC}, 'nor the account\'s');
    my $r = $u->api('alice', \@USING, [['VacationResponse/set', { accountId => $ua,
        update => { singleton => { isEnabled => $T } } }, 'v']]);
    ok(exists $r->{methodResponses}[0][1]{updated}{singleton}, 'the settings still work');
    my $t0 = $t;
    $t = $u;                    # deliver() to this server
    like(deliver(from => 'nobody@example.org'), qr/^250 2\.0\.0 /, 'delivered');
    $t = $t0;
    is($u->db_sql("SELECT COUNT(*) FROM jm_vacation_outbox") =~ s/\s+//gr, '0', 'no reply queued');
    $u->check_error_log();
};

done_testing;
