# 03-request-errors.t — request-level errors (RFC 8620 §3.6.1): problem details
# (RFC 7807, application/problem+json) with the JMAP type URNs, never a 500.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use HTTP::Tiny;
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $json = JSON::PP->new->utf8->canonical;

my $t = JMAPTest->new(ldap => 0);
my $s = $t->session('alice');
ok($s, 'session') or do { done_testing; exit };
my $core = $s->{capabilities}{$CORE} || {};

sub echo_req { $json->encode({ using => [$CORE], methodCalls => [['Core/echo', { @_ }, 'c1']] }) }

# post BODY expecting PROBLEM TYPE (400) — one subtest
sub bad {
    my ($name, $body, $type, %opt) = @_;
    my %h = %{ $opt{headers} || {} };
    my ($st, $hdr, $resp) = $t->api_raw('alice', $body, %h);
    $t->problem_ok($st, $hdr, $resp, $opt{status} || 400, $type, $name,
                   $opt{limit} ? (limit => $opt{limit}) : ());
}

subtest 'a valid request works (baseline)' => sub {
    my ($st, $h, $body) = $t->api_raw('alice', echo_req(x => 1));
    is($st, 200, 'status 200');
    like($h->{'content-type'} // '', qr{^application/json\b}i, 'application/json');
};

# --- notJSON --------------------------------------------------------------------
bad('truncated JSON', '{"using": ["urn:ietf:params:jmap:core"], "methodCalls": [', 'notJSON');
bad('garbage', 'hello world', 'notJSON');
bad('empty body', '', 'notJSON');
bad('trailing garbage after the object', echo_req() . ' x', 'notJSON');
bad('invalid UTF-8 in a string (I-JSON, RFC 7493 §2.1)',
    qq({"using":["$CORE"],"methodCalls":[["Core/echo",{"a":"\xff\xfe\xc3"},"c1"]]}), 'notJSON');
bad('overlong UTF-8 encoding', qq({"using":["$CORE"],"methodCalls":[["Core/echo",{"a":"\xc0\xaf"},"c1"]]}),
    'notJSON');
bad('lone surrogate escape (I-JSON §2.1)',
    qq({"using":["$CORE"],"methodCalls":[["Core/echo",{"a":"\\ud800"},"c1"]]}), 'notJSON');
bad('duplicate member names (I-JSON §2.3)',
    qq({"using":["$CORE"],"using":["$CORE"],"methodCalls":[]}), 'notJSON');
bad('Content-Type text/plain (§3.6.1: "was not application/json")', echo_req(), 'notJSON',
    headers => { 'Content-Type' => 'text/plain' });

subtest 'Content-Type with a charset parameter is accepted' => sub {
    my ($st) = $t->api_raw('alice', echo_req(), 'Content-Type' => 'application/json; charset=utf-8');
    is($st, 200, 'application/json; charset=utf-8: 200');
};

# --- notRequest ---------------------------------------------------------------------
bad('JSON array, not an object', '[]', 'notRequest');
bad('JSON string, not an object', '"x"', 'notRequest');
bad('JSON number, not an object', '42', 'notRequest');
bad('JSON null', 'null', 'notRequest');
bad('missing using', qq({"methodCalls":[["Core/echo",{},"c1"]]}), 'notRequest');
bad('missing methodCalls', qq({"using":["$CORE"]}), 'notRequest');
bad('using is a string', qq({"using":"$CORE","methodCalls":[]}), 'notRequest');
bad('using is null', qq({"using":null,"methodCalls":[]}), 'notRequest');
bad('using holds a number', qq({"using":["$CORE",1],"methodCalls":[]}), 'notRequest');
bad('using holds an object', qq({"using":[{}],"methodCalls":[]}), 'notRequest');
bad('methodCalls is an object', qq({"using":["$CORE"],"methodCalls":{}}), 'notRequest');
bad('methodCalls is a string', qq({"using":["$CORE"],"methodCalls":"Core/echo"}), 'notRequest');
bad('methodCalls is null', qq({"using":["$CORE"],"methodCalls":null}), 'notRequest');
bad('invocation with 2 elements', qq({"using":["$CORE"],"methodCalls":[["Core/echo",{}]]}), 'notRequest');
bad('invocation with 4 elements', qq({"using":["$CORE"],"methodCalls":[["Core/echo",{},"c1","x"]]}),
    'notRequest');
bad('invocation that is a string', qq({"using":["$CORE"],"methodCalls":["Core/echo"]}), 'notRequest');
bad('invocation that is an object',
    qq({"using":["$CORE"],"methodCalls":[{"name":"Core/echo","args":{},"id":"c1"}]}), 'notRequest');
bad('method name not a string', qq({"using":["$CORE"],"methodCalls":[[1,{},"c1"]]}), 'notRequest');
bad('arguments an array', qq({"using":["$CORE"],"methodCalls":[["Core/echo",[],"c1"]]}), 'notRequest');
bad('arguments null', qq({"using":["$CORE"],"methodCalls":[["Core/echo",null,"c1"]]}), 'notRequest');
bad('call id a number', qq({"using":["$CORE"],"methodCalls":[["Core/echo",{},1]]}), 'notRequest');
bad('call id null', qq({"using":["$CORE"],"methodCalls":[["Core/echo",{},null]]}), 'notRequest');
bad('second invocation malformed (no partial processing)',
    qq({"using":["$CORE"],"methodCalls":[["Core/echo",{},"c1"],["Core/echo",{}]]}), 'notRequest');
bad('createdIds is an array', qq({"using":["$CORE"],"methodCalls":[],"createdIds":[]}), 'notRequest');
bad('createdIds is a string', qq({"using":["$CORE"],"methodCalls":[],"createdIds":"x"}), 'notRequest');
bad('createdIds value is not a string',
    qq({"using":["$CORE"],"methodCalls":[],"createdIds":{"k1":1}}), 'notRequest');

subtest 'unknown Request properties are ignored (§3.3)' => sub {
    my ($st, $h, $body) = $t->api_raw('alice',
        qq({"using":["$CORE"],"methodCalls":[["Core/echo",{"a":1},"c1"]],"futureThing":{"x":[1]}}));
    is($st, 200, 'status 200');
    my $d = eval { $json->decode($body) } || {};
    is_deeply($d->{methodResponses}, [['Core/echo', { a => 1 }, 'c1']], 'echo processed');
};

# --- unknownCapability -----------------------------------------------------------
bad('unknown capability in using',
    qq({"using":["$CORE","urn:example:not-supported"],"methodCalls":[["Core/echo",{},"c1"]]}),
    'unknownCapability');
bad('capability with different case',
    qq({"using":["$CORE","URN:IETF:PARAMS:JMAP:MAIL"],"methodCalls":[]}), 'unknownCapability');

# --- limit: maxCallsInRequest ---------------------------------------------------------
SKIP: {
    my $max = $core->{maxCallsInRequest};
    skip 'no maxCallsInRequest advertised', 2 unless $max && $max =~ /^\d+$/ && $max < 10000;
    my @calls = map { ['Core/echo', {}, "c$_"] } 1 .. $max;
    my ($st, undef, $body) = $t->api_raw('alice', $json->encode({ using => [$CORE], methodCalls => \@calls }));
    is($st, 200, "exactly maxCallsInRequest ($max) calls: 200");
    push @calls, ['Core/echo', {}, 'one-too-many'];
    bad('maxCallsInRequest + 1 calls', $json->encode({ using => [$CORE], methodCalls => \@calls }),
        'limit', limit => 'maxCallsInRequest');
}

# --- limit: maxSizeRequest ----------------------------------------------------------------
SKIP: {
    my $max = $core->{maxSizeRequest};
    skip 'maxSizeRequest not advertised or above 64 MB', 4
        unless $max && $max =~ /^\d+$/ && $max <= 64 * 1024 * 1024;
    # A valid request of exactly $max bytes (padding in an echo argument).
    my $shell = echo_req(pad => '');
    my $exact = echo_req(pad => 'x' x ($max - length $shell));
    is(length $exact, $max, "built a request of exactly $max bytes");
    my ($st) = $t->api_raw('alice', $exact);
    is($st, 200, 'request of exactly maxSizeRequest bytes: 200');
    my $over = echo_req(pad => 'x' x ($max - length($shell) + 1));
    bad('request of maxSizeRequest + 1 bytes', $over, 'limit', limit => 'maxSizeRequest',
        status => [400, 413]);
    # Without Content-Length (chunked): the limit must apply to the bytes read.
    my $sent = 0;
    my $res = HTTP::Tiny->new(timeout => 60)->request('POST', $t->base_url . '/jmap/api', {
        headers => { 'content-type' => 'application/json',
                     authorization => 'Basic ' . MIME::Base64::encode_base64('alice:alicepw', '') },
        content => sub {
            return undef if $sent >= length $over;
            my $chunk = substr($over, $sent, 65536);
            $sent += length $chunk;
            return $chunk;
        },
    });
    $t->problem_ok($res->{status}, $res->{headers}, $res->{content}, [400, 413], 'limit',
                   'chunked request of maxSizeRequest + 1 bytes', limit => 'maxSizeRequest');
}

# --- HTTP method and authentication ----------------------------------------------------------
subtest 'GET on the API URL' => sub {
    my $r = $t->get('/jmap/api', 'alice');
    is($r->{status}, 405, '405 Method Not Allowed');
    like($r->{headers}{allow} // '', qr/\bPOST\b/, 'Allow: POST');
};
subtest 'PUT and DELETE on the API URL' => sub {
    for my $m (qw(PUT DELETE)) {
        my $r = $t->request($m, '/jmap/api', 'alice', echo_req(), { 'content-type' => 'application/json' });
        is($r->{status}, 405, "$m: 405");
    }
};
subtest 'unauthenticated POST' => sub {
    my ($st) = $t->api_raw(undef, echo_req());
    is($st, 401, 'status 401');
};

# The server must still work normally after all of that.
subtest 'server still healthy' => sub {
    my $r = $t->api('alice', [$CORE], [['Core/echo', { still => 'ok' }, 'z']]);
    is_deeply($r && $r->{methodResponses}, [['Core/echo', { still => 'ok' }, 'z']], 'echo after the errors');
};

unlike($t->access_log, qr/" 500 /, 'no request ended in a 500 (access log)');
$t->check_error_log;
done_testing;
