#!/usr/bin/perl
# JMAPReadOnlyUsers: isReadOnly in the session, accountReadOnly for writes
# (RFC 8620 §3.6.2), uploads refused (403 problem, nothing stored), reads
# still work, other users unaffected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use JMAPTest;

my $t = JMAPTest->new(pki => 0, smtp => 0, extra_conf => "JMAPReadOnlyUsers carol\n");

my $s = $t->session('carol');
my $acc = $t->account_id('carol');
ok($s && $s->{accounts}{$acc}, 'carol has an account');
ok($s->{accounts}{$acc}{isReadOnly}, 'carol: isReadOnly true');
my $sb = $t->session('bob');
my $bacc = $t->account_id('bob');
ok(!$sb->{accounts}{$bacc}{isReadOnly}, 'bob: isReadOnly false');
isnt($s->{state}, $sb->{state}, 'session states differ per user');

my $r = $t->api('carol', undef, [
    ['Email/set', { accountId => $acc, create => { k => { subject => 'x' } } }, 'w'],
    ['Mailbox/get', { accountId => $acc, properties => ['role'] }, 'r'],
]);
my $w = JMAPTest->response_for($r, 'w');
is($w->[0], 'error', 'Email/set on a read-only account is an error');
is($w->[1]{type}, 'accountReadOnly', '... accountReadOnly');
my $rd = JMAPTest->response_for($r, 'r');
is($rd->[0], 'Mailbox/get', 'reading still works');
is(scalar @{ $rd->[1]{list} }, 6, '... six mailboxes');
my $g = $t->api('carol', undef, [['Email/get', { accountId => $acc, ids => [] }, 'g']]);
is(JMAPTest->response_for($g, 'g')->[0], 'Email/get', 'Email/get is not a write');

my $rb = $t->api('bob', undef, [['Email/set', { accountId => $bacc }, 'w']]);
is(JMAPTest->response_for($rb, 'w')->[0], 'Email/set', 'bob may still write');

subtest 'a read-only account cannot upload (RFC 8620 §6.1)' => sub {
    my $bytes = "read-only upload attempt\n";
    my $blob = 'G' . sha256_hex($bytes);      # what the server would call it
    my $up = $t->upload('carol', $acc, $bytes, 'text/plain');
    # 403 as an RFC 7807 problem: not one of the four JMAP request-level
    # types (§3.6.1), so about:blank, like the other HTTP errors here
    $t->problem_ok($up->{status}, $up->{headers}, $up->{content}, 403, 'about:blank',
                   'upload refused with a 403 problem');
    like($up->{json} && $up->{json}{detail}, qr/read-only/i, 'the detail says why');
    ok(!($up->{json} && $up->{json}{blobId}), 'no blobId handed out');
    my $dl = $t->download('carol', { accountId => $acc, blobId => $blob, name => 'x.txt',
                                     type => 'text/plain' });
    is($dl->{status}, 404, 'nothing was stored: the blob does not exist');
    like($t->error_log, qr/JM07001: upload refused: account \Q$acc\E of carol is read-only/,
         'logged (info, JM07001)');
    my $big = $t->upload('carol', $acc, 'x' x 200000, 'application/octet-stream');
    is($big->{status}, 403, 'a large upload is refused the same way (before its body is read)');

    my $bu = $t->upload('bob', $bacc, $bytes, 'text/plain');
    is($bu->{status}, 201, 'bob (not read-only) can upload the same bytes');
    is($bu->{json} && $bu->{json}{blobId}, $blob, '... under the content-addressed id');
    $dl = $t->download('carol', { accountId => $acc, blobId => $blob, name => 'x.txt',
                                  type => 'text/plain' });
    is($dl->{status}, 404, "and carol still has no such blob (blobs are per account)");
};

$t->check_error_log;
$t->stop;
done_testing;
