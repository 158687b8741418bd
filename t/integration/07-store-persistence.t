# 07-store-persistence.t — the store survives restarts and concurrent use:
# same account ids and session state after an httpd restart, blobs still
# there; 20 parallel clients against two httpd instances (and their child
# processes) sharing one database all succeed, with consistent account ids
# for users provisioned concurrently (SQLite: WAL, no "database is locked").
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use HTTP::Tiny;
use MIME::Base64 qw(encode_base64);
use File::Temp qw(tempdir);
use POSIX ();
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $MAIL = 'urn:ietf:params:jmap:mail';
my $json = JSON::PP->new->utf8->canonical;

my $t = JMAPTest->new(ldap => 0);
my $s1 = $t->session('alice');
ok($s1, 'session for alice') or do { done_testing; exit };
my $acct = $t->account_id('alice');
my $bob1 = $t->account_id('bob');

my $up = $t->upload('alice', $acct, "persistent blob\n", 'text/plain');
ok($up->{json} && $up->{json}{blobId}, 'uploaded a blob') or diag($up->{status} . ' ' . ($up->{content} // ''));
my $blob = $up->{json} ? $up->{json}{blobId} : 'none';
my $mb1 = $t->api('alice', [$CORE, $MAIL], [['Mailbox/get', { accountId => $acct }, 'g']]);
my $mbstate1 = $mb1 && $mb1->{methodResponses}[0][1]{state};

$t->restart;

subtest 'after an httpd restart on the same database' => sub {
    my $s2 = $t->session('alice');
    ok($s2, 'session') or return;
    is_deeply([sort keys %{ $s2->{accounts} }], [sort keys %{ $s1->{accounts} }], 'same account id(s)');
    is($s2->{state}, $s1->{state}, 'same session state');
    is($t->account_id('bob'), $bob1, 'bob keeps his account id too');
    my $dl = $t->download('alice', { accountId => $acct, blobId => $blob, name => 'p.txt', type => 'text/plain' });
    is($dl->{status}, 200, 'blob still downloadable');
    is($dl->{content}, "persistent blob\n", 'same bytes');
    my $mb2 = $t->api('alice', [$CORE, $MAIL], [['Mailbox/get', { accountId => $acct }, 'g']]);
    is($mb2 && $mb2->{methodResponses}[0][1]{state}, $mbstate1, 'Mailbox state unchanged');
    is_deeply([sort map { $_->{id} } @{ $mb2->{methodResponses}[0][1]{list} || [] }],
              [sort map { $_->{id} } @{ $mb1->{methodResponses}[0][1]{list} || [] }], 'same mailboxes');
};

subtest 'blobs are private to the uploading account (§6.1)' => sub {
    my $dl = $t->download('bob', { accountId => $acct, blobId => $blob, name => 'p.txt', type => 'text/plain' });
    ok($dl->{status} == 403 || $dl->{status} == 404, "bob cannot download alice's blob ($dl->{status})");
    $dl = $t->download('bob', { accountId => $bob1, blobId => $blob, name => 'p.txt', type => 'text/plain' });
    is($dl->{status}, 404, 'nor through his own account id');
};

# A second httpd on the same database: two independent process trees.
my $t2 = JMAPTest->new(ldap => 0, db => { driver => $t->db_driver, params => $t->db_params });
is($t2->account_id('alice'), $acct, 'second server sees the same account for alice');

# 20 parallel clients, half on each server. carol, dave and erin have never
# logged in: their accounts get created by concurrent first requests.
my $results = tempdir('jmapconc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @users = qw(alice bob carol dave erin);
my @pids;
for my $i (0 .. 19) {
    my $server = $i % 2 ? $t2 : $t;
    my $user = $users[$i % @users];
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $rc = eval { client($server->base_url, $user, $i, "$results/$i") } ? 0 : 1;
        if ($rc) {
            open(my $fh, '>>', "$results/$i.err");
            print $fh $@;
            close $fh;
        }
        POSIX::_exit($rc);
    }
    push @pids, $pid;
}
my $failed = 0;
for my $pid (@pids) {
    waitpid($pid, 0);
    $failed++ if $?;
}
is($failed, 0, '20 concurrent clients (2 servers) all succeeded');
for my $f (glob "$results/*.err") {
    diag("$f: " . do { local (@ARGV, $/) = $f; <> });
}

subtest 'concurrently provisioned accounts are consistent' => sub {
    my %ids;
    for my $f (glob "$results/*.acct") {
        my ($user, $id) = split ' ', do { local (@ARGV, $/) = $f; <> };
        $ids{$user}{$id}++;
    }
    for my $u (@users) {
        is(scalar keys %{ $ids{$u} || {} }, 1, "$u: one account id seen by all clients")
            or diag(join ', ', keys %{ $ids{$u} || {} });
    }
    is($t->account_id($_), $t2->account_id($_), "$_: both servers agree") for @users;
};

for my $srv ($t, $t2) {
    unlike($srv->error_log, qr/database is locked|AH00632|AH02655/i, 'no "database is locked" / DBD acquire errors');
    unlike($srv->access_log, qr/" 5\d\d /, 'no 5xx responses');
    $srv->check_error_log;
}
$t2->stop;
$t->stop;
done_testing;

# One client: session, a few API calls (echo + Mailbox/get), an upload.
sub client {
    my ($base, $user, $n, $out) = @_;
    my $http = HTTP::Tiny->new(timeout => 60);
    my %h = (authorization => 'Basic ' . encode_base64("$user:${user}pw", ''));
    my $r = $http->get("$base/jmap/session", { headers => \%h });
    die "session: $r->{status} $r->{content}\n" unless $r->{status} == 200;
    my $s = $json->decode($r->{content});
    my $acct = $s->{primaryAccounts}{$MAIL} or die "no primary mail account\n";
    open(my $fh, '>', "$out.acct") or die "$out.acct: $!";
    print $fh "$user $acct\n";
    close $fh;
    for my $k (1 .. 5) {
        my $body = $json->encode({ using => [$CORE, $MAIL], methodCalls => [
            ['Core/echo', { n => $n, k => $k }, 'e'],
            ['Mailbox/get', { accountId => $acct }, 'm'] ] });
        $r = $http->post("$base/jmap/api", { headers => { %h, 'content-type' => 'application/json' },
                                             content => $body });
        die "api: $r->{status} $r->{content}\n" unless $r->{status} == 200;
        my $d = $json->decode($r->{content});
        die "echo mismatch\n" unless $d->{methodResponses}[0][1]{k} == $k;
        die "Mailbox/get failed: $r->{content}\n" unless $d->{methodResponses}[1][0] eq 'Mailbox/get';
    }
    (my $upurl = $s->{uploadUrl}) =~ s/\{accountId\}/$acct/;
    $r = $http->post($upurl, { headers => { %h, 'content-type' => 'text/plain' },
                                                   content => "blob $n\n" });
    die "upload: $r->{status} $r->{content}\n" unless $r->{status} == 200 || $r->{status} == 201;
    return 1;
}
