# 42-eventsource.t — push over event source (RFC 8620 §7.3) at the
# session's eventSourceUrl: StateChange events (§7.1) for changes made
# through /api (Mailbox/set, Email/set) and through LMTP, with the right
# types and the states /get then answers, in the user's own and a shared
# account; the types filter; EmailDelivery (RFC 8621 §1.5) moving for
# delivered mail only; closeafter=state; pings and their clamped interval;
# Last-Event-ID; JMAPEventSourceMaxConnections (503), MaxDuration, a
# client that goes away freeing its place, a graceful restart ending the
# streams; bad parameters (400) and no credentials (401); a share removed
# from the configuration stops the events of that account. Runs on both
# drivers (JMAP_TEST_DRIVER).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use JMAPTest;
use JMAPEventSource;

# one process, so JMAPEventSourceMaxConnections (per process) is the limit
my $ONE = "StartServers 1\nServerLimit 1\nThreadsPerChild 25\nMinSpareThreads 1\n"
        . "MaxSpareThreads 25\nMaxRequestWorkers 25\n";
# (threads: prefork's one stream per process cannot show the limit)
my $mpm = ($ENV{JMAP_TEST_MPM} // 'event') eq 'prefork' ? 'event' : ($ENV{JMAP_TEST_MPM} // 'event');
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0, mpm_conf => $ONE, mpm => $mpm,
                      lmtp => "    JMAPLMTPDomains example.com\n",
                      extra_conf => "JMAPEventSourceMinPing 1\n"
                                  . "JMAPEventSourceMaxConnections 4\n"
                                  . "JMAPShareAccount bob alice\n",
                      vhosts => ["    JMAPEventSourceMaxDuration 3\n"
                               . "    JMAPEventSourceMinPing 2\n"]);
my $A = $t->account_id('alice');
my $B = $t->account_id('bob');
ok($A && $B && $A ne $B, 'alice and bob have accounts') or do { done_testing; exit };
# generous: the module promises about 0.2 s
my $WAIT = 5;
my $Q = 'types=*&closeafter=no&ping=0';

sub es_at { my ($port, $user, $q, %h) = @_; JMAPEventSource->open($port, $user, $q, %h) }
sub es_main { es_at($t->port, @_) }
# streams closed just before free their places within a second: retry a 503
sub es_free {
    my ($port, $user, $q) = @_;
    my ($e, $end) = (undef, time + $WAIT);
    do { $e = es_at($port, $user, $q); sleep 0.2 if $e->{status} == 503 }
        while ($e->{status} == 503 && time < $end);
    return $e;
}

sub api1 {
    my ($user, $name, $args) = @_;
    my $r = $t->api($user, undef, [[$name, $args, 'c']]);
    return $r ? $r->{methodResponses}[0][1] : {};
}
sub state_of { api1($_[0], "$_[2]/get", { accountId => $_[1], ids => [] })->{state} }

sub lmtp_deliver {
    my ($rcpt, $subject) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->lmtp_port,
                                  Proto => 'tcp', Timeout => 20) or die "LMTP: $!";
    $s->autoflush(1);
    my @r;
    my $reply = sub { while (defined(my $l = <$s>)) { return $l if $l =~ /^\d{3} / } '' };
    $reply->();
    print $s "LHLO test\r\n"; $reply->();
    print $s "MAIL FROM:<x\@example.org>\r\n"; push @r, $reply->();
    print $s "RCPT TO:<$rcpt>\r\n"; push @r, $reply->();
    print $s "DATA\r\n"; push @r, $reply->();
    print $s "From: x\@example.org\r\nTo: $rcpt\r\nSubject: $subject\r\n"
           . "Message-ID: <" . time . ".$$.$subject\@example.org>\r\n\r\nHello.\r\n.\r\n";
    push @r, $reply->();
    print $s "QUIT\r\n";
    close $s;
    return $r[-1];
}

# --- the session names the resource ----------------------------------------------
my $sess = $t->session('alice');
like($sess->{eventSourceUrl}, qr{/jmap/eventsource/\?types=\{types\}&closeafter=\{closeafter\}&ping=\{ping\}$},
     'session: eventSourceUrl with the three variables');

