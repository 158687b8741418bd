# 44-push-subscription.t — PushSubscription/get and /set (RFC 8620 §7.2)
# and the pushes, judged by an independent implementation: a loopback https
# push service in Node (t/integration/push/receiver.mjs) decrypts every
# push with the npm package http_ece (RFC 8188/8291) and verifies its VAPID
# token (RFC 8292) with node:crypto against the applicationServerKey the
# session advertises (RFC 9749). Covered: the verification push, setting
# the code (wrong code refused), StateChange after Mailbox/set and
# Email/set, the types filter, the expires clamp, bad urls (http://, a
# private target without JMAPPushAllowPrivateTargets), immutable url/keys,
# no accountId/ifInState, destroy, 410 deleting the subscription, backoff
# while the push service is down and delivery when it is back, another
# user's subscriptions invisible, the per-user limit (overQuota), and a
# share removed from the configuration stopping the pushes of that account.
# Skipped only when node/npm are not installed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);
use JMAPTest;

sub have { system("command -v $_[0] >/dev/null 2>&1") == 0 }
plan skip_all => 'node or npm not installed (tools/install-deps installs them)'
    unless have('node') && have('npm');

my $json = JSON::PP->new->canonical;
my $dir = tempdir('jmappush-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{JMAP_TEST_KEEP});
chmod 0755, $dir;
for my $f (qw(package.json package-lock.json receiver.mjs)) {
    copy("$FindBin::Bin/push/$f", "$dir/$f") or die "copy $f: $!";
}
my $npm_out = `cd '$dir' && npm ci --no-audit --no-fund --ignore-scripts 2>&1`;
ok($? == 0, 'npm ci http_ece') or do { diag($npm_out); done_testing; exit };

# a CA of the test's own and a certificate for localhost / 127.0.0.1
sub sh { my $o = `$_[0] 2>&1`; die "$_[0]: $o" if $?; $o }
sh("cd '$dir' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
   . " -days 2 -subj /CN=push-test-ca -keyout ca.key -out ca.pem");
sh("cd '$dir' && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
   . " -subj /CN=localhost -keyout srv.key -out srv.csr");
open(my $ext, '>', "$dir/ext.cnf") or die;
print $ext "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
close $ext;
sh("cd '$dir' && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
   . " -days 2 -extfile ext.cnf -out srv.pem");
sh("cd '$dir' && openssl ecparam -name prime256v1 -genkey -noout -out vapid.pem");
chmod 0644, "$dir/$_" for qw(ca.pem vapid.pem);
my $vapid_pub = do {
    my $der = sh("openssl ec -in '$dir/vapid.pem' -pubout -outform DER");
    my $raw = substr($der, -65);
    (my $b = MIME::Base64::encode_base64($raw, '')) =~ tr{+/}{-_};
    $b =~ s/=+$//;
    $b;
};
use MIME::Base64 ();

my $port = JMAPTest::_free_port();
my $log = "$dir/pushes.log";
my $rpid;
sub start_receiver {
    unlink "$log.ready";
    $rpid = fork // die;
    if (!$rpid) {
        exec('node', "$dir/receiver.mjs", $port, "$dir/srv.pem", "$dir/srv.key",
             "$dir/keys.json", $log, $vapid_pub) or die "exec node: $!";
    }
    my $until = time + 30;
    sleep 0.05 while !-e "$log.ready" && time < $until;
    ok(-e "$log.ready", 'the push receiver listens');
}
sub stop_receiver { if ($rpid) { kill 'TERM', $rpid; waitpid($rpid, 0); $rpid = undef } }
END { local $?; stop_receiver() }
start_receiver();
my $keys = $json->decode(do { local (@ARGV, $/) = "$dir/keys.json"; <> });
sub ua_keys { +{ p256dh => $keys->{$_[0]}{p256dh}, auth => $keys->{$_[0]}{auth} } }

sub pushes {
    open(my $fh, '<', $log) or return ();
    map { $json->decode($_) } grep { /\S/ } <$fh>;
}
# the first push (after $from pushes) for which $pred holds; a generous bound
sub wait_push {
    my ($pred, $from, $what) = @_;
    my $until = time + 30;
    while (time < $until) {
        my @p = pushes();
        for my $i (($from // 0) .. $#p) {
            return $p[$i] if $pred->($p[$i]);
        }
        sleep 0.1;
    }
    fail("no push: $what");
    return undef;
}

my $conf = "JMAPPushAllowPrivateTargets on\nJMAPPushCAFile $dir/ca.pem\n"
         . "JMAPPushVAPIDKey $dir/vapid.pem\nJMAPPushVAPIDSubject mailto:admin\@example.com\n"
         . "JMAPPushRetryMax 2\nJMAPPushMaxSubscriptions 5\nJMAPPushTTL 600\n"
         . "JMAPPushMaxCreatePerHour 12\n";
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                      extra_conf => $conf . "JMAPShareAccount bob alice\n");
my $CORE = ['urn:ietf:params:jmap:core'];
my $MAILU = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
sub call1 {
    my ($t, $user, $name, $args, $using) = @_;
    my $r = $t->api($user, $using || $CORE, [[$name, $args, 'c']]);
    my $resp = JMAPTest->response_for($r, 'c');
    return $resp ? @$resp[0, 1] : ('none', {});
}
sub url_of { "https://localhost:$port/$_[0]" }

# ---- session ---------------------------------------------------------------
my $s = $t->session('alice');
is_deeply($s->{capabilities}{'urn:ietf:params:jmap:webpush-vapid'},
          { applicationServerKey => $vapid_pub },
          'session: webpush-vapid with the configured key (RFC 9749)');
my $alice = $t->account_id('alice');
{
    my $r = $t->api('alice', [@$CORE, 'urn:ietf:params:jmap:webpush-vapid'],
                    [['PushSubscription/get', { ids => undef }, 'v']]);
    is(JMAPTest->response_for($r, 'v') && JMAPTest->response_for($r, 'v')->[0],
       'PushSubscription/get', 'the advertised webpush-vapid is accepted in "using"');
}
my ($bob_shared) = grep { $_ ne $alice } keys %{ $s->{accounts} };
ok($bob_shared, "bob's account is shared with alice");

# ---- create, verification ---------------------------------------------------
my ($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { k1 => {
    deviceClientId => 'dev-a', url => url_of('c/a'), keys => ua_keys('a'), types => undef } } });
