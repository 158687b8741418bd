# 34-shared-accounts.t — JMAPShareAccount (RFC 8620 §1.6.2, §2): the
# session lists every account a user may use (isPersonal, name, isReadOnly,
# accountCapabilities; primaryAccounts stays the own one), methods work in
# a shared account and only there, accountNotFound for an account not
# shared with the user, accountReadOnly for a read-only share (":ro") and
# for an owner in JMAPReadOnlyUsers, uploads and downloads of shared
# accounts, sending rights that stay the person's, a session state that
# follows the share configuration, and the directive's startup checks.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use JMAPTest;

my $T = JSON::PP::true;
my $MAIL = 'urn:ietf:params:jmap:mail';
my $SUBM = 'urn:ietf:params:jmap:submission';
my $conf = "JMAPShareAccount bob alice\n"
         . "JMAPShareAccount carol alice:ro heidi\n"
         . "JMAPShareAccount erin alice\n"
         . "JMAPReadOnlyUsers erin\n"
         . "JMAPSendAs bob\@example.com bob\n";
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0, extra_conf => $conf);

sub call1 {
    my ($user, $name, $args, $using) = @_;
    my $r = $t->api($user, $using, [[$name, $args, 'c']]);
    my $resp = JMAPTest->response_for($r, 'c');
    return $resp ? @$resp[0, 1] : ('none', {});
}
sub err_type { my ($n, $a) = @_; $n eq 'error' ? $a->{type} : "no error ($n)" }

# alice asks first: bob, carol and erin have never logged in
my $s = $t->session('alice') or do { fail('no session'); done_testing; exit };
my $own = $s->{primaryAccounts}{$MAIL};
my %by_name = map { ($s->{accounts}{$_}{name} => $_) } keys %{ $s->{accounts} };

subtest 'the session lists own and shared accounts' => sub {
    is(scalar keys %{ $s->{accounts} }, 4, 'four accounts: alice, bob, carol, erin');
    is($by_name{alice}, $own, 'the own account is named after the user');
    my $a = $s->{accounts}{$own};
    ok($a->{isPersonal}, 'own: isPersonal true');
    ok(!$a->{isReadOnly}, 'own: isReadOnly false');
    for my $n (qw(bob carol erin)) {
        my $acc = $s->{accounts}{ $by_name{$n} || '' };
        ok($acc, "account of $n is listed") or next;
        ok(JSON::PP::is_bool($acc->{isPersonal}) && !$acc->{isPersonal}, "$n: isPersonal false");
        is_deeply([sort keys %{ $acc->{accountCapabilities} }],
                  [sort keys %{ $a->{accountCapabilities} }], "$n: the same accountCapabilities");
        ok($acc->{accountCapabilities}{$MAIL}{maxMailboxDepth}, "$n: the mail capability is filled in");
    }
    ok(!$s->{accounts}{ $by_name{bob} }{isReadOnly}, 'bob: writable');
    ok($s->{accounts}{ $by_name{carol} }{isReadOnly}, 'carol: isReadOnly (alice:ro)');
    ok($s->{accounts}{ $by_name{erin} }{isReadOnly}, 'erin: isReadOnly (JMAPReadOnlyUsers erin)');
    ok(!$s->{accounts}{ $by_name{carol} }{accountCapabilities}{$MAIL}{mayCreateTopLevelMailbox},
       'a read-only account may not create mailboxes');
    ok($s->{accounts}{ $by_name{bob} }{accountCapabilities}{$MAIL}{mayCreateTopLevelMailbox},
       'a writable shared one may');
    for my $cap (keys %{ $s->{primaryAccounts} }) {
        is($s->{primaryAccounts}{$cap}, $own, "primaryAccounts{$cap} is the own account");
    }
    is($s->{username}, 'alice', 'username is the user');
};

my $BOB = $by_name{bob};
my $CAROL = $by_name{carol};
my $ERIN = $by_name{erin};

subtest 'owners see only their own account, under the same id' => sub {
    my $b = $t->session('bob');
    is_deeply([keys %{ $b->{accounts} }], [$BOB],
              "bob's own account is the one alice was shown (created on first use)");
    ok($b->{accounts}{$BOB}{isPersonal}, 'personal for bob');
    my $h = $t->session('heidi');
    is(scalar keys %{ $h->{accounts} }, 2, 'heidi: own + carol (writable for her)');
    ok($h->{accounts}{$CAROL} && !$h->{accounts}{$CAROL}{isReadOnly}, "carol's account, not read-only");
    my $d = $t->session('dave');
    is(scalar keys %{ $d->{accounts} }, 1, 'dave has no share: one account');
};

my $DAVE = $t->account_id('dave');

