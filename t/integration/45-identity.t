# 45-identity.t — Identity/get, /changes, /set (RFC 8621 §6) and the one
# sending authorisation (mail/jm_sendauth.h): default identities for the
# directory's addresses (the test slapd: alice has alice@ and
# alice.smith@) and for JMAPSendAs grants (an address and a *@domain
# wildcard), their stable ids and mayDelete false, identities the user
# creates (forbiddenFrom for an address not granted, the wildcard covering
# its domain only), email immutable, destroy, /changes, the rights staying
# the person's in a shared account, the Sender + From rule of smimeSign,
# and bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use JMAPTest;

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my @USING = qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
               urn:ietf:params:jmap:submission);
my $t = JMAPTest->new(smtp => 0,
    directives => { JMAPSendAs => ['sales@example.com alice bob',
                                   '*@support.example.com alice'] },
    extra_conf => "JMAPShareAccount bob alice\n");

sub call1 {
    my ($user, $name, $args, $using) = @_;
    my $r = $t->api($user, $using || \@USING, [[$name, $args, 'c']]);
    my $resp = $r && JMAPTest->response_for($r, 'c');
    return $resp ? @$resp[0, 1] : ('none', {});
}
sub ok_call {
    my ($user, $name, $args) = @_;
    my ($n, $a) = call1($user, $name, $args);
    is($n, $name, "$name answers") or diag(explain($a));
    return $a;
}
sub err_type { my ($n, $a) = @_; $n eq 'error' ? $a->{type} : "no error ($n)" }
sub def_id { 'I' . substr(sha256_hex($_[0]), 0, 20) }

my $ALICE = $t->account_id('alice');
my $BOB = $t->account_id('bob');
ok($ALICE && $BOB, 'accounts') or do { done_testing; exit };

my ($state0, %by_email);

subtest 'Identity/get: a default identity per granted address' => sub {
    my $g = ok_call('alice', 'Identity/get', { accountId => $ALICE });
    $state0 = $g->{state};
    ok(defined $state0 && $state0 ne '', 'a state');
    %by_email = map { ($_->{email} => $_) } @{ $g->{list} || [] };
    is_deeply([sort keys %by_email],
              [sort qw(alice@example.com alice.smith@example.com sales@example.com
                       *@support.example.com)],
              'the directory\'s two addresses, the JMAPSendAs address and wildcard');
    for my $e (sort keys %by_email) {
        my $i = $by_email{$e};
        is($i->{id}, def_id($e), "$e: the stable id I + sha256(address)");
        ok(JSON::PP::is_bool($i->{mayDelete}) && !$i->{mayDelete}, "$e: mayDelete false");
        is($i->{name}, '', "$e: name \"\"");
        ok(exists $i->{replyTo} && !defined $i->{replyTo}, "$e: replyTo null");
        ok(exists $i->{bcc} && !defined $i->{bcc}, "$e: bcc null");
        is($i->{textSignature}, '', "$e: textSignature \"\"");
        is($i->{htmlSignature}, '', "$e: htmlSignature \"\"");
    }
    is_deeply($g->{notFound}, [], 'notFound empty');
    my $again = ok_call('alice', 'Identity/get', { accountId => $ALICE });
    is($again->{state}, $state0, 'a second get changes nothing');

    my $p = ok_call('alice', 'Identity/get', { accountId => $ALICE,
        ids => [def_id('sales@example.com'), 'Inope'], properties => ['email'] });
    is_deeply($p->{list}, [{ id => def_id('sales@example.com'), email => 'sales@example.com' }],
              'properties: id and email only');
    is_deeply($p->{notFound}, ['Inope'], 'an unknown id is notFound');

    my $b = ok_call('bob', 'Identity/get', { accountId => $BOB });
    is_deeply([sort map { $_->{email} } @{ $b->{list} || [] }],
              [qw(bob@example.com sales@example.com)], "bob's own identities");
    is((grep { $_->{email} eq 'sales@example.com' } @{ $b->{list} })[0]{id},
       def_id('sales@example.com'), 'the same id for the same address');
};