is($n, 'PushSubscription/set', 'PushSubscription/set answers');
ok(!exists $a->{accountId} && !exists $a->{oldState} && !exists $a->{newState},
   'no accountId, oldState or newState (§7.2.2)');
my $sa = $a->{created}{k1} || {};
ok($sa->{id}, 'created a subscription') or diag($json->encode($a));
my $exp = $sa->{expires} // '';
my $max = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 7 * 86400 + 5));
my $min = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 7 * 86400 - 120));
ok($exp ge $min && $exp le $max, "expires set by the server: 7 days ($exp)");
ok(!exists $sa->{url}, 'url not answered');

my $v = wait_push(sub { ($_[0]{payload}{'@type'} // '') eq 'PushVerification'
                        && $_[0]{name} eq 'a' }, 0, 'verification for a');
is($v->{payload}{pushSubscriptionId}, $sa->{id}, 'PushVerification names the subscription');
like($v->{payload}{verificationCode} // '', qr/^[A-Za-z0-9_-]{20,}$/, 'with a code of entropy');
is($v->{encoding}, 'aes128gcm', 'encrypted (Content-Encoding: aes128gcm), decrypted by http_ece');
ok(!$v->{error}, 'decrypts and parses') or diag($v->{error});
is($v->{contentType}, 'application/json', 'Content-Type application/json');
is($v->{ttl}, '600', 'TTL header (RFC 8030 §5.2)');
ok($v->{vapid}{ok}, 'VAPID token verifies against the advertised key')
    or diag($json->encode($v->{vapid}));
is($v->{vapid}{sub}, 'mailto:admin@example.com', 'VAPID sub');

($n, $a) = call1($t, 'alice', 'PushSubscription/get', { ids => undef });
is_deeply([map { $_->{id} } @{ $a->{list} }], [$sa->{id}], 'get: the subscription');
my ($g) = @{ $a->{list} };
ok(!exists $g->{url} && !exists $g->{keys}, 'get never returns url or keys (§7.2.1)');
ok(exists $g->{verificationCode} && !defined $g->{verificationCode},
   'verificationCode null until set');
ok(!exists $a->{accountId} && !exists $a->{state}, 'get: no accountId, no state');
($n, $a) = call1($t, 'alice', 'PushSubscription/get', { ids => undef, properties => ['url'] });
is("$n/" . ($a->{type} // ''), 'error/forbidden', 'asking for url: forbidden');
($n, $a) = call1($t, 'alice', 'PushSubscription/get', { ids => undef, properties => ['id', 'keys'] });
is("$n/" . ($a->{type} // ''), 'error/forbidden', 'asking for keys: forbidden');
($n, $a) = call1($t, 'alice', 'PushSubscription/get', { accountId => $alice, ids => undef });
is("$n/" . ($a->{type} // ''), 'error/invalidArguments', 'accountId: invalidArguments');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { ifInState => 'x', destroy => [] });
is("$n/" . ($a->{type} // ''), 'error/invalidArguments', 'ifInState: invalidArguments');

($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sa->{id} => { verificationCode => 'wrong' } } });
is($a->{notUpdated}{ $sa->{id} }{type}, 'invalidProperties', 'a wrong code: invalidProperties');
is_deeply($a->{notUpdated}{ $sa->{id} }{properties}, ['verificationCode'], '... naming it');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sa->{id} => { url => url_of('c/other') } } });
is($a->{notUpdated}{ $sa->{id} }{type}, 'invalidProperties', 'url is immutable');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sa->{id} => { keys => ua_keys('b') } } });
is($a->{notUpdated}{ $sa->{id} }{type}, 'invalidProperties', 'keys are immutable');

my $before = () = pushes();
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sa->{id} => { verificationCode => $v->{payload}{verificationCode} } } });
ok(exists $a->{updated}{ $sa->{id} }, 'the right code is accepted') or diag($json->encode($a));
($n, $a) = call1($t, 'alice', 'PushSubscription/get', { ids => [$sa->{id}] });
is($a->{list}[0]{verificationCode}, $v->{payload}{verificationCode}, 'get shows the code');

