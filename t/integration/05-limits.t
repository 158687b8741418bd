# 05-limits.t — the urn:ietf:params:jmap:core limits (RFC 8620 §2) are
# configurable (JMAPMax* directives), advertised exactly as configured and
# enforced: request size/calls (§3.6.1), /get and /set object counts (§5.1,
# §5.3), upload size (§6.1), concurrency (per user, across processes).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $MAIL = 'urn:ietf:params:jmap:mail';
my $json = JSON::PP->new->utf8->canonical;

my %LIMITS = (
    JMAPMaxSizeUpload         => [maxSizeUpload         => 1000],
    JMAPMaxConcurrentUpload   => [maxConcurrentUpload   => 1],
    JMAPMaxSizeRequest        => [maxSizeRequest        => 5000],
    JMAPMaxConcurrentRequests => [maxConcurrentRequests => 1],
    JMAPMaxCallsInRequest     => [maxCallsInRequest     => 3],
    JMAPMaxObjectsInGet       => [maxObjectsInGet       => 5],
    JMAPMaxObjectsInSet       => [maxObjectsInSet       => 7],
);
my $t = JMAPTest->new(ldap => 0,
    extra_conf => join('', map { "$_ $LIMITS{$_}[1]\n" } sort keys %LIMITS));
my $s = $t->session('alice');
ok($s, 'session') or do { done_testing; exit };
my $core = $s->{capabilities}{$CORE} || {};
my $acct = $t->account_id('alice');

subtest 'configured limits are advertised' => sub {
    for my $d (sort keys %LIMITS) {
        my ($prop, $val) = @{ $LIMITS{$d} };
        is($core->{$prop}, $val, "$d $val -> $prop $val");
    }
};

subtest 'maxCallsInRequest 3' => sub {
    my $r = $t->api('alice', [$CORE], [map { ['Core/echo', {}, "c$_"] } 1 .. 3]);
    ok($r, '3 calls accepted');
    my ($st, $h, $body) = $t->api_raw('alice',
        $json->encode({ using => [$CORE], methodCalls => [map { ['Core/echo', {}, "c$_"] } 1 .. 4] }));
    $t->problem_ok($st, $h, $body, 400, 'limit', '4 calls rejected', limit => 'maxCallsInRequest');
};

subtest 'maxSizeRequest 5000' => sub {
    my $shell = $json->encode({ using => [$CORE], methodCalls => [['Core/echo', { p => '' }, 'c']] });
    my $ok = $json->encode({ using => [$CORE],
        methodCalls => [['Core/echo', { p => 'y' x (5000 - length $shell) }, 'c']] });
    is(length $ok, 5000, '5000-byte request built');
    my ($st) = $t->api_raw('alice', $ok);
    is($st, 200, '5000 bytes accepted');
    my $big = $json->encode({ using => [$CORE],
        methodCalls => [['Core/echo', { p => 'y' x (5001 - length $shell) }, 'c']] });
    my ($st2, $h, $body) = $t->api_raw('alice', $big);
    $t->problem_ok($st2, $h, $body, [400, 413], 'limit', '5001 bytes rejected', limit => 'maxSizeRequest');
};

subtest 'maxObjectsInGet 5' => sub {
    my $r = $t->api('alice', [$CORE, $MAIL],
        [['Mailbox/get', { accountId => $acct, ids => [map { "n$_" } 1 .. 5] }, 'g']]);
    is($r && $r->{methodResponses}[0][0], 'Mailbox/get', '5 ids accepted');
    $r = $t->api('alice', [$CORE, $MAIL],
        [['Mailbox/get', { accountId => $acct, ids => [map { "n$_" } 1 .. 6] }, 'g']]);
    is($r && $r->{methodResponses}[0][0], 'error', '6 ids: error');
    is($r && $r->{methodResponses}[0][1]{type}, 'requestTooLarge', 'requestTooLarge (§5.1)');
};

