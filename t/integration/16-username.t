# 16-username.t — user names JMAP cannot represent. JMAP is I-JSON (RFC
# 7493, RFC 8620 §1.5 / §2: the session's "username" and the account
# "name" are Strings), so a name from the authentication source that is not
# well-formed UTF-8, or that carries control characters, is refused with a
# 403 problem on every resource (never a 500, nothing provisioned), and
# logged with the name escaped. A well-formed non-ASCII name works.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $CORE = 'urn:ietf:params:jmap:core';
my $latin1 = "caf\xe9";           # Latin-1 é: one byte 0xE9, not UTF-8
my $ctl    = "ctl\x01name";       # well-formed, but a C0 control
my $utf8   = "jos\xc3\xa9";       # josé in UTF-8 (bytes)

my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                      users => ['alice', $latin1, $ctl, $utf8],
                      expected_errors => [qr/JM07006: /]);

sub refused {
    my ($user, $label, $why) = @_;
    subtest "$label: refused on every resource" => sub {
        my $r = $t->get('/jmap/session', $user);
        $t->problem_ok($r->{status}, $r->{headers}, $r->{content}, 403, 'about:blank',
                       'GET session: 403 problem');
        like($r->{json} && $r->{json}{detail}, qr/cannot be represented in JMAP.*$why/,
             'detail explains');
        my ($st, $h, $body) = $t->api_raw($user,
            JSON::PP->new->encode({ using => [$CORE], methodCalls => [['Core/echo', {}, 'c']] }));
        $t->problem_ok($st, $h, $body, 403, 'about:blank', 'POST api: 403 problem');
        $r = $t->request('POST', '/jmap/upload/Anything/', $user, 'x',
                         { 'content-type' => 'text/plain' });
        is($r->{status}, 403, 'upload: 403');
        $r = $t->get('/jmap/download/Anything/Gx/x.txt', $user);
        is($r->{status}, 403, 'download: 403');
    };
}

refused($latin1, 'Latin-1 user name caf\\xe9', 'not valid UTF-8');
refused($ctl, 'user name with a control character', 'control characters');

my $log = $t->error_log;
# (the escaping is httpd's: it escapes every error-log message)
like($log, qr/\[jmap_smime:error\].*JM07006: the user name "caf\\xe9" is not valid UTF-8/,
     'logged as an error, the name escaped (the byte E9 as \\xe9)');
like($log, qr/JM07006: the user name "ctl\\x01name" contains control characters/,
     'the control character escaped too');
unlike($log, qr/caf\xe9|ctl\x01/, 'no raw bytes of the bad names in the error log');
unlike($t->access_log, qr/" 5\d\d /, 'no 5xx answers');

subtest 'a well-formed non-ASCII user name works' => sub {
    my $s = $t->session($utf8);
    ok($s, 'session for jos\xc3\xa9') or return;
    my $name = $s->{username};
    utf8::encode($name);
    is($name, $utf8, 'username is the same string (josé)');
    my $acc = $t->account_id($utf8);
    my $up = $t->upload($utf8, $acc, "hola\n", 'text/plain');
    is($up->{status}, 201, 'upload works');
};

subtest 'other users are unaffected' => sub {
    ok($t->session('alice'), 'alice has a session');
};

$t->check_error_log;
$t->stop;
done_testing;