my $created;
subtest 'Identity/set create' => sub {
    my $s = ok_call('alice', 'Identity/set', { accountId => $ALICE, create => {
        w => { email => 'alice@example.com', name => 'Alice at work',
               replyTo => [{ name => undef, email => 'replies@example.com' }],
               bcc => [{ name => 'Archive', email => 'archive@example.com' }],
               textSignature => "-- \nAlice", htmlSignature => '<b>Alice</b>' },
        wc => { email => 'help@support.example.com', name => 'Support' },
        wcself => { email => '*@support.example.com', name => 'Any support' },
        upper => { email => 'Alice@EXAMPLE.COM' },
    } });
    $created = $s->{created}{w};
    ok($created && $created->{id}, 'created') or diag(explain($s));
    ok($created->{mayDelete}, 'mayDelete true for one the user made');
    ok(!exists $created->{email} && !exists $created->{name}, 'created answers what was not sent');
    isnt($created->{id}, def_id('alice@example.com'), 'its own id, not the default one');
    ok($s->{created}{wc}, 'an address of the *@support.example.com grant') or diag(explain($s));
    ok($s->{created}{wcself}, 'the wildcard itself');
    ok($s->{created}{upper}, 'the address in another case');
    is($s->{created}{upper}{textSignature}, '', 'defaults answered');
    isnt($s->{newState}, $s->{oldState}, 'the state moved');
    my $g = ok_call('alice', 'Identity/get', { accountId => $ALICE, ids => [$created->{id}] });
    my $i = $g->{list}[0] || {};
    is($i->{name}, 'Alice at work', 'name stored');
    is_deeply($i->{replyTo}, [{ name => undef, email => 'replies@example.com' }], 'replyTo stored');
    is_deeply($i->{bcc}, [{ name => 'Archive', email => 'archive@example.com' }], 'bcc stored');
    is($i->{textSignature}, "-- \nAlice", 'textSignature stored');
    is($i->{htmlSignature}, '<b>Alice</b>', 'htmlSignature stored');
    my $u = ok_call('alice', 'Identity/get', { accountId => $ALICE,
                                               ids => [$s->{created}{upper}{id}] });
    is($u->{list}[0]{email}, 'Alice@example.com', 'the domain is lower-cased');
    my $b = ok_call('bob', 'Identity/get', { accountId => $BOB });
    ok(!grep({ $_->{id} eq $created->{id} } @{ $b->{list} }), 'not among bob\'s');
};

subtest 'forbiddenFrom and invalid creations' => sub {
    my $s = ok_call('alice', 'Identity/set', { accountId => $ALICE, create => {
        mallory => { email => 'mallory@example.com' },
        bob => { email => 'bob@example.com' },
        wide => { email => '*@example.com' },
        sub => { email => 'x@eu.support.example.com' },
        near => { email => 'x@notsupport.example.com' },
        noemail => { name => 'Nobody' },
        bad => { email => 'not an address' },
        crlf => { email => "alice\@example.com\r\nBcc: x\@y.z" },
        rt => { email => 'alice@example.com', replyTo => [{ email => 'nope' }] },
        rtkey => { email => 'alice@example.com', replyTo => [{ email => 'a@b.c', x => 1 }] },
        rtobj => { email => 'alice@example.com', replyTo => ['a@b.c'] },
        bccstr => { email => 'alice@example.com', bcc => 'a@b.c' },
        name => { email => 'alice@example.com', name => "A\r\nBcc: x\@y.z" },
        maydel => { email => 'alice@example.com', mayDelete => $T },
        id => { email => 'alice@example.com', id => 'Imine' },
        unknown => { email => 'alice@example.com', colour => 'blue' },
        sig => { email => 'alice@example.com', textSignature => 5 },
        big => { email => 'alice@example.com', htmlSignature => 'x' x 70000 },
    } });
    my $nc = $s->{notCreated} || {};
    is(scalar keys %{ $s->{created} || {} }, 0, 'nothing created') or diag(explain($s->{created}));
    is($nc->{$_}{type}, 'forbiddenFrom', "$_: forbiddenFrom")
        for qw(mallory bob wide sub near);
    for my $k (qw(noemail bad crlf)) {
        is($nc->{$k}{type}, 'invalidProperties', "$k: invalidProperties");
        is_deeply($nc->{$k}{properties}, ['email'], "$k: names email");
    }
    is_deeply($nc->{rt}{properties}, ['replyTo/0/email'], 'a bad replyTo address: its path');
    is_deeply($nc->{rtkey}{properties}, ['replyTo/0/x'], 'an unknown EmailAddress key');
    is_deeply($nc->{rtobj}{properties}, ['replyTo/0'], 'an EmailAddress that is no object');
    is_deeply($nc->{bccstr}{properties}, ['bcc'], 'bcc that is no array');
    is_deeply($nc->{name}{properties}, ['name'], 'a name with CRLF');
    is_deeply($nc->{maydel}{properties}, ['mayDelete'], 'mayDelete is server-set');
    is_deeply($nc->{id}{properties}, ['id'], 'id is server-set');
    is_deeply($nc->{unknown}{properties}, ['colour'], 'an unknown property');
    is_deeply($nc->{sig}{properties}, ['textSignature'], 'textSignature must be a String');
    is_deeply($nc->{big}{properties}, ['htmlSignature'], 'a signature past 64 KiB');
    is($nc->{$_}{type}, 'invalidProperties', "$_: invalidProperties")
        for qw(rt rtkey rtobj bccstr name maydel id unknown sig big);
    is($s->{newState}, $s->{oldState}, 'the state did not move');
};