# ---- StateChange ------------------------------------------------------------
sub mailbox_create {
    my ($t, $user, $acct, $name) = @_;
    my $r = $t->api($user, $MAILU, [['Mailbox/set', { accountId => $acct,
        create => { m => { name => $name } } }, 'm'], ['Mailbox/get', { accountId => $acct,
        ids => [] }, 'g']]);
    return JMAPTest->response_for($r, 'g')->[1]{state};
}
my $t0 = time;
my $mstate = mailbox_create($t, 'alice', $alice, 'Pushed 1');
my $sc = wait_push(sub { $_[0]{name} eq 'a' && ($_[0]{payload}{'@type'} // '') eq 'StateChange'
                         && ($_[0]{payload}{changed}{$alice}{Mailbox} // '') eq $mstate },
                   $before, 'StateChange after Mailbox/set');
ok($sc && $sc->{vapid}{ok}, 'StateChange: Mailbox state of Mailbox/get, VAPID ok');
diag(sprintf('StateChange %.0f ms after the Mailbox/set request was sent', $sc->{at} - $t0 * 1000))
    if $sc;

# a second subscription without keys, only for Email
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { k2 => {
    deviceClientId => 'dev-b', url => url_of('c/b'), types => ['Email'] } } });
my $sb = $a->{created}{k2} || {};
ok($sb->{id}, 'a second subscription (no keys, types [Email])');
is_deeply([sort keys %$sb], [qw(expires id keys verificationCode)],
          'created answers what the server set: id, keys null, verificationCode null, expires');
my $vb = wait_push(sub { $_[0]{name} eq 'b' }, 0, 'verification for b');
is($vb->{encoding}, undef, 'without keys: plain JSON');
call1($t, 'alice', 'PushSubscription/set', { update => {
    $sb->{id} => { verificationCode => $vb->{payload}{verificationCode} } } });
$before = () = pushes();
my $r = $t->api('alice', $MAILU, [['Email/set', { accountId => $alice, create => { e => {
    mailboxIds => { $t->mailbox_id('alice', 'drafts') => JSON::PP::true },
    keywords => { '$draft' => JSON::PP::true }, subject => 'push me',
    bodyValues => { 1 => { value => 'hi' } }, textBody => [{ partId => '1', type => 'text/plain' }] } } }, 'e'],
    ['Email/get', { accountId => $alice, ids => [] }, 'g']]);
my $estate = JMAPTest->response_for($r, 'g')->[1]{state};
ok(JMAPTest->response_for($r, 'e')->[1]{created}{e}, 'Email/set created an email');
my $pb = wait_push(sub { $_[0]{name} eq 'b' && ($_[0]{payload}{'@type'} // '') eq 'StateChange' },
                   $before, 'StateChange for b after Email/set');
is_deeply($pb && $pb->{payload}{changed}, { $alice => { Email => $estate } },
          'types [Email]: only the Email state, of the account');
my $pa = wait_push(sub { $_[0]{name} eq 'a' && ($_[0]{payload}{'@type'} // '') eq 'StateChange' },
                   $before, 'StateChange for a after Email/set');
is($pa && $pa->{payload}{changed}{$alice}{Email}, $estate, 'types null: Email too');
ok(!grep({ $_->{name} eq 'b' && ($_->{payload}{changed}{$alice}{Mailbox})} pushes()),
   'b never got a Mailbox state');

# types changed by an update: b now hears of Mailbox changes too
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sb->{id} => { types => ['Mailbox', 'Email'] } } });
ok(exists $a->{updated}{ $sb->{id} }, 'types updated');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sb->{id} => { types => ['no such type!'] } } });
is($a->{notUpdated}{ $sb->{id} }{type}, 'invalidProperties', 'types must be type names');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sb->{id} => { deviceClientId => 'other' } } });
is($a->{notUpdated}{ $sb->{id} }{type}, 'invalidProperties', 'deviceClientId is immutable');
$before = () = pushes();
$mstate = mailbox_create($t, 'alice', $alice, 'For b');
ok(wait_push(sub { $_[0]{name} eq 'b' && ($_[0]{payload}{changed}{$alice}{Mailbox} // '') eq $mstate },
             $before, 'b after its types changed'), 'the new types apply');

# ---- expires -----------------------------------------------------------------
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { k3 => {
    deviceClientId => 'dev-c', url => url_of('c/c'), expires => '2999-01-01T00:00:00Z' } } });
