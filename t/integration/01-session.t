# 01-session.t — the JMAP Session resource (RFC 8620 §2) and autodiscovery (§2.2).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use MIME::Base64 ();
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $MAIL = 'urn:ietf:params:jmap:mail';
my $json = JSON::PP->new->canonical->allow_nonref;

# An UnsignedInt is a JSON number without sign, fraction or exponent, not a string.
sub is_uint {
    my ($v) = @_;
    return defined $v && !ref $v && $json->encode($v) =~ /^\d+$/;
}
sub is_str { defined $_[0] && !ref $_[0] && $json->encode($_[0]) =~ /^"/ }
sub is_true  { JSON::PP::is_bool($_[0]) && $_[0] }
sub is_false { JSON::PP::is_bool($_[0]) && !$_[0] }

my $t = JMAPTest->new;
my $base = $t->base_url;

subtest '/.well-known/jmap redirects to the session resource (§2.2)' => sub {
    for my $user (undef, 'alice') {
        my $r = $t->get('/.well-known/jmap', $user);
        my $who = defined $user ? 'authenticated' : 'unauthenticated';
        ok((grep { $r->{status} == $_ } 301, 302, 307, 308), "$who: redirect status ($r->{status})");
        my $loc = $r->{headers}{location} // '';
        $loc = $base . $loc if $loc =~ m{^/};
        is($loc, "$base/jmap/session", "$who: Location is the session URL");
    }
    my $r = $t->get("/jmap/session", 'alice');
    is($r->{status}, 200, 'following the redirect with credentials gives the session');
};

subtest 'authentication is required' => sub {
    my $r = $t->get('/jmap/session');
    is($r->{status}, 401, 'no credentials: 401');
    like($r->{headers}{'www-authenticate'} // '', qr/^Basic\b/i, 'WWW-Authenticate: Basic');
    $r = $t->request('GET', '/jmap/session', undef, undef,
                     { Authorization => 'Basic ' . MIME::Base64::encode_base64('alice:wrong', '') });
    is($r->{status}, 401, 'wrong password: 401');
    $r = $t->request('GET', '/jmap/session', undef, undef,
                     { Authorization => 'Basic ' . MIME::Base64::encode_base64('mallory:x', '') });
    is($r->{status}, 401, 'unknown user: 401');
};

my $res = $t->get('/jmap/session', 'alice');
is($res->{status}, 200, 'GET /jmap/session as alice: 200');
like($res->{headers}{'content-type'} // '', qr{^application/json\b}i, 'Content-Type application/json');
my $s = $res->{json};
unless (is(ref $s, 'HASH', 'session is a JSON object')) {
    diag('no session object: ' . substr($res->{content} // '', 0, 1000));
    $t->check_error_log;
    done_testing;
    exit;
}

# RFC 8620 §2 RECOMMENDS disabling HTTP caching of the session (it names
# this very header value); the server does it, on every JSON answer.
is($res->{headers}{'cache-control'}, 'no-cache, no-store, must-revalidate',
   'Cache-Control: no-cache, no-store, must-revalidate (§2)');

subtest 'capabilities: urn:ietf:params:jmap:core and its limits' => sub {
    is(ref $s->{capabilities}, 'HASH', 'capabilities is an object') or return;
    my $core = $s->{capabilities}{$CORE};
    is(ref $core, 'HASH', "$CORE present") or return;
    my %defaults = (maxSizeUpload => 50000000, maxConcurrentUpload => 4,
                    maxSizeRequest => 10000000, maxConcurrentRequests => 8,
                    maxCallsInRequest => 32, maxObjectsInGet => 500, maxObjectsInSet => 500);
    for my $k (sort keys %defaults) {
        ok(is_uint($core->{$k}), "$k is an UnsignedInt")
            or diag("$k = " . $json->encode($core->{$k}));
        is($core->{$k}, $defaults{$k}, "$k has the documented default (conf.d/jmap_smime.conf)");
    }
    is(ref $core->{collationAlgorithms}, 'ARRAY', 'collationAlgorithms is an array');
    ok(!(grep { !is_str($_) } @{ $core->{collationAlgorithms} || [] }),
       'collationAlgorithms holds strings only');
    ok(ref $s->{capabilities}{$MAIL} eq 'HASH', "$MAIL advertised (RFC 8621)");
    for my $cap (sort keys %{ $s->{capabilities} }) {
        is(ref $s->{capabilities}{$cap}, 'HASH', "capability $cap value is an object");
    }
};

my ($acct) = keys %{ $s->{accounts} || {} };
subtest 'accounts: alice sees exactly her own account' => sub {
    is(ref $s->{accounts}, 'HASH', 'accounts is an object') or return;
    is(scalar keys %{ $s->{accounts} }, 1, 'one account');
    ok(is_str($acct) && length $acct >= 1 && length $acct <= 255 && $acct =~ /^[A-Za-z0-9_-]+$/,
       'account id is an Id (RFC 8620 §1.2: 1-255 URL-safe base64 chars)') or diag("id: $acct");
    my $a = $s->{accounts}{$acct};
    ok(is_str($a->{name}) && length $a->{name}, 'name is a non-empty string');
    ok(is_true($a->{isPersonal}), 'isPersonal is true');
    ok(is_false($a->{isReadOnly}), 'isReadOnly is false');
    is(ref $a->{accountCapabilities}, 'HASH', 'accountCapabilities is an object') or return;
    ok(exists $a->{accountCapabilities}{$MAIL}, "accountCapabilities has $MAIL");
    for my $cap (sort keys %{ $a->{accountCapabilities} }) {
        ok(exists $s->{capabilities}{$cap}, "account capability $cap is also a server capability");
        is(ref $a->{accountCapabilities}{$cap}, 'HASH', "account capability $cap value is an object");
    }
};

subtest 'primaryAccounts' => sub {
    is(ref $s->{primaryAccounts}, 'HASH', 'primaryAccounts is an object') or return;
    my $a = $s->{accounts}{$acct} || {};
    for my $cap (sort keys %{ $a->{accountCapabilities} || {} }) {
        is($s->{primaryAccounts}{$cap}, $acct, "primary account for $cap is alice's");
    }
    for my $cap (sort keys %{ $s->{primaryAccounts} }) {
        ok(exists $s->{accounts}{ $s->{primaryAccounts}{$cap} }, "primaryAccounts{$cap} names a listed account");
    }
    ok(!exists $s->{primaryAccounts}{$CORE}, "$CORE SHOULD NOT be in primaryAccounts");
};

subtest 'username, URLs, state' => sub {
    is($s->{username}, 'alice', 'username is alice');
    is($s->{apiUrl}, "$base/jmap/api", 'apiUrl is absolute, built from the request');
    my %vars = (downloadUrl => [qw(accountId blobId name type)],
                uploadUrl => [qw(accountId)],
                eventSourceUrl => [qw(types closeafter ping)]);
    for my $u (sort keys %vars) {
        ok(is_str($s->{$u}), "$u is a string") or next;
        like($s->{$u}, qr{^\Q$base\E/jmap/}, "$u is absolute under $base/jmap/");
        for my $v (@{ $vars{$u} }) {
            like($s->{$u}, qr/\{\Q$v\E\}/, "$u has the RFC 6570 variable {$v}");
        }
        my @all = $s->{$u} =~ /\{([^}]*)\}/g;
        ok(!(grep { my $x = $_; !grep { $_ eq $x } @{ $vars{$u} } } @all),
           "$u has no other template variables") or diag("$u: $s->{$u}");
    }
    like($s->{downloadUrl}, qr/\?.*\{type\}/, 'downloadUrl puts {type} in the query (RECOMMENDED, §2)');
    ok(is_str($s->{state}) && length $s->{state}, 'state is a non-empty string');
};

subtest 'the advertised apiUrl answers' => sub {
    my $r = $t->request('POST', $s->{apiUrl}, 'alice',
        $json->encode({ using => [$CORE], methodCalls => [['Core/echo', { ping => 1 }, 'e']] }),
        { 'content-type' => 'application/json' });
    is($r->{status}, 200, 'POST apiUrl: 200');
};

subtest 'session state is stable' => sub {
    my $s2 = $t->session('alice');
    is($s2->{state}, $s->{state}, 'same state on a second fetch');
    is_deeply([sort keys %{ $s2->{accounts} }], [$acct], 'same account');
};

subtest 'bob gets his own, different account' => sub {
    my $b = $t->session('bob');
    ok($b, 'session for bob') or return;
    is($b->{username}, 'bob', 'username bob');
    my @ids = keys %{ $b->{accounts} || {} };
    is(scalar @ids, 1, 'bob has one account');
    isnt($ids[0], $acct, 'bob\'s account id differs from alice\'s');
    ok(!exists $b->{accounts}{$acct}, 'bob does not see alice\'s account');
    ok(!(grep { $_ eq $acct } values %{ $b->{primaryAccounts} || {} }), 'nor as a primary account');
    is($b->{primaryAccounts}{$MAIL}, $ids[0], 'bob\'s primary mail account is his');
};

subtest 'unknown resources under /jmap' => sub {
    for my $p ('/jmap/nonexistent', '/jmap/api/extra', '/jmap/session/x') {
        my $r = $t->get($p, 'alice');
        ok($r->{status} == 404 || $r->{status} == 405, "GET $p: 404/405 (got $r->{status})");
    }
    my $r = $t->request('POST', '/jmap/session', 'alice', '{}', { 'content-type' => 'application/json' });
    ok($r->{status} >= 400 && $r->{status} < 500, "POST /jmap/session: 4xx (got $r->{status})");
};

$t->check_error_log;
$t->stop;

subtest 'JMAPBaseURL sets the URLs (reverse proxy)' => sub {
    my $p = JMAPTest->new(extra_conf => "JMAPBaseURL https://mail.example.org\n", ldap => 0);
    my $ps = $p->session('alice');
    ok($ps, 'session') or return;
    is($ps->{apiUrl}, 'https://mail.example.org/jmap/api', 'apiUrl uses the base URL');
    for my $u (qw(downloadUrl uploadUrl eventSourceUrl)) {
        like($ps->{$u}, qr{^https://mail\.example\.org/jmap/}, "$u uses the base URL");
    }
    my $r = $p->get('/.well-known/jmap');
    my $loc = $r->{headers}{location} // '';
    ok($loc eq '/jmap/session' || $loc eq 'https://mail.example.org/jmap/session',
       "well-known redirect points at the public session URL ($loc)");
    $p->check_error_log;
    $p->stop;
};

done_testing;
