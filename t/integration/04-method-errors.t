# 04-method-errors.t — method-level errors (RFC 8620 §3.6.2), result references
# (§3.7), createdIds (§3.3/§3.4) and the /get limit (§5.1).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $MAIL = 'urn:ietf:params:jmap:mail';
my @USING = ($CORE, $MAIL);

my $t = JMAPTest->new(ldap => 0);
my $s = $t->session('alice');
ok($s, 'session') or do { done_testing; exit };
my $acct = $t->account_id('alice');
my $bob_acct = $t->account_id('bob');
ok($acct && $bob_acct && $acct ne $bob_acct, 'alice and bob have distinct accounts');

# One call; returns its (only) response invocation.
sub call1 {
    my ($method, $args, $user) = @_;
    my $r = $t->api($user || 'alice', [@USING], [[$method, $args, 'x']]);
    return $r ? $r->{methodResponses}[0] : undef;
}

sub error_is {
    my ($inv, $type, $name) = @_;
    subtest $name => sub {
        ok($inv, 'got a response') or return;
        is($inv->[0], 'error', 'response name "error"') or diag(JSON::PP->new->canonical->encode($inv));
        is($inv->[1]{type}, $type, "type $type");
        is($inv->[2], 'x', 'call id kept');
        ok(!defined $inv->[1]{description} || !ref $inv->[1]{description}, 'description, if any, is a string');
    };
}

# --- unknownMethod -------------------------------------------------------------------
error_is(call1('Foo/bar', {}), 'unknownMethod', 'Foo/bar: unknownMethod');
error_is(call1('Core/Echo', {}), 'unknownMethod', 'method names are case-sensitive: Core/Echo');
error_is(call1('', {}), 'unknownMethod', 'empty method name');
error_is(call1('Mailbox/get/extra', { accountId => $acct }), 'unknownMethod', 'Mailbox/get/extra');

# --- invalidArguments ----------------------------------------------------------------
error_is(call1('Mailbox/get', { accountId => $acct, ids => 'notarray' }), 'invalidArguments',
         'Mailbox/get ids "notarray"');
error_is(call1('Mailbox/get', { accountId => $acct, ids => [1, 2] }), 'invalidArguments',
         'Mailbox/get ids of numbers');
error_is(call1('Mailbox/get', { accountId => $acct, properties => 5 }), 'invalidArguments',
         'Mailbox/get properties 5');
error_is(call1('Mailbox/get', { accountId => $acct, properties => ['name', 'noSuchProperty'] }),
         'invalidArguments', 'Mailbox/get unknown property (§5.1 MUST)');
error_is(call1('Mailbox/get', {}), 'invalidArguments', 'Mailbox/get without accountId');
error_is(call1('Mailbox/get', { accountId => 17 }), 'invalidArguments', 'Mailbox/get accountId a number');

# --- accountNotFound -------------------------------------------------------------------
error_is(call1('Mailbox/get', { accountId => $bob_acct }), 'accountNotFound',
         "alice using bob's account id");
error_is(call1('Mailbox/get', { accountId => 'Anonexistent123' }), 'accountNotFound',
         'made-up account id');
subtest 'bob can use his own account' => sub {
    my $inv = call1('Mailbox/get', { accountId => $bob_acct }, 'bob');
    is($inv && $inv->[0], 'Mailbox/get', 'Mailbox/get');
    is($inv && $inv->[1]{accountId}, $bob_acct, 'accountId in the response');
};

# --- Mailbox/get basics (§5.1) --------------------------------------------------------------
my $mbget = call1('Mailbox/get', { accountId => $acct, ids => undef });
subtest 'Mailbox/get response shape' => sub {
    is($mbget && $mbget->[0], 'Mailbox/get', 'Mailbox/get response') or return;
    my $a = $mbget->[1];
    is($a->{accountId}, $acct, 'accountId');
    ok(defined $a->{state} && !ref $a->{state}, 'state string');
    is(ref $a->{list}, 'ARRAY', 'list array');
    is_deeply($a->{notFound}, [], 'notFound empty when ids is null');
};
my @mailbox_ids = map { $_->{id} } @{ ($mbget && $mbget->[1]{list}) || [] };
diag('alice has ' . scalar(@mailbox_ids) . ' mailboxes');

subtest 'duplicate and unknown ids (§5.1)' => sub {
    my $inv = call1('Mailbox/get', { accountId => $acct, ids => ['nope1', 'nope1', 'nope2'] });
    is($inv && $inv->[0], 'Mailbox/get', 'Mailbox/get') or return;
    is_deeply([sort @{ $inv->[1]{notFound} }], ['nope1', 'nope2'], 'each unknown id once in notFound');
    is_deeply($inv->[1]{list}, [], 'empty list');
};