my $sc3 = $a->{created}{k3} || {};
diag($json->encode($a)) unless $sc3->{id};
ok(($sc3->{expires} // 'x') le $max, "a far expires is clamped and answered ($sc3->{expires})");
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { k4 => {
    deviceClientId => 'dev-c', url => url_of('c/c'), expires => '2001-01-01T00:00:00Z' } } });
is($a->{notCreated}{k4}{type}, 'invalidProperties', 'expires in the past: invalidProperties');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sc3->{id} => { expires => '2001-01-01T00:00:00Z' } } });
is($a->{notUpdated}{ $sc3->{id} }{type}, 'invalidProperties', 'updated to the past: invalidProperties');
my $soon = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 3 * 86400));
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sc3->{id} => { expires => $soon } } });
is_deeply($a->{updated}{ $sc3->{id} }, undef, 'a shorter expires is taken as is (updated: null)');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { update => {
    $sc3->{id} => { expires => '2999-01-01T00:00:00Z' } } });
ok(($a->{updated}{ $sc3->{id} }{expires} // 'x') le $max, 'extended too far: clamped, answered');

# ---- bad input -----------------------------------------------------------------
for my $c (['http://localhost/x', 'an http:// url'], ['https://', 'no host'],
           ['https://u:p@localhost/', 'user information'], ['localhost/x', 'relative']) {
    ($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { x => {
        deviceClientId => 'd', url => $c->[0] } } });
    is_deeply($a->{notCreated}{x} && [$a->{notCreated}{x}{type}, $a->{notCreated}{x}{properties}],
              ['invalidProperties', ['url']], "$c->[1]: invalidProperties url");
}
for my $c ([{ url => url_of('c/x') }, 'deviceClientId', 'no deviceClientId'],
           [{ deviceClientId => 'd' }, 'url', 'no url'],
           [{ deviceClientId => 'd', url => url_of('c/x'), keys => { p256dh => 'AAAA', auth => 'AAAA' } },
            'keys', 'keys that are not a P-256 key'],
           [{ deviceClientId => 'd', url => url_of('c/x'), keys => { p256dh => $keys->{a}{p256dh} } },
            'keys', 'keys without auth'],
           [{ deviceClientId => 'd', url => url_of('c/x'), verificationCode => 'x' },
            'verificationCode', 'a verificationCode on create'],
           [{ deviceClientId => 'd', url => url_of('c/x'), types => [1] }, 'types', 'types not names']) {
    ($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { x => $c->[0] } });
    is_deeply($a->{notCreated}{x} && $a->{notCreated}{x}{properties}, [$c->[1]],
              "$c->[2]: invalidProperties $c->[1]") or diag($json->encode($a));
}