subtest 'Identity/set update: email is immutable' => sub {
    my $def = def_id('alice.smith@example.com');
    my $s = ok_call('alice', 'Identity/set', { accountId => $ALICE, update => {
        $created->{id} => { name => 'Alice (work)', bcc => undef, textSignature => undef },
        $def => { name => 'Alice Smith' },
        'Inope' => { name => 'x' },
    } });
    ok(exists $s->{updated}{$created->{id}}, 'the name of her own changed') or diag(explain($s));
    ok(exists $s->{updated}{$def}, 'a default identity may be renamed');
    is($s->{notUpdated}{Inope}{type}, 'notFound', 'an unknown id: notFound');
    my $g = ok_call('alice', 'Identity/get', { accountId => $ALICE, ids => [$created->{id}, $def] });
    my %i = map { ($_->{id} => $_) } @{ $g->{list} };
    is($i{$created->{id}}{name}, 'Alice (work)', 'new name');
    ok(!defined $i{$created->{id}}{bcc}, 'bcc null again');
    is($i{$created->{id}}{textSignature}, '', 'null resets textSignature to ""');
    is($i{$created->{id}}{replyTo}[0]{email}, 'replies@example.com', 'replyTo kept');
    is($i{$def}{name}, 'Alice Smith', 'the default\'s name');
    ok(!$i{$def}{mayDelete}, 'still mayDelete false');

    $s = ok_call('alice', 'Identity/set', { accountId => $ALICE, update => {
        $created->{id} => { email => 'alice.smith@example.com' },
        $def => { mayDelete => $T },
        def_id('sales@example.com') => { email => 'sales@example.com', name => 'Sales' },
        def_id('alice@example.com') => { replyTo => [{ email => 'broken' }] },
    } });
    is($s->{notUpdated}{$created->{id}}{type}, 'invalidProperties', 'email: invalidProperties');
    is_deeply($s->{notUpdated}{$created->{id}}{properties}, ['email'], 'email is immutable');
    is_deeply($s->{notUpdated}{$def}{properties}, ['mayDelete'], 'mayDelete is server-set');
    ok(exists $s->{updated}{def_id('sales@example.com')}, 'the same email may be sent along');
    is_deeply($s->{notUpdated}{def_id('alice@example.com')}{properties}, ['replyTo/0/email'],
              'a bad replyTo in an update');
};