# --- both ids and #ids: invalidArguments (§3.7) ------------------------------------------------
subtest 'an argument both plain and referenced (§3.7)' => sub {
    my $r = $t->api('alice', [@USING], [
        ['Mailbox/get', { accountId => $acct }, 'g1'],
        ['Mailbox/get', { accountId => $acct, ids => [],
                          '#ids' => { resultOf => 'g1', name => 'Mailbox/get', path => '/list/*/id' } }, 'g2'],
    ]);
    my $inv = JMAPTest->response_for($r, 'g2');
    is($inv && $inv->[0], 'error', 'error');
    is($inv && $inv->[1]{type}, 'invalidArguments', 'invalidArguments');
};

# --- result references (§3.7) ------------------------------------------------------------------
# Core/echo is the most transparent way to see what a reference resolved to:
# the server resolves "#name" arguments before any method runs (§3.7).
my $src = { list => [ { id => 'a', n => [1, 2] }, { id => 'b', n => [3] }, { id => 'c', n => [] } ],
            'we/ird~key' => 'slash-tilde', obj => { k => 'v' }, zero => [ 'z0', 'z1' ] };
sub resolve {
    my ($path, %ref) = @_;
    my $r = $t->api('alice', [$CORE], [
        ['Core/echo', $src, 'src'],
        ['Core/echo', { '#v' => { resultOf => 'src', name => 'Core/echo', path => $path, %ref } }, 'ref'],
    ]);
    return JMAPTest->response_for($r, 'ref');
}
for my $case (
    ['/list/*/id',    [qw(a b c)],         'array of ids through *'],
    ['/list/*/n',     [1, 2, 3],           '* flattens arrays of arrays'],
    ['/list/0/id',    'a',                 'array index'],
    ['/list/2/n',     [],                  'empty array value'],
    ['/obj',          { k => 'v' },        'object value'],
    ['/obj/k',        'v',                 'nested member'],
    ['/we~1ird~0key', 'slash-tilde',       '~1 and ~0 escapes (RFC 6901)'],
    ['/zero/1',       'z1',                'second element'],
) {
    my ($path, $want, $name) = @$case;
    my $inv = resolve($path);
    subtest "reference $path: $name" => sub {
        is($inv && $inv->[0], 'Core/echo', 'resolved') or do { diag(JSON::PP->new->encode($inv)); return };
        is_deeply($inv->[1], { v => $want }, 'value') or diag(JSON::PP->new->canonical->encode($inv->[1]));
    };
}

for my $case (
    [{ resultOf => 'nosuchcall', name => 'Core/echo', path => '/list' }, 'unknown resultOf'],
    [{ resultOf => 'src', name => 'Mailbox/get', path => '/list' },     'name does not match the response'],
    [{ resultOf => 'src', name => 'Core/echo', path => '/nosuchkey' },  'path to a missing member'],
    [{ resultOf => 'src', name => 'Core/echo', path => '/list/7/id' },  'index out of range'],
    [{ resultOf => 'src', name => 'Core/echo', path => '/list/x/id' },  'non-numeric index'],
    [{ resultOf => 'src', name => 'Core/echo', path => '/list/*/nosuch' }, '* over items without the member'],
    [{ resultOf => 'src', name => 'Core/echo', path => 'list' },        'path without leading /'],
    [{ resultOf => 'src', name => 'Core/echo', path => '/obj/*' },       '* on an object'],
    [{ resultOf => 'src', name => 'Core/echo' },                        'path missing'],
    [{ name => 'Core/echo', path => '/list' },                          'resultOf missing'],
    [{ resultOf => 'src', path => '/list' },                            'name missing'],
    [{ resultOf => 'src', name => 'Core/echo', path => 5 },             'path not a string'],
) {
    my ($ref, $name) = @$case;
    my $r = $t->api('alice', [$CORE], [
        ['Core/echo', $src, 'src'],
        ['Core/echo', { '#v' => $ref }, 'ref'],
        ['Core/echo', { after => 1 }, 'next'],
    ]);
    subtest "bad reference: $name" => sub {
        my $inv = JMAPTest->response_for($r, 'ref');
        is($inv && $inv->[0], 'error', 'error') or return;
        # A malformed ResultReference object could arguably be invalidArguments.
        if ($name =~ /missing|not a string/) {
            like($inv->[1]{type}, qr/^(invalidResultReference|invalidArguments)$/, 'invalidResultReference');
        } else {
            is($inv->[1]{type}, 'invalidResultReference', 'invalidResultReference');
        }
        is_deeply(JMAPTest->response_for($r, 'next'), ['Core/echo', { after => 1 }, 'next'],
                  'following call still processed');
    };
}
subtest 'reference to a later call fails' => sub {
    my $r = $t->api('alice', [$CORE], [
        ['Core/echo', { '#v' => { resultOf => 'later', name => 'Core/echo', path => '/a' } }, 'ref'],
        ['Core/echo', { a => 1 }, 'later'],
    ]);
    my $inv = JMAPTest->response_for($r, 'ref');
    is($inv && $inv->[1]{type}, 'invalidResultReference', 'invalidResultReference');
};
subtest 'reference to an error response fails' => sub {
    my $r = $t->api('alice', [$CORE], [
        ['Foo/bar', {}, 'bad'],
        ['Core/echo', { '#v' => { resultOf => 'bad', name => 'Foo/bar', path => '/type' } }, 'ref'],
    ]);
    my $inv = JMAPTest->response_for($r, 'ref');
    is($inv && $inv->[1]{type}, 'invalidResultReference', 'the response is named "error", not Foo/bar');
};

