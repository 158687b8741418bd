# 06-jmap-jam.t — interoperability with a third-party JMAP client: the npm
# package jmap-jam (pinned in t/integration/jam/package.json + package-lock.json)
# runs t/integration/jam/jam-test.mjs against the private server.
# The npm install happens in a temp copy of t/integration/jam (the source tree
# stays untouched). Skipped only when node/npm are not installed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use JMAPTest;

sub have { system("command -v $_[0] >/dev/null 2>&1") == 0 }
plan skip_all => 'node or npm not installed (tools/install-deps installs them)'
    unless have('node') && have('npm');

my $jamsrc = "$FindBin::Bin/jam";
my $dir = tempdir('jmapjam-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{JMAP_TEST_KEEP});
for my $f (qw(package.json package-lock.json jam-test.mjs)) {
    copy("$jamsrc/$f", "$dir/$f") or die "copy $f: $!";
}
my $npm_cmd = -f "$dir/package-lock.json" ? 'ci' : 'install';
my $npm_out = `cd '$dir' && npm $npm_cmd --no-audit --no-fund --ignore-scripts 2>&1`;
ok($? == 0, "npm $npm_cmd jmap-jam") or do { diag($npm_out); done_testing; exit };

my $t = JMAPTest->new(ldap => 0);
my $alice_acct = $t->account_id('alice');
my $state = $t->session('alice')->{state};

local $ENV{JMAP_SESSION_URL} = $t->base_url . '/.well-known/jmap';
local $ENV{JMAP_USER} = 'alice';
local $ENV{JMAP_PASS} = 'alicepw';
my $out = `cd '$dir' && node jam-test.mjs 2>&1`;
is($?, 0, 'node jam-test.mjs ran') or diag($out);
my ($line) = grep { /^\{/ } split /\n/, $out;
my $r = eval { JSON::PP->new->decode($line // '') };
ok(ref $r eq 'HASH', 'script printed its JSON result') or do { diag($out); done_testing; exit };

sub step_ok {
    my ($name) = @_;
    ok($r->{$name} && $r->{$name}{ok}, "jam step $name succeeded")
        or diag("$name: " . JSON::PP->new->canonical->encode($r->{$name}));
    return $r->{$name} || {};
}

my $s = step_ok('session');
is($s->{username}, 'alice', 'session via /.well-known/jmap (redirect followed): username');
is_deeply($s->{accounts}, [$alice_acct], 'one account, alice\'s');
is($s->{primaryMail}, $alice_acct, 'getPrimaryAccount()');

my $e = step_ok('echo');
is_deeply($e->{data}, { hello => 'jam', n => [1, 2, 3] }, 'Core/echo through jam');
is($e->{sessionState}, $state, 'sessionState');

my $m = step_ok('mailboxGet');
is($m->{accountId}, $alice_acct, 'Mailbox/get accountId');
ok(defined $m->{state}, 'Mailbox/get state');

my $rm = step_ok('requestMany');
is($rm->{again}, $rm->{all}, 'requestMany with $ref("/list/*/id") resolves all mailboxes');
is_deeply($rm->{notFound}, [], 'none missing');

my $u = step_ok('unknownMethod');
ok($u->{threw}, 'unknown method rejected');
is($u->{type}, 'unknownMethod', 'error type unknownMethod');

my $b = step_ok('blob');
ok($b->{blobId}, 'uploadBlob returned a blobId');
is($b->{size}, 21, 'size');
like($b->{type} // '', qr{^text/plain}, 'type');
ok($b->{roundTrip}, 'downloadBlob returned the same bytes');
like($b->{contentType} // '', qr{^text/plain}, 'download Content-Type from the type parameter');

$t->check_error_log;
done_testing;