subtest 'methods run in the account the call names' => sub {
    my ($n, $a) = call1('alice', 'Mailbox/get', { accountId => $BOB, properties => ['role'] });
    is($n, 'Mailbox/get', 'Mailbox/get in bob\'s account');
    is($a->{accountId}, $BOB, '... answers for bob\'s account');
    my %bob_boxes = map { ($_->{role} => $_->{id}) } @{ $a->{list} };
    is(scalar keys %bob_boxes, 6, 'six mailboxes');
    my ($n2, $own_mb) = call1('alice', 'Mailbox/get', { accountId => $own, properties => ['role'] });
    my %mine = map { ($_->{id} => 1) } @{ $own_mb->{list} };
    ok(!grep({ $mine{$_} } values %bob_boxes), "they are bob's, not alice's");

    my ($en, $e0) = call1('alice', 'Email/get', { accountId => $own, ids => [] });
    my $draft = $t->text_draft('alice', mailboxIds => { $bob_boxes{drafts} => $T });
    my ($sn, $sa) = call1('alice', 'Email/set', { accountId => $BOB, create => { k => $draft } });
    is($sn, 'Email/set', 'Email/set in bob\'s account') or diag(explain($sa));
    my $id = $sa->{created}{k}{id};
    ok($id, '... created');
    is($sa->{accountId}, $BOB, '... in bob\'s account');
    my ($gn, $ga) = call1('bob', 'Email/get', { accountId => $BOB, ids => [$id], properties => ['subject'] });
    is($ga->{list}[0]{subject}, 'Plans', 'bob reads it in his account');
    my ($n3, $e1) = call1('alice', 'Email/get', { accountId => $own, ids => [$id] });
    is_deeply($e1->{notFound}, [$id], "it is not in alice's account");
    is($e1->{state}, $e0->{state}, "alice's Email state did not move");

    # one request, two accounts: each call gets its own
    my $r = $t->api('alice', undef, [
        ['Mailbox/get', { accountId => $BOB, ids => [] }, 'b'],
        ['Mailbox/get', { accountId => $own, ids => [] }, 'o'],
        ['Mailbox/get', { accountId => $BOB, ids => [] }, 'b2'],
    ]);
    is(JMAPTest->response_for($r, 'b')->[1]{accountId}, $BOB, 'first call: bob');
    is(JMAPTest->response_for($r, 'o')->[1]{accountId}, $own, 'second: alice');
    is(JMAPTest->response_for($r, 'b2')->[1]{accountId}, $BOB, 'third: bob again');
};

subtest 'accountNotFound for accounts not shared with the user' => sub {
    is(err_type(call1('alice', 'Mailbox/get', { accountId => $DAVE })), 'accountNotFound',
       'alice -> dave\'s account');
    is(err_type(call1('dave', 'Mailbox/get', { accountId => $BOB })), 'accountNotFound',
       'dave (no share) -> bob\'s account');
    is(err_type(call1('dave', 'Email/set', { accountId => $BOB, create => {} })), 'accountNotFound',
       '... for writes too');
    is(err_type(call1('bob', 'Mailbox/get', { accountId => $own })), 'accountNotFound',
       'a share is one way: bob -> alice\'s account');
    is(err_type(call1('alice', 'Mailbox/get', { accountId => 'Anonexistent' })), 'accountNotFound',
       'an unknown id');
};

subtest 'accountReadOnly for read-only shares' => sub {
    is(err_type(call1('alice', 'Email/set', { accountId => $CAROL, create => {} })),
       'accountReadOnly', 'Email/set in carol\'s (alice:ro)');
    is(err_type(call1('alice', 'Mailbox/set', { accountId => $ERIN, create => { m => { name => 'x' } } })),
       'accountReadOnly', 'Mailbox/set in erin\'s (owner read-only)');
    my ($n, $a) = call1('alice', 'Mailbox/get', { accountId => $CAROL, properties => ['myRights'] });
    is($n, 'Mailbox/get', 'reads work');
    ok(!$a->{list}[0]{myRights}{mayDelete}, '... and say the mailboxes cannot be changed');
    my ($hn, $ha) = call1('heidi', 'Mailbox/set', { accountId => $CAROL, create => { m => { name => 'Heidi' } } });
    is($hn, 'Mailbox/set', 'heidi, whose share is writable, may change carol\'s account');
    ok($ha->{created}{m}, '... and did') or diag(explain($ha));
};