# --- bad requests ---------------------------------------------------------------------
{
    my $es = es_main(undef, $Q);
    is($es->{status}, 401, 'no credentials: 401');
    for my $case (['types=*&closeafter=no&ping=abc', 'ping=abc'],
                  ['types=*&closeafter=maybe&ping=0', 'closeafter=maybe'],
                  ['types=Email,,Mailbox&closeafter=no&ping=0', 'an empty type name'],
                  ['types=*&closeafter=no&ping=-5', 'ping=-5'],
                  ['types=*&ping=1&ping=2', 'ping twice']) {
        my $e = es_main('alice', $case->[0]);
        is($e->{status}, 400, "$case->[1]: 400");
        like($e->{headers}{'content-type'} // '', qr{^application/problem\+json}, "$case->[1]: a problem document");
        is($e->{json}{status}, 400, "$case->[1]: its status member");
        is($e->{json}{type}, 'about:blank', "$case->[1]: type about:blank (not a JMAP Request error)");
        like($e->{json}{detail} // '', qr/\S/, "$case->[1]: with a detail");
    }
    my ($st, $h, $body) = @{ $t->request('POST', '/jmap/eventsource/', 'alice', '{}') }{qw(status headers content)};
    is($st, 405, 'POST: 405');
    my $head = $t->request('HEAD', '/jmap/eventsource/?types=*', 'alice');
    is($head->{status}, 200, 'HEAD: 200, and it ends');
    like($head->{headers}{'content-type'} // '', qr{^text/event-stream}, 'HEAD: text/event-stream');
}

# --- Mailbox/set and Email/set through /api -----------------------------------------
{
    my $es = es_main('alice', $Q);
    is($es->{status}, 200, 'stream: 200');
    like($es->{headers}{'content-type'}, qr{^text/event-stream}, 'stream: text/event-stream');
    like($es->{headers}{'cache-control'} // '', qr/no-cache/, 'stream: not cached');

    my $ms = api1('alice', 'Mailbox/set', { accountId => $A, create => { m => { name => 'Push' } } });
    my $mid = $ms->{created}{m}{id};
    ok($mid, 'Mailbox/set created a mailbox');
    my $ev = $es->next_named('state', $WAIT);
    ok($ev, "a state event within $WAIT s of Mailbox/set") or diag explain $es;
    is($ev->{json}{'@type'}, 'StateChange', '@type StateChange');
    is_deeply([sort keys %{ $ev->{json}{changed} }], [$A], 'only alice\'s account changed');
    is($ev->{json}{changed}{$A}{Mailbox}, $ms->{newState}, 'Mailbox state = Mailbox/set newState');
    ok(!exists $ev->{json}{changed}{$A}{Email}, 'Email did not change');
    like($ev->{id} // '', qr/(?:^|,)\Q$A\E:\d+\.\d+\.\d+\./, 'the event has an id naming the account\'s states');

    my $draft = $t->text_draft('alice', mailboxIds => { $mid => JSON::PP::true });
    my $cr = $t->email_set('alice', { k1 => $draft });
    my $eid = $cr->{created}{k1}{id};
    ok($eid, 'Email/set created an email');
    my %got;
    # the three states may arrive in one event or, across a tick, in two
    my $end = time + $WAIT;
    while (time < $end && !($got{Email} && $got{Thread} && $got{Mailbox}
                            && $got{Email} eq state_of('alice', $A, 'Email'))) {
        my $e = $es->next_named('state', $end - time) or last;
        %got = (%got, %{ $e->{json}{changed}{$A} || {} });
    }
    is($got{Email}, $cr->{newState}, 'Email state = Email/set newState');
    is($got{Email}, state_of('alice', $A, 'Email'), '= Email/get state');
    is($got{Thread}, state_of('alice', $A, 'Thread'), 'Thread state = Thread/get state');
    is($got{Mailbox}, state_of('alice', $A, 'Mailbox'), 'Mailbox counts moved: its state too');
    ok(!exists $got{EmailDelivery}, 'EmailDelivery does not move for Email/set');

    # delivery over LMTP: EmailDelivery moves, with Email
    like(lmtp_deliver('alice@example.com', 'pushed'), qr/^250/, 'LMTP delivered to alice');
    %got = ();
    $end = time + $WAIT;
    while (time < $end && !($got{EmailDelivery} && $got{Email} && $got{Email} eq state_of('alice', $A, 'Email'))) {
        my $e = $es->next_named('state', $end - time) or last;
        %got = (%got, %{ $e->{json}{changed}{$A} || {} });
    }
    ok($got{EmailDelivery}, 'EmailDelivery moved for LMTP delivery');
    is($got{Email}, state_of('alice', $A, 'Email'), 'with the Email state');

    # bob (shared with alice) changes his account: alice's stream hears it
    my $bs = api1('bob', 'Mailbox/set', { accountId => $B, create => { m => { name => 'Bobs' } } });
    my $e = $es->next_named('state', $WAIT);
    ok($e && $e->{json}{changed}{$B}, 'a change in the shared account reaches alice\'s stream');
    is($e && $e->{json}{changed}{$B}{Mailbox}, $bs->{newState}, 'with its new Mailbox state');
    ok($e && !$e->{json}{changed}{$A}, 'and nothing of alice\'s own account');
    $es->close;
}

# --- the types filter ---------------------------------------------------------------
{
    my $es = es_main('alice', 'types=Mailbox&closeafter=no&ping=0');
    is($es->{status}, 200, 'types=Mailbox: 200');
    my $id = (api1('alice', 'Email/query', { accountId => $A, limit => 1 })->{ids} || [])->[0];
    # $flagged changes no counts: Email moves, Mailbox does not
    my $up = api1('alice', 'Email/set', { accountId => $A,
                                          update => { $id => { 'keywords/$flagged' => JSON::PP::true } } });
    ok($up->{updated} && exists $up->{updated}{$id}, 'Email/set flagged an email');
    my $ms = api1('alice', 'Mailbox/set', { accountId => $A, create => { m => { name => 'Filter' } } });
    my $ev = $es->next_named('state', $WAIT);
    ok($ev, 'types=Mailbox: a state event');
    is_deeply($ev && $ev->{json}{changed}, { $A => { Mailbox => $ms->{newState} } },
              'types=Mailbox: the first event holds the Mailbox change only (the Email change was not pushed)');
    $es->close;

    my $ed = es_main('alice', 'types=EmailDelivery,CalendarEvent&closeafter=no&ping=0');
    is($ed->{status}, 200, 'types=EmailDelivery,CalendarEvent (an unknown type ignored): 200');
    my $cr = $t->email_set('alice', { k1 => $t->text_draft('alice') });
    ok($cr->{created}{k1}, 'an Email/set create');
    like(lmtp_deliver('alice@example.com', 'delivery-only'), qr/^250/, 'then an LMTP delivery');
    $ev = $ed->next_named('state', $WAIT);
    is_deeply([sort keys %{ $ev && $ev->{json}{changed}{$A} || {} }], ['EmailDelivery'],
              'types=EmailDelivery: the first event is the delivery, EmailDelivery only');
    $ed->close;
}

# --- closeafter=state, ping, Last-Event-ID ---------------------------------------------
{
    my $es = es_main('alice', 'types=*&closeafter=state&ping=0');
    api1('alice', 'Mailbox/set', { accountId => $A, create => { m => { name => 'Close' } } });
    ok($es->next_named('state', $WAIT), 'closeafter=state: a state event');
    ok($es->wait_closed($WAIT), 'closeafter=state: then the server ends the response');

    my $p = es_main('alice', 'types=*&closeafter=no&ping=1');
    my $t0 = time;
    my $ping = $p->next_named('ping', $WAIT);
    ok($ping, 'ping=1: a ping event');
    is_deeply($ping && $ping->{json}, { interval => 1 }, 'ping data {"interval":1}');
    my $ping2 = $p->next_named('ping', $WAIT);
    ok($ping2 && $ping2->{at} - $ping->{at} > 0.5, 'the next ping about a second later');
    ok(!defined $ping->{id}, 'pings set no event id');
    $p->close;

    # the vhost's JMAPEventSourceMinPing 2: ping=1 is raised to 2
    my $v = es_at($t->vhost_port(0), 'alice', 'types=*&closeafter=no&ping=1');
    $ping = $v->next_named('ping', $WAIT);
    is_deeply($ping && $ping->{json}, { interval => 2 }, 'a clamped ping says the interval used (2)');
    $v->close;

    # Last-Event-ID: a client that comes back hears at once of what it missed
    my $s1 = es_main('alice', $Q);
    api1('alice', 'Mailbox/set', { accountId => $A, create => { m => { name => 'Before' } } });
    my $ev = $s1->next_named('state', $WAIT);
    my $last = $ev && $ev->{id};
    ok($last, 'an event id to come back with');
    $s1->close;
    my $ms = api1('alice', 'Mailbox/set', { accountId => $A, create => { m => { name => 'Missed' } } });
    my $s2 = es_main('alice', $Q, 'Last-Event-ID' => $last);
    $ev = $s2->next_named('state', 2);
    is($ev && $ev->{json}{changed}{$A}{Mailbox}, $ms->{newState},
       'Last-Event-ID: the missed Mailbox change is sent on connection');
    $s2->close;
    my $s3 = es_main('alice', $Q, 'Last-Event-ID' => 'garbage:1');
    is($s3->{status}, 200, 'an id that is not ours: a plain stream');
    ok(!$s3->next_named('state', 1), 'that tells nothing until something changes');
    $s3->close;
}

# --- limits -------------------------------------------------------------------------------
{
    my @open = map { es_free($t->port, 'alice', $Q) } 1 .. 4;
    is_deeply([map { $_->{status} } @open], [200, 200, 200, 200], 'four streams (the limit)');
    my $over = es_main('bob', $Q);
    is($over->{status}, 503, 'a fifth: 503');
    ok(($over->{headers}{'retry-after'} // '') =~ /^\d+$/, 'with Retry-After');
    like($over->{headers}{'content-type'} // '', qr{^application/problem\+json}, 'and a problem document');
    is($over->{json}{status}, 503, 'whose status is 503');
    # a client that goes away gives its place back (found within a second)
    $open[0]->close;
    my $again;
    my $end = time + $WAIT;
    while (time < $end) {
        $again = es_main('bob', $Q);
        last if $again->{status} == 200;
        sleep 0.3;
    }
    is($again->{status}, 200, 'a client gone: its place is free again');
    $_->close for @open[1 .. 3], $again;

    # the vhost's JMAPEventSourceMaxDuration 3
    my $d = es_free($t->vhost_port(0), 'alice', $Q);
    my $t0 = time;
    is($d->{status}, 200, 'vhost stream: 200');
    ok($d->wait_closed(3 + $WAIT), 'JMAPEventSourceMaxDuration 3: the stream is ended');
    cmp_ok($d->{eof_at} - $t0, '>=', 2.5, 'not before its time');
}

# --- graceful restart ends streams; a share removed stops that account's events -------------
{
    my @s = map { es_main('alice', $Q) } 1 .. 2;
    my $pid = $t->{httpd_pid};
    kill 'USR1', $pid;      # graceful restart
    my $t0 = time;
    ok($s[0]->wait_closed($WAIT) && $s[1]->wait_closed($WAIT),
       'a graceful restart ends the open streams (not at MaxDuration)');
    # the new generation takes a moment to answer
    my $ok;
    for (1 .. 50) { $ok = $t->session('alice'); last if $ok; sleep 0.2 }
    ok($ok, 'the server answers after the restart');

    my $conf = do { local (@ARGV, $/) = ($t->conf_file); <> };
    $conf =~ s/^JMAPShareAccount bob alice\n//m or die 'share line not found';
    open(my $fh, '>', $t->conf_file) or die; print $fh $conf; close $fh;
    $t->restart;
    my $es = es_main('alice', $Q);
    is($es->{status}, 200, 'after the share is removed: a stream');
    api1('bob', 'Mailbox/set', { accountId => $B, create => { m => { name => 'Private' } } });
    my $ms = api1('alice', 'Mailbox/set', { accountId => $A, create => { m => { name => 'Own' } } });
    my $ev = $es->next_named('state', $WAIT);
    is_deeply([sort keys %{ $ev && $ev->{json}{changed} || {} }], [$A],
              'bob\'s change is no longer pushed to alice, her own is');
    $es->close;
}

$t->check_error_log();
done_testing;