# ---- other users -------------------------------------------------------------
($n, $a) = call1($t, 'bob', 'PushSubscription/get', { ids => undef });
is_deeply($a->{list}, [], "bob sees none of alice's subscriptions");
($n, $a) = call1($t, 'bob', 'PushSubscription/get', { ids => [$sa->{id}] });
is_deeply($a->{notFound}, [$sa->{id}], '... and by id: notFound');
($n, $a) = call1($t, 'bob', 'PushSubscription/set', { destroy => [$sa->{id}] });
is($a->{notDestroyed}{ $sa->{id} }{type}, 'notFound', 'bob cannot destroy it');
($n, $a) = call1($t, 'bob', 'PushSubscription/set', { update => { $sa->{id} => { types => undef } } });
is($a->{notUpdated}{ $sa->{id} }{type}, 'notFound', 'nor update it');

# ---- destroy; 410 ----------------------------------------------------------------
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { destroy => [$sc3->{id}] });
is_deeply($a->{destroyed}, [$sc3->{id}], 'destroyed');
($n, $a) = call1($t, 'alice', 'PushSubscription/get', { ids => [$sc3->{id}] });
is_deeply($a->{notFound}, [$sc3->{id}], 'gone after destroy');
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { k5 => {
    deviceClientId => 'dev-d', url => url_of('gone/d') } } });
my $sd = $a->{created}{k5}{id};
wait_push(sub { $_[0]{name} eq 'd' && $_[0]{status} == 410 }, 0, 'push to a 410 url');
my $gone = 0;
for (1 .. 100) {
    ($n, $a) = call1($t, 'alice', 'PushSubscription/get', { ids => [$sd] });
    last if ($gone = @{ $a->{notFound} || [] } == 1);
    sleep 0.2;
}
ok($gone, '410 from the push service deletes the subscription (RFC 8030 §7.3)');

# ---- limit --------------------------------------------------------------------------
my %made;
for my $i (1 .. 4) {
    ($n, $a) = call1($t, 'alice', 'PushSubscription/set', { create => { "l$i" => {
        deviceClientId => "lim$i", url => url_of("c/h") } } });
    $made{$i} = $a->{created}{"l$i"} ? 'created' : $a->{notCreated}{"l$i"}{type};
}
is_deeply(\%made, { 1 => 'created', 2 => 'created', 3 => 'created', 4 => 'overQuota' },
          'JMAPPushMaxSubscriptions 5: the sixth is overQuota');