subtest 'uploads and downloads in shared accounts' => sub {
    my $bytes = "shared with alice " . time . "\n";
    my $blob = 'G' . sha256_hex($bytes);
    my $up = $t->upload('alice', $BOB, $bytes, 'text/plain');
    is($up->{status}, 201, 'alice uploads into bob\'s account');
    is($up->{json}{accountId}, $BOB, '... the answer names bob\'s account');
    is($up->{json}{blobId}, $blob, '... content-addressed');
    my %dl = (accountId => $BOB, blobId => $blob, name => 'x.txt', type => 'text/plain');
    my $d = $t->download('alice', \%dl);
    is($d->{status}, 200, 'alice downloads it from bob\'s account');
    is($d->{content}, $bytes, '... the bytes');
    $d = $t->download('bob', \%dl);
    is($d->{status}, 200, 'bob downloads it from his account');
    is($t->download('alice', { %dl, accountId => $own })->{status}, 404,
       "it is not in alice's own account");
    is($t->download('dave', \%dl)->{status}, 404, 'dave (no share) cannot download it');
    my $du = $t->upload('dave', $BOB, "dave was here\n", 'text/plain');
    is($du->{status}, 404, 'dave cannot upload into bob\'s account');
    like($du->{json} && $du->{json}{detail}, qr/No such account/, '... no such account for him');

    my $ro = $t->upload('alice', $CAROL, $bytes, 'text/plain');
    is($ro->{status}, 403, 'no upload into a read-only share');
    like($t->error_log, qr/JM07001: upload refused: account \Q$CAROL\E of carol is read-only \(a read-only share\)/,
         '... logged (JM07001)');
    is($t->download('alice', { %dl, accountId => $CAROL })->{status}, 404, 'nothing was stored');
    my $cu = $t->upload('carol', $CAROL, $bytes, 'text/plain');
    is($cu->{status}, 201, 'carol uploads into her own account');
    is($t->download('alice', { %dl, accountId => $CAROL })->{status}, 200,
       'alice may download from a read-only share');
};

subtest 'sending rights stay the person\'s' => sub {
    my $using = ['urn:ietf:params:jmap:core', $MAIL, $SUBM];
    my ($n, $a) = call1('bob', 'Identity/get', { accountId => $BOB }, $using);
    my %bob_addrs = map { ($_->{email} => 1) } @{ $a->{list} };
    ok($bob_addrs{'bob@example.com'}, 'bob may send as bob@example.com');
    ($n, $a) = call1('alice', 'Identity/get', { accountId => $BOB }, $using);
    is($n, 'Identity/get', 'Identity/get in bob\'s account as alice');
    my %addrs = map { ($_->{email} => 1) } @{ $a->{list} };
    ok(!$addrs{'bob@example.com'}, 'alice gains no right to send as bob');
    ok($addrs{'sales@example.com'}, 'she keeps her own (JMAPSendAs sales)');
};

subtest 'the session state follows the share configuration' => sub {
    my $before = $t->session('alice')->{state};
    my $bob_before = $t->session('bob')->{state};
    is($t->session('alice')->{state}, $before, 'stable while nothing changes');
    my $file = $t->conf_file;
    my $orig = do { local (@ARGV, $/) = ($file); <> };
    (my $changed = $orig) =~ s/JMAPShareAccount carol alice:ro heidi/JMAPShareAccount carol alice heidi/
        or BAIL_OUT('cannot edit the config');
    open(my $fh, '>', $file) or die $!;
    print $fh $changed;
    close $fh;
    $t->restart;
    my $s2 = $t->session('alice');
    isnt($s2->{state}, $before, 'a share made writable changes alice\'s session state');
    ok(!$s2->{accounts}{$CAROL}{isReadOnly}, '... and carol\'s account is writable now');
    is($t->session('bob')->{state}, $bob_before, "bob's session (no share changed) keeps its state");
    my $r = $t->api('alice', undef, [['Mailbox/get', { accountId => $own, ids => [] }, 'x']]);
    is($r->{sessionState}, $s2->{state}, 'API responses carry the new sessionState');
};

subtest 'the directive is checked at startup' => sub {
    my $file = $t->conf_file;
    my $orig = do { local (@ARGV, $/) = ($file); <> };
    for my $c (['JMAPShareAccount bob', qr/needs the owner and at least one user/],
               ['JMAPShareAccount bob bob', qr/bob is the owner/],
               ['JMAPShareAccount bob dave:rw', qr/the only suffix is ":ro"/],
               ['JMAPShareAccount bob alice:ro', qr/shared with alice twice/],
               ["JMAPShareAccount bob da\x01ve", qr/not a usable user name/]) {
        open(my $fh, '>', $file) or die $!;
        print $fh $orig, "$c->[0]\n";
        close $fh;
        my $out = $t->httpd_output('-t');
        like($out, $c->[1], "refused: $c->[0]");
    }
    open(my $fh, '>', $file) or die $!;
    print $fh $orig;
    close $fh;
    like($t->httpd_output('-t'), qr/Syntax OK/, 'the configuration is fine again');
};

$t->check_error_log();
done_testing;