subtest 'Identity/set destroy and Identity/changes' => sub {
    my $s = ok_call('alice', 'Identity/set', { accountId => $ALICE,
        destroy => [$created->{id}, def_id('alice@example.com'), 'Inope'] });
    is_deeply($s->{destroyed}, [$created->{id}], 'her own one is destroyed');
    is($s->{notDestroyed}{def_id('alice@example.com')}{type}, 'forbidden',
       'a default one: forbidden (mayDelete false)');
    is($s->{notDestroyed}{Inope}{type}, 'notFound', 'an unknown id: notFound');
    my $c = ok_call('alice', 'Identity/changes', { accountId => $ALICE, sinceState => $state0 });
    is($c->{oldState}, $state0, 'oldState');
    ok(!$c->{hasMoreChanges}, 'no more changes');
    ok(!grep({ $_ eq $created->{id} } @{ $c->{created} }, @{ $c->{updated} }),
       'created and destroyed since: in neither created nor updated');
    ok(!grep({ $_ eq $created->{id} } @{ $c->{destroyed} }),
       'nor in destroyed (it did not exist at sinceState)');
    is(scalar @{ $c->{created} }, 3, 'the three other creations');
    is_deeply([sort @{ $c->{updated} }],
              [sort(def_id('alice.smith@example.com'), def_id('sales@example.com'))],
              'the two defaults updated');
    my $c2 = ok_call('alice', 'Identity/changes', { accountId => $ALICE,
                                                    sinceState => $c->{newState} });
    is_deeply([@{ $c2->{created} }, @{ $c2->{updated} }, @{ $c2->{destroyed} }], [],
              'nothing since the new state');
    my $c3 = ok_call('alice', 'Identity/changes', { accountId => $ALICE, sinceState => $state0,
                                                    maxChanges => 1 });
    ok($c3->{hasMoreChanges}, 'maxChanges 1: hasMoreChanges');
    my ($n, $a) = call1('alice', 'Identity/changes', { accountId => $ALICE,
                                                       sinceState => 'bogus' });
    is(err_type($n, $a), 'cannotCalculateChanges', 'a bogus state');
    my $g = ok_call('alice', 'Identity/get', { accountId => $ALICE, ids => [$created->{id}] });
    is_deeply($g->{notFound}, [$created->{id}], 'gone');
};

subtest 'in a shared account the rights stay the person\'s' => sub {
    my $g = ok_call('alice', 'Identity/get', { accountId => $BOB });
    is($g->{accountId}, $BOB, 'answered for bob\'s account');
    my %e = map { ($_->{email} => 1) } @{ $g->{list} || [] };
    ok($e{'alice@example.com'} && !$e{'bob@example.com'}, 'alice\'s identities, not bob\'s');
    my $s = ok_call('alice', 'Identity/set', { accountId => $BOB, create => {
        b => { email => 'bob@example.com' } } });
    is($s->{notCreated}{b}{type}, 'forbiddenFrom', 'no identity as the owner of the share');
};