# the rate of creation (RFC 8620 §8.6 MUST; SetError rateLimit, §5.3): carol
# creates and destroys, and destroying gives no creation back
my @rate;
for my $i (1 .. 13) {
    ($n, $a) = call1($t, 'carol', 'PushSubscription/set', { create => { r => {
        deviceClientId => "rate$i", url => url_of("c/rate") } } });
    push @rate, $a->{created}{r} ? 'created' : $a->{notCreated}{r}{type};
    call1($t, 'carol', 'PushSubscription/set', { destroy => [$a->{created}{r}{id}] })
        if $a->{created}{r};
}
is_deeply(\@rate, [('created') x 12, 'rateLimit'],
          'JMAPPushMaxCreatePerHour 12: the 13th creation in an hour is rateLimit');
like($a->{notCreated}{r}{description} // '', qr/at most 12 .* in an hour/,
     '... saying the limit');
is($t->db_sql("SELECT COUNT(*) FROM jm_push_creations WHERE username = 'carol'") =~ s/\s//gr,
   '12', 'a refused creation is not logged');
ok($t->db_sql("SELECT COUNT(*) FROM jm_push_creations WHERE username = 'alice'") < 12,
   'alice, with her own count, is under it');

# ---- two nodes on one database: each push is sent by one of them -----------------------
($n, $a) = call1($t, 'alice', 'PushSubscription/set', { destroy => [
    map { $_->{id} } grep { $_->{deviceClientId} =~ /^lim/ }
    @{ (call1($t, 'alice', 'PushSubscription/get', { ids => undef }))[1]{list} } ] });
is(scalar @{ $a->{destroyed} || [] }, 3, 'the three limit subscriptions destroyed');
my $tn = JMAPTest->new(ldap => 0, pki => 0, smtp => 0, extra_conf => $conf . "JMAPShareAccount bob alice\n",
                       db => { driver => $t->db_driver, params => $t->db_params });
($n, $a) = call1($tn, 'alice', 'PushSubscription/set', { create => { k6 => {
    deviceClientId => 'dev-e', url => url_of('c/e'), keys => ua_keys('e') } } });
my $se = $a->{created}{k6}{id};
ok($se, 'a subscription made through the second node');
my $ve = wait_push(sub { $_[0]{name} eq 'e' }, 0, 'verification for e');
call1($t, 'alice', 'PushSubscription/set', { update => {
    $se => { verificationCode => $ve->{payload}{verificationCode} } } });
