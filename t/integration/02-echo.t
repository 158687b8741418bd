# 02-echo.t — Core/echo (RFC 8620 §4), method call ids, ordering, `using`,
# sessionState (§3.4).
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $MAIL = 'urn:ietf:params:jmap:mail';
my $json = JSON::PP->new->utf8->canonical;

my $t = JMAPTest->new(ldap => 0);
my $s = $t->session('alice');
ok($s, 'session for alice') or do { done_testing; exit };

subtest 'Core/echo returns its arguments unchanged' => sub {
    my $args = {
        hello   => JSON::PP::true, nothing => undef, int => 42, neg => -7, float => 1.5,
        str     => "ünïcödé ✓ \x{1F600}", empty => '', nested => { a => [1, 2, { b => 'c' }] },
        list    => [], obj => {}, 'key with spaces' => 'v', quote => "\"\\/\n\t",
    };
    my $r = $t->api('alice', [$CORE], [['Core/echo', $args, 'c1']]);
    ok($r, 'response') or return;
    is(ref $r->{methodResponses}, 'ARRAY', 'methodResponses is an array') or return;
    is(scalar @{ $r->{methodResponses} }, 1, 'one response');
    my $m = $r->{methodResponses}[0];
    is($m->[0], 'Core/echo', 'response name Core/echo');
    is_deeply($m->[1], $args, 'arguments echoed exactly (types, unicode, nesting)');
    is($m->[2], 'c1', 'call id echoed');
    is(scalar @$m, 3, 'invocation has exactly 3 elements');
};

subtest 'empty arguments' => sub {
    my $r = $t->api('alice', [$CORE], [['Core/echo', {}, 'e']]);
    is_deeply($r && $r->{methodResponses}, [['Core/echo', {}, 'e']], 'echo of {}');
};

subtest 'call ids are echoed verbatim' => sub {
    my @ids = ('', 'a b', "ü\x{2603}", '#x', '0', 'x' x 200, '"quoted"');
    my $r = $t->api('alice', [$CORE], [map { ['Core/echo', { i => $_ }, $ids[$_]] } 0 .. $#ids]);
    ok($r, 'response') or return;
    is_deeply([map { $_->[2] } @{ $r->{methodResponses} }], \@ids, 'all ids, in order');
    is_deeply([map { $_->[1]{i} } @{ $r->{methodResponses} }], [0 .. $#ids], 'matching arguments');
};

subtest 'several calls are processed in order' => sub {
    my @calls = map { ['Core/echo', { n => $_ }, "c$_"] } 1 .. 10;
    my $r = $t->api('alice', [$CORE], \@calls);
    is_deeply($r && $r->{methodResponses}, \@calls, '10 echoes in request order');
    # The same call id twice is allowed: responses still come in order.
    $r = $t->api('alice', [$CORE], [['Core/echo', { a => 1 }, 'same'], ['Core/echo', { a => 2 }, 'same']]);
    is_deeply($r && $r->{methodResponses},
              [['Core/echo', { a => 1 }, 'same'], ['Core/echo', { a => 2 }, 'same']],
              'duplicate call ids: both answered, in order');
};

subtest 'no method calls' => sub {
    my $r = $t->api('alice', [$CORE], []);
    ok($r, 'empty methodCalls is a valid request') or return;
    is_deeply($r->{methodResponses}, [], 'empty methodResponses');
};

subtest 'sessionState (§3.4)' => sub {
    my $r = $t->api('alice', [$CORE], [['Core/echo', {}, 'c1']]);
    ok(defined $r->{sessionState} && !ref $r->{sessionState}, 'sessionState present');
    is($r->{sessionState}, $s->{state}, 'equals the session object\'s state');
    ok(!exists $r->{createdIds}, 'no createdIds when the request had none (§3.4)');
    my $b = $t->session('bob');
    my $rb = $t->api('bob', [$CORE], [['Core/echo', {}, 'c1']]);
    is($rb->{sessionState}, $b->{state}, 'bob: sessionState equals his session state');
};

subtest 'methods need their capability in `using`' => sub {
    # RFC 8620 §2 (clients MUST opt in to any capability they use) and §3.3:
    # a method of a capability missing from `using` is not available in this
    # request, so the server answers it like any unknown method (§3.6.2).
    my $acct = $t->account_id('alice');
    my $r = $t->api('alice', [$CORE], [['Mailbox/get', { accountId => $acct }, 'm'],
                                       ['Core/echo', { after => 1 }, 'e']]);
    ok($r, 'request accepted') or return;
    is($r->{methodResponses}[0][0], 'error', 'Mailbox/get without mail capability: error');
    is($r->{methodResponses}[0][1]{type}, 'unknownMethod', 'type unknownMethod');
    is($r->{methodResponses}[0][2], 'm', 'call id kept on the error');
    is_deeply($r->{methodResponses}[1], ['Core/echo', { after => 1 }, 'e'], 'next call still processed');

    $r = $t->api('alice', [$CORE, $MAIL], [['Mailbox/get', { accountId => $acct }, 'm']]);
    is($r && $r->{methodResponses}[0][0], 'Mailbox/get', 'with the mail capability Mailbox/get works');

    # "urn:ietf:params:jmap:core ... MUST be included in the using list" (§3.3).
    # The RFC does not say how the server reacts; accept a request-level
    # notRequest or a method-level unknownMethod for Core/echo, never success.
    for my $using ([$MAIL], []) {
        my ($st, $h, $body) = $t->api_raw('alice',
            $json->encode({ using => $using, methodCalls => [['Core/echo', { x => 1 }, 'c']] }));
        my $d = eval { $json->decode($body) } || {};
        my $desc = 'using [' . join(',', @$using) . ']';
        if ($st == 200) {
            is($d->{methodResponses}[0][0], 'error', "$desc: Core/echo is an error");
            is($d->{methodResponses}[0][1]{type}, 'unknownMethod', "$desc: unknownMethod");
        } else {
            is($st, 400, "$desc: request rejected with 400");
            like($d->{type} // '', qr/^urn:ietf:params:jmap:error:(notRequest|unknownCapability)$/,
                 "$desc: notRequest problem");
        }
    }
};

subtest 'extra capabilities in `using` are fine' => sub {
    my @caps = sort keys %{ $s->{capabilities} };
    my $r = $t->api('alice', \@caps, [['Core/echo', { all => 1 }, 'c']]);
    is_deeply($r && $r->{methodResponses}, [['Core/echo', { all => 1 }, 'c']],
              'all advertised capabilities in using: echo works');
    $r = $t->api('alice', [$CORE, $CORE], [['Core/echo', {}, 'c']]);
    ok($r, 'duplicate capability in using accepted');
};

$t->check_error_log;
done_testing;