subtest 'maxObjectsInSet 7 (§5.3 requestTooLarge)' => sub {
    my %create = map { ("k$_" => { name => "limit test $_" }) } 1 .. 4;
    my @destroy = map { "nx$_" } 1 .. 4;     # 4 creates + 4 destroys = 8 > 7
    my $r = $t->api('alice', [$CORE, $MAIL],
        [['Mailbox/set', { accountId => $acct, create => \%create, destroy => \@destroy }, 's']]);
    my $inv = $r && $r->{methodResponses}[0];
    if ($inv && $inv->[0] eq 'error' && $inv->[1]{type} eq 'unknownMethod') {
        plan skip_all => 'Mailbox/set not implemented';
    }
    is($inv && $inv->[0], 'error', '8 objects in one /set: error');
    is($inv && $inv->[1]{type}, 'requestTooLarge', 'requestTooLarge');
    my $g = $t->api('alice', [$CORE, $MAIL], [['Mailbox/get', { accountId => $acct }, 'g']]);
    ok(!(grep { ($_->{name} // '') =~ /^limit test/ } @{ $g->{methodResponses}[0][1]{list} || [] }),
       'nothing was created (§3.6.2: no state change on a method error)');
};

subtest 'maxSizeUpload 1000 (§6.1)' => sub {
    my $r = $t->upload('alice', $acct, 'u' x 1000, 'application/octet-stream');
    # RFC 8620 §6.1 only says "a successful request": 200 or 201.
    ok($r->{status} == 200 || $r->{status} == 201, "1000 bytes: success ($r->{status})")
        or diag($r->{content});
    ok($r->{json} && $r->{json}{blobId}, 'blobId returned');
    is($r->{json} && $r->{json}{size}, 1000, 'size 1000');
    $r = $t->upload('alice', $acct, 'u' x 1001, 'application/octet-stream');
    $t->problem_ok($r->{status}, $r->{headers}, $r->{content}, [400, 413], 'limit',
                   '1001 bytes rejected', limit => 'maxSizeUpload');
};

# Concurrency. What the server guarantees (conf.d/jmap_smime.conf): a
# request counts against maxConcurrentRequests (an upload against
# maxConcurrentUpload) from the moment its handler starts - after
# authentication, before its body is read - until its response is done;
# the count is per user and shared by all httpd processes.
#
# A request is held open deterministically with "Expect: 100-continue":
# httpd sends "100 Continue" only when the handler starts to read the body,
# which it does after it has counted the request. Once the client has seen
# the 100, the request is in flight; the client then sends part of the
# body and keeps the rest back.
sub hold_open {
    my ($srv, $user, $path, $ctype, $total) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $srv->port,
                                     Proto => 'tcp', Timeout => 10)
        or return undef;
    my $auth = encode_base64("$user:${user}pw", '');
    print $sock "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic $auth\r\n"
              . "Content-Type: $ctype\r\nContent-Length: $total\r\n"
              . "Expect: 100-continue\r\n\r\n";
    $sock->flush;
    my $sel = IO::Select->new($sock);
    my $got = '';
    while ($got !~ /\r\n\r\n/) {
        return undef unless $sel->can_read(10);
        sysread($sock, $got, 512, length $got) or return undef;
    }
    unless ($got =~ m{^HTTP/1\.1 100 }) {
        diag("expected 100 Continue, got: " . substr($got, 0, 200));
        return undef;
    }
    print $sock '{';
    $sock->flush;
    return $sock;
}

# After the held request's client went away the server ends it (the body
# read fails) and releases its slot: poll until a request gets through.
sub eventually_ok {
    my ($try) = @_;
    my $end = time + 10;
    while (time < $end) {
        my $st = $try->();
        return 1 if $st == 200 || $st == 201;
        sleep 0.1;
    }
    return 0;
}

my $echo = $json->encode({ using => [$CORE], methodCalls => [['Core/echo', {}, 'c']] });

subtest 'maxConcurrentRequests 1' => sub {
    my $sock = hold_open($t, 'alice', '/jmap/api', 'application/json', 200);
    ok($sock, 'first request in flight (its body incomplete)') or return;
    my ($st, $h, $body) = $t->api_raw('alice', $echo);
    $t->problem_ok($st, $h, $body, [400, 429, 503], 'limit', 'a second concurrent request is rejected',
                   limit => 'maxConcurrentRequests');
    ($st) = $t->api_raw('bob', $echo);
    is($st, 200, 'per user: bob\'s request is served meanwhile');
    close $sock;
    ok(eventually_ok(sub { ($t->api_raw('alice', $echo))[0] }),
       'once the first request is gone, requests work again');
};

subtest 'maxConcurrentUpload 1' => sub {
    my $sock = hold_open($t, 'alice', "/jmap/upload/$acct/", 'application/octet-stream', 900);
    ok($sock, 'first upload in flight (its body incomplete)') or return;
    my $r = $t->upload('alice', $acct, 'second', 'text/plain');
    $t->problem_ok($r->{status}, $r->{headers}, $r->{content}, [400, 429, 503], 'limit',
                   'a second concurrent upload is rejected', limit => 'maxConcurrentUpload');
    my ($st) = $t->api_raw('alice', $echo);
    is($st, 200, 'an upload does not count against maxConcurrentRequests');
    close $sock;
    ok(eventually_ok(sub { $t->upload('alice', $acct, 'third', 'text/plain')->{status} }),
       'uploads work again afterwards');
};

subtest 'the count is shared by all httpd processes (prefork: one connection per process)' => sub {
    my $p = JMAPTest->new(ldap => 0, pki => 0, smtp => 0, mpm => 'prefork',
                          extra_conf => "JMAPMaxConcurrentRequests 1\n");
    my $sock = hold_open($p, 'alice', '/jmap/api', 'application/json', 200);
    ok($sock, 'alice\'s first request in flight in one process') or return;
    my ($st, $h, $body) = $p->api_raw('alice', $echo);
    $p->problem_ok($st, $h, $body, [400, 429, 503], 'limit',
                   'her second request, in another process, is rejected',
                   limit => 'maxConcurrentRequests');
    ($st) = $p->api_raw('bob', $echo);
    is($st, 200, 'bob is served');
    close $sock;
    ok(eventually_ok(sub { ($p->api_raw('alice', $echo))[0] }), 'and then alice again');
    $p->check_error_log;
    $p->stop;
};

subtest 'a child killed while it serves a request gives its count back' => sub {
    # its request pool's cleanup never runs; the parent clears the count of
    # a child that exits (child_status), or one crash would lock alice out
    my $p = JMAPTest->new(ldap => 0, pki => 0, smtp => 0, mpm => 'prefork',
                          extra_conf => "JMAPMaxConcurrentRequests 1\n",
                          expected_errors => [qr/AH00052|exit signal|Killed/]);
    my @before = $p->child_pids;
    my $sock = hold_open($p, 'alice', '/jmap/api', 'application/json', 200);
    ok($sock, 'alice\'s request in flight') or return;
    my ($st) = $p->api_raw('alice', $echo);
    is($st, 429, 'a second one is refused while it is');
    kill 'KILL', @before;          # the one serving her is among them
    my $end = time + 15;
    sleep 0.2 while time < $end && !grep { my $c = $_; !grep { $_ == $c } @before } $p->child_pids;
    close $sock;
    my $ok = 0;
    $end = time + 10;
    while (!$ok && time < $end) {
        ($st) = $p->api_raw('alice', $echo);
        $ok = $st == 200;
        sleep 0.2 unless $ok;
    }
    ok($ok, 'after the children were killed alice is served again (got ' . $st . ')');
    $p->stop;
};

subtest 'bad limit values are refused at startup' => sub {
    for my $bad ('JMAPMaxCallsInRequest 0', 'JMAPMaxSizeUpload -5', 'JMAPMaxObjectsInGet lots',
                 'JMAPMaxSizeRequest 10MB') {
        my $p = eval { JMAPTest->new(ldap => 0, pki => 0, smtp => 0, quiet_start_failure => 1,
                                     extra_conf => "$bad\n") };
        ok(!$p, "'$bad' stops httpd from starting");
        my ($name) = split ' ', $bad;
        like($@, qr/\Q$name\E/, 'the message names the directive') if !$p;
        $p->stop if $p;
    }
};

$t->check_error_log;
done_testing;