subtest 'smimeSign: the sending rights, and Sender + From' => sub {
    my $draft = sub { $t->text_draft('alice', subject => 'Rights', smimeSign => $T, @_) };
    my $res = $t->email_set('alice', {
        own => $draft->(from => [{ email => 'alice@example.com' }]),
        dir => $draft->(from => [{ email => 'alice.smith@example.com' }]),
        both => $draft->(from => [{ email => 'alice@example.com' }],
                         sender => [{ email => 'sales@example.com' }]),
        badfrom => $draft->(from => [{ email => 'mallory@example.com' }],
                            sender => [{ email => 'alice@example.com' }]),
        badsender => $draft->(from => [{ email => 'alice@example.com' }],
                              sender => [{ email => 'mallory@example.com' }]),
        twofrom => $draft->(from => [{ email => 'alice@example.com' },
                                     { email => 'bob@example.com' }],
                            sender => [{ email => 'alice@example.com' }]),
        wild => $draft->(from => [{ email => 'help@support.example.com' }]),
    });
    ok($res->{created}{own}, 'From alice') or diag(explain($res->{notCreated}{own}));
    is($res->{notCreated}{dir}{type}, 'signedSenderNotAllowed',
       'alice.smith (her address, no key)');
    like($res->{notCreated}{dir}{description} // '', qr/No signing key/,
         '... refused for the missing key, not the right');
    ok($res->{created}{both}, 'From alice, Sender sales: both hers')
        or diag(explain($res->{notCreated}{both}));
    is($res->{notCreated}{badfrom}{type}, 'signedSenderNotAllowed', 'From mallory, Sender alice');
    is_deeply($res->{notCreated}{badfrom}{properties}, ['from'], '... names from');
    is($res->{notCreated}{badsender}{type}, 'signedSenderNotAllowed', 'Sender mallory');
    is_deeply($res->{notCreated}{badsender}{properties}, ['sender'], '... names sender');
    is($res->{notCreated}{twofrom}{type}, 'signedSenderNotAllowed', 'a second From of bob');
    like($res->{notCreated}{twofrom}{description} // '', qr/bob\@example\.com/, '... names bob');
    like($res->{notCreated}{wild}{description} // '', qr/No signing key/,
         'the wildcard grants the right (no key for it)');
    my $c = $t->email_set('carol', {
        w => $t->text_draft('carol', from => [{ email => 'help@support.example.com' }],
                            smimeSign => $T) });
    like($c->{notCreated}{w}{description} // '', qr/may not sign as/,
         'carol has no such grant');
};

subtest 'bad arguments' => sub {
    my ($n, $a) = call1('alice', 'Identity/get', { accountId => $ALICE, ids => 'x' });
    is(err_type($n, $a), 'invalidArguments', 'ids not an array');
    ($n, $a) = call1('alice', 'Identity/get', { accountId => $ALICE, properties => ['colour'] });
    is(err_type($n, $a), 'invalidArguments', 'an unknown property');
    ($n, $a) = call1('alice', 'Identity/set', { accountId => $ALICE, create => [] });
    is(err_type($n, $a), 'invalidArguments', 'create not an object');
    ($n, $a) = call1('alice', 'Identity/set', { accountId => $ALICE, ifInState => 'nope',
                                                create => { x => { email => 'alice@example.com' } } });
    is(err_type($n, $a), 'stateMismatch', 'ifInState');
    ($n, $a) = call1('alice', 'Identity/changes', { accountId => $ALICE });
    is(err_type($n, $a), 'invalidArguments', 'changes without sinceState');
    ($n, $a) = call1('alice', 'Identity/get', { accountId => 'Anope' });
    is(err_type($n, $a), 'accountNotFound', 'an unknown account');
    ($n, $a) = call1('alice', 'Identity/get', { accountId => $ALICE },
                     ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail']);
    is(err_type($n, $a), 'unknownMethod', 'without the submission capability');
};

subtest 'a grant taken away: its default identity goes (a change)' => sub {
    my $before = ok_call('alice', 'Identity/get', { accountId => $ALICE, ids => [] })->{state};
    # the same database, without the wildcard grant and without the directory
    my $t2 = JMAPTest->new(ldap => 0, smtp => 0,
        directives => { JMAPSendAs => ['sales@example.com alice bob'] },
        db => { driver => $t->db_driver, params => $t->db_params });
    my $r = $t2->api('alice', \@USING, [['Identity/get', { accountId => $ALICE }, 'g'],
                                        ['Identity/changes', { accountId => $ALICE,
                                                               sinceState => $before }, 'c']]);
    my $g = JMAPTest->response_for($r, 'g');
    my $c = JMAPTest->response_for($r, 'c');
    my %e = map { ($_->{email} => $_) } @{ $g->[1]{list} || [] };
    ok($e{'sales@example.com'}, 'the remaining grant keeps its default');
    my %ids = map { ($_->{id} => 1) } @{ $g->[1]{list} || [] };
    ok(!$ids{def_id('*@support.example.com')} && !$ids{def_id('alice.smith@example.com')}
       && !$ids{def_id('alice@example.com')},
       'the defaults of the wildcard and the directory\'s addresses are gone');
    ok($e{'help@support.example.com'}, 'one she made stays (mayDelete true)');
    is_deeply([sort @{ $c->[1]{destroyed} || [] }],
              [sort(def_id('*@support.example.com'), def_id('alice@example.com'),
                    def_id('alice.smith@example.com'))], 'Identity/changes: destroyed');
    my $s = $t2->api('alice', \@USING, [['Identity/set', { accountId => $ALICE, create => {
        x => { email => 'other@support.example.com' } } }, 's']]);
    is(JMAPTest->response_for($s, 's')->[1]{notCreated}{x}{type}, 'forbiddenFrom',
       'no new identity under the old grant');
    $t2->stop;
};

$t->check_error_log();
done_testing;