for my $i (1 .. 8) {
    $mstate = mailbox_create($i % 2 ? $t : $tn, 'alice', $alice, "Two nodes $i");
    sleep 0.15;
}
ok(wait_push(sub { $_[0]{name} eq 'e' && ($_[0]{payload}{changed}{$alice}{Mailbox} // '') eq $mstate },
             0, 'the last change reaches e'), 'pushes from two nodes reach e');
my @e = grep { $_->{name} eq 'e' } pushes();
is(scalar(grep { $_->{payload}{'@type'} eq 'PushVerification' } @e), 1,
   'one PushVerification, not one per node');
my %seen;
my @dup = grep { $seen{ $json->encode($_->{payload}) }++ } @e;
is(scalar @dup, 0, 'no StateChange sent twice (one claim per push)')
    or diag($json->encode(\@dup));
ok(!grep({ $_->{error} || !$_->{vapid}{ok} } @e), 'every push to e decrypts and verifies');
$tn->check_error_log;
$tn->stop;

# ---- the push service down, then back ---------------------------------------------------
stop_receiver();
$mstate = mailbox_create($t, 'alice', $alice, 'While down');
my $failures = 0;
for (1 .. 150) {
    ($failures) = $t->db_sql("SELECT failures FROM jm_push_subscriptions WHERE id = '$sa->{id}'")
        =~ /(\d+)/;
    last if ($failures // 0) >= 2;
    sleep 0.2;
}
cmp_ok($failures // 0, '>=', 2, 'failed attempts are counted while the service is down');
$before = () = pushes();
start_receiver();
ok(wait_push(sub { $_[0]{name} eq 'a' && ($_[0]{payload}{changed}{$alice}{Mailbox} // '') eq $mstate },
             $before, 'delivery after the service is back'), 'delivered when the service is back');

# ---- shared accounts, and the share removed ------------------------------------------------
$before = () = pushes();
my $bstate = mailbox_create($t, 'bob', $bob_shared, 'Bob 1');
ok(wait_push(sub { $_[0]{name} eq 'a' && ($_[0]{payload}{changed}{$bob_shared}{Mailbox} // '') eq $bstate },
             $before, "bob's change pushed to alice"), "a change in bob's shared account is pushed");
# the share leaves the configuration: httpd restarts on the same database
my $cf = do { local (@ARGV, $/) = $t->conf_file; <> };
ok($cf =~ s/^JMAPShareAccount bob alice\n//m, 'share removed from httpd.conf');
open(my $cfh, '>', $t->conf_file) or die;
print $cfh $cf;
close $cfh;
$t->restart;
$before = () = pushes();
mailbox_create($t, 'bob', $bob_shared, 'Bob 2');
$mstate = mailbox_create($t, 'alice', $alice, 'After unshare');
my $last = wait_push(sub { $_[0]{name} eq 'a' && ($_[0]{payload}{changed}{$alice}{Mailbox} // '') eq $mstate },
                     $before, "alice's change after the share is gone");
ok($last, "alice's own change still pushed");
my @p = pushes();
ok(!grep({ $_->{name} eq 'a' && $_->{payload}{changed}{$bob_shared} } @p[$before .. $#p]),
   "no push names bob's account once it is no longer shared");
$t->check_error_log;
$t->stop;

# ---- a private target without JMAPPushAllowPrivateTargets ---------------------------------
my $t3 = JMAPTest->new(ldap => 0, pki => 0, smtp => 0);
for my $u (url_of('c/x'), "https://127.0.0.1:$port/c/x", "https://[::1]:$port/c/x") {
    ($n, $a) = call1($t3, 'alice', 'PushSubscription/set', { create => { x => {
        deviceClientId => 'd', url => $u } } });
    is_deeply($a->{notCreated}{x} && $a->{notCreated}{x}{properties}, ['url'],
              "$u refused without JMAPPushAllowPrivateTargets");
}
ok(!$t3->session('alice')->{capabilities}{'urn:ietf:params:jmap:webpush-vapid'},
   'no webpush-vapid capability without a key');
{
    my ($st, undef, $body) = $t3->api_raw('alice', $json->encode({
        using => [@$CORE, 'urn:ietf:params:jmap:webpush-vapid'],
        methodCalls => [['PushSubscription/get', { ids => undef }, 'v']] }));
    is($st, 400, 'without a key, webpush-vapid in "using" is a request error');
    like($body, qr/unknownCapability/, '... unknownCapability');
}
$t3->check_error_log;
$t3->stop;

# ---- directives checked at startup --------------------------------------------------------
sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '$dir/rsa.pem'");
sh("openssl ecparam -name secp384r1 -genkey -noout -out '$dir/p384.pem'");
for my $c (["JMAPPushVAPIDKey $dir/rsa.pem", qr/JMAPPushVAPIDKey: .* not a P-256/],
           ["JMAPPushVAPIDKey $dir/p384.pem", qr/JMAPPushVAPIDKey: .* not a P-256/],
           ["JMAPPushVAPIDKey $dir/nothere.pem", qr/JMAPPushVAPIDKey: cannot read/],
           ["JMAPPushVAPIDSubject admin\@example.com", qr/JMAPPushVAPIDSubject: a mailto:/],
           ["JMAPPushMaxExpiry 3600", qr/JMAPPushMaxExpiry: "3600" is not a number from 172800/],
           ["JMAPPushMaxSubscriptions 0", qr/JMAPPushMaxSubscriptions/],
           ["JMAPPushMaxCreatePerHour -1", qr/JMAPPushMaxCreatePerHour: "-1" is not a number from 1/],
           ["JMAPPushCAFile $dir/nothere.pem", qr/JMAPPushCAFile: cannot read/]) {
    my $bad = eval { JMAPTest->new(ldap => 0, pki => 0, smtp => 0, quiet_start_failure => 1,
                                   extra_conf => "$c->[0]\n") };
    ok(!$bad, "refused at startup: $c->[0]");
    like($@ // '', $c->[1], '... naming the problem') if !$bad;
    $bad->stop if $bad;
}
done_testing;