subtest 'Mailbox/get then Mailbox/get with #ids /list/*/id (§3.7)' => sub {
    my $r = $t->api('alice', [@USING], [
        ['Mailbox/get', { accountId => $acct, ids => undef }, 'g1'],
        ['Mailbox/get', { accountId => $acct, properties => ['name'],
                          '#ids' => { resultOf => 'g1', name => 'Mailbox/get', path => '/list/*/id' } }, 'g2'],
    ]);
    my $g1 = JMAPTest->response_for($r, 'g1');
    my $g2 = JMAPTest->response_for($r, 'g2');
    is($g2 && $g2->[0], 'Mailbox/get', 'second Mailbox/get resolved') or return;
    is_deeply([sort map { $_->{id} } @{ $g2->[1]{list} }], [sort map { $_->{id} } @{ $g1->[1]{list} }],
              'same mailboxes');
    is_deeply($g2->[1]{notFound}, [], 'none missing');
    ok(!(grep { exists $_->{role} || exists $_->{parentId} } @{ $g2->[1]{list} }),
       'properties honoured (only id and name)');
    ok(!(grep { !exists $_->{id} } @{ $g2->[1]{list} }), 'id always returned (§5.1)');
};

# --- createdIds (§3.3, §3.4) ------------------------------------------------------------------------
subtest 'createdIds round trip' => sub {
    my $r = $t->api('alice', [$CORE], [['Core/echo', {}, 'c1']], createdIds => { k1 => 'id1', k2 => 'id2' });
    ok($r, 'response') or return;
    is(ref $r->{createdIds}, 'HASH', 'createdIds in the response');
    is($r->{createdIds}{k1}, 'id1', 'k1 kept');
    is($r->{createdIds}{k2}, 'id2', 'k2 kept');
    $r = $t->api('alice', [$CORE], [['Core/echo', {}, 'c1']], createdIds => {});
    is_deeply($r && $r->{createdIds}, {}, 'empty createdIds echoed as {}');
};

# --- maxObjectsInGet: requestTooLarge (§5.1) ---------------------------------------------------------
SKIP: {
    my $max = $s->{capabilities}{$CORE}{maxObjectsInGet};
    skip 'maxObjectsInGet not advertised', 2 unless $max && $max =~ /^\d+$/ && $max < 100000;
    my @ids = map { "nx$_" } 1 .. $max;
    my $inv = call1('Mailbox/get', { accountId => $acct, ids => \@ids });
    is($inv && $inv->[0], 'Mailbox/get', "exactly maxObjectsInGet ($max) ids: accepted");
    push @ids, 'one-more';
    error_is(call1('Mailbox/get', { accountId => $acct, ids => \@ids }), 'requestTooLarge',
             'maxObjectsInGet + 1 ids: requestTooLarge');
}

# --- an error does not stop the request (§3.6.2) ---------------------------------------------------------
subtest 'method errors do not stop later calls' => sub {
    my $r = $t->api('alice', [@USING], [
        ['Foo/bar', {}, 'c1'],
        ['Mailbox/get', { accountId => 'Anope' }, 'c2'],
        ['Core/echo', { ok => 1 }, 'c3'],
    ]);
    ok($r, 'HTTP 200 despite method errors (§3.6.2 MUST NOT generate an HTTP-level error)') or return;
    is(scalar @{ $r->{methodResponses} }, 3, 'three responses');
    is($r->{methodResponses}[0][1]{type}, 'unknownMethod', 'first: unknownMethod');
    is($r->{methodResponses}[1][1]{type}, 'accountNotFound', 'second: accountNotFound');
    is_deeply($r->{methodResponses}[2], ['Core/echo', { ok => 1 }, 'c3'], 'third processed');
    is($r->{sessionState}, $s->{state}, 'sessionState');
};

$t->check_error_log;
done_testing;
