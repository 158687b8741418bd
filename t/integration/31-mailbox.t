# 31-mailbox.t — the Mailbox methods (RFC 8621 §2) through HTTP: get, set
# (create with hierarchy, rename, move, every SetError: invalidProperties
# for names, parents, loops, depth, roles, sortOrder, server-set
# properties; mailboxHasChild, mailboxHasEmail, onDestroyRemoveEmails,
# notFound, willDestroy, stateMismatch, invalidPatch), changes (with
# updatedProperties when only counts moved, maxChanges/hasMoreChanges,
# cannotCalculateChanges), query (every filter, sort, sortAsTree,
# filterAsTree, windows) and queryChanges; counts follow the mail.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0);
my $ACCT = $t->account_id('alice') or do { fail('no session'); done_testing; exit };

sub call1 {
    my ($name, $args) = @_;
    my $r = $t->api('alice', undef, [[$name, { accountId => $ACCT, %$args }, 'c']]);
    my $resp = JMAPTest->response_for($r, 'c');
    return $resp ? @$resp[0, 1] : ('none', {});
}

sub mset {
    my (%args) = @_;
    my ($n, $a) = call1('Mailbox/set', \%args);
    is($n, 'Mailbox/set', 'Mailbox/set answered') or diag(explain($a));
    return $a;
}

sub mget {
    my ($ids, %args) = @_;
    my ($n, $a) = call1('Mailbox/get', { ids => $ids, %args });
    return $a;
}

sub state { mget([])->{state} }

sub by_role { my %m = map { (($_->{role} // $_->{name}) => $_) } @{ mget(undef)->{list} }; \%m }

sub err_type {
    my ($a, $kind, $key) = @_;
    my $e = $a->{$kind} && $a->{$kind}{$key};
    return $e ? $e->{type} : 'none';
}

my $roles = by_role();
is(scalar(keys %$roles), 6, 'a new account has six mailboxes');
for my $r (qw(inbox drafts sent trash junk archive)) {
    ok($roles->{$r}, "role $r");
}
my $inbox = $roles->{inbox};
is_deeply([sort keys %$inbox], [sort qw(id name parentId role sortOrder totalEmails unreadEmails
          totalThreads unreadThreads myRights isSubscribed)], 'every property of §2');
ok($inbox->{myRights}{mayCreateChild} && $inbox->{myRights}{mayDelete}, 'the owner has all rights');

subtest 'session: the mail capability is honest' => sub {
    my $s = $t->session('alice');
    my $cap = $s->{accounts}{$ACCT}{accountCapabilities}{'urn:ietf:params:jmap:mail'};
    is($cap->{maxMailboxDepth}, 10, 'maxMailboxDepth 10');
    is($cap->{maxSizeMailboxName}, 255, 'maxSizeMailboxName 255');
    ok($cap->{mayCreateTopLevelMailbox}, 'mayCreateTopLevelMailbox');
    is_deeply([sort @{ $cap->{emailQuerySortOptions} || [] }],
              [sort qw(receivedAt size from to subject sentAt hasKeyword
                       allInThreadHaveKeyword someInThreadHaveKeyword)],
              'emailQuerySortOptions: every comparator of RFC 8621 §4.4.2');
    my %coll = map { $_ => 1 } @{ $s->{capabilities}{'urn:ietf:params:jmap:core'}{collationAlgorithms} };
    ok($coll{$_}, "collation $_") for qw(i;ascii-casemap i;ascii-numeric i;unicode-casemap);
};

my ($s0, %id);
subtest 'create a hierarchy, with creation ids' => sub {
    $s0 = state();
    my $a = mset(create => {
        w  => { name => 'Work', sortOrder => 5, isSubscribed => $T },
        p  => { name => 'Projects', parentId => '#w' },
        x  => { name => 'Ärger & Ösen' },
    });
    for my $k (qw(w p x)) {
        ok($a->{created}{$k}{id}, "$k created") or diag(explain($a));
        $id{$k} = $a->{created}{$k}{id};
    }
    is($a->{oldState}, $s0, 'oldState');
    isnt($a->{newState}, $s0, 'a new state');
    is($a->{created}{w}{totalEmails}, 0, 'created answers the server-set counts');
    ok(!exists $a->{created}{w}{name}, 'but not what the client sent');
    is($a->{created}{x}{isSubscribed}, $F, 'isSubscribed defaults to false');
    my $g = mget([$id{p}, 'Mnope']);
    is($g->{list}[0]{parentId}, $id{w}, '#w resolved to the new parent');
    is_deeply($g->{notFound}, ['Mnope'], 'notFound');
    is(mget([$id{x}])->{list}[0]{name}, 'Ärger & Ösen', 'a UTF-8 name round-trips');
};

subtest 'create: invalidProperties for every rule' => sub {
    my @cases = (
        [ 'no name',            { parentId => undef },                   'name' ],
        [ 'empty name',         { name => '' },                          'name' ],
        [ 'control character',  { name => "a\tb" },                      'name' ],
        [ 'name too long',      { name => 'x' x 256 },                   'name' ],
        [ 'name not a string',  { name => 5 },                           'name' ],
        [ 'sibling name',       { name => 'Work' },                      'name' ],
        [ 'unknown parent',     { name => 'y', parentId => 'Mnope' },    'parentId' ],
        [ 'bad role',           { name => 'y', role => 'homework' },     'role' ],
        [ 'role taken',         { name => 'y', role => 'inbox' },        'role' ],
        [ 'negative sortOrder', { name => 'y', sortOrder => -1 },        'sortOrder' ],
        [ 'sortOrder >= 2^31',  { name => 'y', sortOrder => 2**31 },     'sortOrder' ],
        [ 'server-set count',   { name => 'y', totalEmails => 0 },       'totalEmails' ],
        [ 'server-set id',      { name => 'y', id => 'Mabc' },           'id' ],
        [ 'unknown property',   { name => 'y', colour => 'red' },        'colour' ],
    );
    for my $c (@cases) {
        my ($label, $obj, $prop) = @$c;
        my $a = mset(create => { k => $obj });
        my $e = $a->{notCreated} && $a->{notCreated}{k};
        is($e && $e->{type}, 'invalidProperties', "$label: invalidProperties") or diag(explain($a));
        ok($e && grep({ $_ eq $prop } @{ $e->{properties} || [] }), "$label: names $prop")
            or diag(explain($e));
    }
    my $a = mset(create => { k => { name => 'y', parentId => '#nope' } });
    is(err_type($a, 'notCreated', 'k'), 'invalidProperties', 'an unknown creation id as parent');
};

subtest 'depth: maxMailboxDepth is enforced' => sub {
    my $parent = undef;
    my @made;
    for my $d (1 .. 10) {
        my $a = mset(create => { k => { name => "L$d", parentId => $parent } });
        ok($a->{created}{k}, "level $d") or return diag(explain($a));
        $parent = $a->{created}{k}{id};
        push @made, $parent;
    }
    my $a = mset(create => { k => { name => 'L11', parentId => $parent } });
    is(err_type($a, 'notCreated', 'k'), 'invalidProperties', 'level 11 is refused');
    $a = mset(update => { $id{w} => { parentId => $made[-1] } });
    is(err_type($a, 'notUpdated', $id{w}), 'invalidProperties',
       'moving a subtree below the limit is refused too');
    $a = mset(destroy => [reverse @made]);
    is(scalar @{ $a->{destroyed} || [] }, 10, 'destroyed children first, then parents')
        or diag(explain($a));
};

subtest 'update: rename, move, patch errors' => sub {
    my $a = mset(update => { $id{x} => { name => 'Archive 2024', sortOrder => 3 } });
    ok(exists $a->{updated}{$id{x}}, 'renamed') or diag(explain($a));
    is(mget([$id{x}])->{list}[0]{name}, 'Archive 2024', 'the new name');
    $a = mset(update => { $id{x} => { parentId => $id{p} } });
    ok(exists $a->{updated}{$id{x}}, 'moved below Projects');
    $a = mset(update => { $id{w} => { parentId => $id{x} } });
    is(err_type($a, 'notUpdated', $id{w}), 'invalidProperties', 'a loop is refused');
    $a = mset(update => { $id{w} => { parentId => $id{w} } });
    is(err_type($a, 'notUpdated', $id{w}), 'invalidProperties', 'its own parent is refused');
    $a = mset(update => { $id{p} => { name => 'Archive 2024', parentId => undef } });
    ok(exists $a->{updated}{$id{p}}, 'a name used elsewhere in the tree is fine at the top');
    $a = mset(update => { $id{x} => { name => 'Archive 2024', parentId => undef } });
    is(err_type($a, 'notUpdated', $id{x}), 'invalidProperties', 'but not next to a sibling of that name');
    $a = mset(update => { $id{x} => { totalEmails => 7 } });
    is(err_type($a, 'notUpdated', $id{x}), 'invalidProperties', 'a server-set property');
    $a = mset(update => { $id{x} => { 'myRights/mayDelete' => $F } });
    ok(err_type($a, 'notUpdated', $id{x}) =~ /^(invalidProperties|invalidPatch)$/,
       'a path into a server-set property');
    $a = mset(update => { $id{x} => { 'name/first' => 'x' } });
    is(err_type($a, 'notUpdated', $id{x}), 'invalidPatch', 'a path through a string: invalidPatch');
    $a = mset(update => { $id{x} => { name => undef } });
    is(err_type($a, 'notUpdated', $id{x}), 'invalidProperties', 'name null: invalidProperties');
    $a = mset(update => { $id{x} => { sortOrder => undef, isSubscribed => undef } });
    ok(exists $a->{updated}{$id{x}}, 'sortOrder and isSubscribed null: their defaults')
        or diag(explain($a));
    $a = mset(update => { Mnope => { name => 'x' } });
    is(err_type($a, 'notUpdated', 'Mnope'), 'notFound', 'an unknown id: notFound');
    $a = mset(update => { $roles->{inbox}{id} => { role => undef } });
    is(err_type($a, 'notUpdated', $roles->{inbox}{id}), 'forbidden', 'the inbox keeps its role');
    $a = mset(update => { $id{x} => { role => 'flagged' } });
    ok(exists $a->{updated}{$id{x}}, 'an unused role can be given');
};

subtest 'ifInState and willDestroy' => sub {
    my ($n, $a) = call1('Mailbox/set', { ifInState => 'nope', update => { $id{x} => { name => 'z' } } });
    is($n, 'error', 'a wrong ifInState is a method error');
    is($a->{type}, 'stateMismatch', 'stateMismatch');
    is(mget([$id{x}])->{list}[0]{name}, 'Archive 2024', 'nothing changed');
    $a = mset(ifInState => state(), update => { $id{x} => { name => 'Z' } }, destroy => [$id{x}]);
    is(err_type($a, 'notUpdated', $id{x}), 'willDestroy', 'updated and destroyed: willDestroy');
    is_deeply($a->{destroyed}, [$id{x}], 'and destroyed');
    ($n, $a) = call1('Mailbox/set', { onDestroyRemoveEmails => 'yes' });
    is($a->{type}, 'invalidArguments', 'onDestroyRemoveEmails must be a Boolean');
};

my $email;
subtest 'counts follow the mail; mailboxHasEmail and onDestroyRemoveEmails' => sub {
    my $res = $t->email_set('alice', { e1 => $t->text_draft('alice',
        mailboxIds => { $id{p} => $T, $roles->{inbox}{id} => $T }, keywords => {}) });
    $email = $res->{created} && $res->{created}{e1}{id};
    ok($email, 'an email in Projects and the Inbox') or return diag(explain($res));
    my $g = mget([$id{p}, $roles->{inbox}{id}]);
    for my $m (@{ $g->{list} }) {
        is($m->{totalEmails}, 1, "$m->{name}: totalEmails 1");
        is($m->{unreadEmails}, 1, "$m->{name}: unreadEmails 1");
        is($m->{totalThreads}, 1, "$m->{name}: totalThreads 1");
        is($m->{unreadThreads}, 1, "$m->{name}: unreadThreads 1");
    }
    my $a = mset(destroy => [$id{p}]);
    is(err_type($a, 'notDestroyed', $id{p}), 'mailboxHasEmail', 'mailboxHasEmail');
    $a = mset(create => { wc => { name => 'Reports', parentId => $id{w} } });
    ok($id{wc} = $a->{created}{wc}{id}, 'a child for Work');
    $a = mset(destroy => [$id{w}]);
    is(err_type($a, 'notDestroyed', $id{w}), 'mailboxHasChild', 'mailboxHasChild');
    $a = mset(destroy => [$id{p}], onDestroyRemoveEmails => $T);
    is_deeply($a->{destroyed}, [$id{p}], 'destroyed with onDestroyRemoveEmails');
    my ($n, $e) = call1('Email/get', { ids => [$email], properties => ['mailboxIds'] });
    is_deeply($e->{list}[0]{mailboxIds}, { $roles->{inbox}{id} => $T },
              'the email stays in its other mailbox');
    $a = mset(destroy => [$roles->{inbox}{id}]);
    is(err_type($a, 'notDestroyed', $roles->{inbox}{id}), 'forbidden', 'the inbox cannot be destroyed');
    $a = mset(destroy => ['Mnope']);
    is(err_type($a, 'notDestroyed', 'Mnope'), 'notFound', 'destroying an unknown id: notFound');
};

subtest 'Mailbox/changes' => sub {
    my ($n, $a) = call1('Mailbox/changes', { sinceState => $s0 });
    is($n, 'Mailbox/changes', 'answered') or return diag(explain($a));
    is($a->{oldState}, $s0, 'oldState');
    is($a->{newState}, state(), 'newState is the current state');
    ok(!$a->{hasMoreChanges}, 'no more');
    ok(grep({ $_ eq $id{w} } @{ $a->{created} }), 'Work: created');
    ok(!grep({ $_ eq $id{x} } @{ $a->{created} }, @{ $a->{destroyed} }),
       'created and destroyed since: in no list');
    ok(grep({ $_ eq $id{p} } @{ $a->{destroyed} }) == 0,
       'Projects was created after sinceState too: not listed as destroyed');
    ok(grep({ $_ eq $roles->{inbox}{id} } @{ $a->{updated} }), 'the inbox: updated (its counts)');
    is($a->{updatedProperties}, undef, 'other changes too: updatedProperties null');
    my $mid = state();
    my $res = $t->email_set('alice', { e2 => $t->text_draft('alice',
        mailboxIds => { $roles->{inbox}{id} => $T }) });
    ok($res->{created}{e2}, 'another email');
    ($n, $a) = call1('Mailbox/changes', { sinceState => $mid });
    is_deeply($a->{updated}, [$roles->{inbox}{id}], 'only the inbox changed');
    is_deeply($a->{updatedProperties}, [qw(totalEmails unreadEmails totalThreads unreadThreads)],
              'updatedProperties: only counts');
    ($n, $a) = call1('Mailbox/changes', { sinceState => $s0, maxChanges => 1 });
    is(scalar(@{ $a->{created} }) + @{ $a->{updated} } + @{ $a->{destroyed} }, 1,
       'maxChanges 1: one id');
    ok($a->{hasMoreChanges}, 'hasMoreChanges');
    my $guard = 0;
    while ($a->{hasMoreChanges} && $guard++ < 200) {
        ($n, $a) = call1('Mailbox/changes', { sinceState => $a->{newState}, maxChanges => 1 });
        last unless $n eq 'Mailbox/changes';
    }
    is($a->{newState}, state(), 'paging with maxChanges 1 reaches the current state');
    for my $bad (['nope', 'cannotCalculateChanges'], ['999999', 'cannotCalculateChanges']) {
        ($n, $a) = call1('Mailbox/changes', { sinceState => $bad->[0] });
        is($a->{type}, $bad->[1], "sinceState $bad->[0]: $bad->[1]");
    }
    ($n, $a) = call1('Mailbox/changes', { sinceState => $s0, maxChanges => 0 });
    is($a->{type}, 'invalidArguments', 'maxChanges 0: invalidArguments');
    ($n, $a) = call1('Mailbox/changes', {});
    is($a->{type}, 'invalidArguments', 'no sinceState: invalidArguments');
};

subtest 'Mailbox/query' => sub {
    my $res = mset(create => {
        a => { name => 'alpha', sortOrder => 2 },
        b => { name => 'Beta', sortOrder => 1, isSubscribed => $T },
        c => { name => 'gamma', parentId => '#a' },
        d => { name => 'delta', parentId => '#c', isSubscribed => $T },
    });
    my %q = map { $_ => $res->{created}{$_}{id} } qw(a b c d);
    ok($q{d}, 'four more mailboxes') or return diag(explain($res));
    my $ids = sub { my ($n, $r) = call1('Mailbox/query', $_[0]); $n eq 'error' ? $r->{type} : $r->{ids} };
    is_deeply($ids->({ filter => { parentId => $q{a} } }), [$q{c}], 'parentId');
    is(scalar @{ $ids->({ filter => { parentId => undef } }) }, 9, 'parentId null: top level');
    is_deeply($ids->({ filter => { name => 'ALPH' } }), [$q{a}], 'name: a substring, any case');
    is_deeply($ids->({ filter => { role => 'inbox' } }), [$roles->{inbox}{id}], 'role');
    is(scalar @{ $ids->({ filter => { hasAnyRole => $T } }) }, 6, 'hasAnyRole');
    is(scalar @{ $ids->({ filter => { role => undef } }) }, 6, 'role null');
    is_deeply($ids->({ filter => { isSubscribed => $T, parentId => $q{c} } }), [$q{d}],
              'isSubscribed and parentId');
    is_deeply($ids->({ filter => { operator => 'AND', conditions => [
        { hasAnyRole => $F }, { operator => 'NOT', conditions => [{ name => 'a' }] }] },
        sort => [{ property => 'name' }] }),
        [$id{wc}, $id{w}], 'AND/NOT nesting: no role and no "a" in the name');
    is_deeply($ids->({ filter => { operator => 'OR', conditions => [
        { name => 'beta' }, { name => 'delta' }] }, sort => [{ property => 'name' }] }),
        [$q{b}, $q{d}], 'OR, sorted by name');
    is_deeply($ids->({ filter => { parentId => undef, hasAnyRole => $F },
                       sort => [{ property => 'sortOrder' }, { property => 'name' }] }),
              [$q{b}, $q{a}, $id{w}], 'sortOrder then name');
    is_deeply($ids->({ filter => { parentId => undef, hasAnyRole => $F },
                       sort => [{ property => 'name', isAscending => $F }] }),
              [$id{w}, $q{b}, $q{a}], 'name descending');
    is_deeply($ids->({ filter => { hasAnyRole => $F }, sortAsTree => $T,
                       sort => [{ property => 'name' }] }),
              [$q{a}, $q{c}, $q{d}, $q{b}, $id{w}, $id{wc}], 'sortAsTree');
    is_deeply($ids->({ filter => { name => 'a', hasAnyRole => $F }, filterAsTree => $T,
                       sort => [{ property => 'name' }] }),
              [$q{a}, $q{b}, $q{d}, $q{c}],
              'filterAsTree: delta and gamma are under alpha, which matches');
    is_deeply($ids->({ filter => { name => 'ta' }, filterAsTree => $T }), [$q{b}],
              'filterAsTree: delta (under gamma, which does not match) is left out');
    my ($n, $r) = call1('Mailbox/query', { sort => [{ property => 'name' }], position => 2, limit => 2,
                                           calculateTotal => $T });
    is($r->{position}, 2, 'position');
    is(scalar @{ $r->{ids} }, 2, 'limit');
    is($r->{total}, 12, 'total');
    ok($r->{canCalculateChanges}, 'canCalculateChanges');
    is($r->{queryState}, state(), 'queryState is the Mailbox state');
    ($n, $r) = call1('Mailbox/query', { sort => [{ property => 'name' }], anchor => $q{b},
                                        anchorOffset => -1, limit => 2 });
    is_deeply($r->{ids}, [$roles->{archive}{id}, $q{b}],
              'anchor with anchorOffset -1 (alpha, Archive, Beta, ... by i;unicode-casemap)');
    is($ids->({ anchor => 'Mnope' }), 'anchorNotFound', 'anchorNotFound');
    is($ids->({ filter => { colour => 'red' } }), 'unsupportedFilter', 'unknown filter: unsupportedFilter');
    is($ids->({ filter => { name => 5 } }), 'invalidArguments', 'a wrong type: invalidArguments');
    is($ids->({ filter => { operator => 'XOR', conditions => [] } }), 'invalidArguments',
       'an unknown operator');
    is($ids->({ sort => [{ property => 'totalEmails' }] }), 'unsupportedSort', 'unsortable property');
    is($ids->({ sort => [{ property => 'name', collation => 'i;klingon' }] }), 'unsupportedSort',
       'an unknown collation');
    is($ids->({ sortAsTree => 1 }), 'invalidArguments', 'sortAsTree must be a Boolean');
    is($ids->({ limit => -1 }), 'invalidArguments', 'a negative limit');

    # queryChanges: a client holding the query follows a rename and a creation
    my $qargs = { filter => { hasAnyRole => $F }, sort => [{ property => 'name' }] };
    ($n, $r) = call1('Mailbox/query', $qargs);
    my ($qs, @before) = ($r->{queryState}, @{ $r->{ids} });
    $res = mset(create => { e => { name => 'aardvark' } }, update => { $q{b} => { name => 'zeta' } });
    my $e = $res->{created}{e}{id};
    ($n, $r) = call1('Mailbox/queryChanges', { %$qargs, sinceQueryState => $qs, calculateTotal => $T });
    is($n, 'Mailbox/queryChanges', 'queryChanges answered') or return diag(explain($r));
    is($r->{oldQueryState}, $qs, 'oldQueryState');
    my @now = @{ (call1('Mailbox/query', $qargs))[1]{ids} };
    # apply removed/added to the old list: it must give the new one
    my %rm = map { $_ => 1 } @{ $r->{removed} };
    my @l = grep { !$rm{$_} } @before;
    splice(@l, $_->{index}, 0, $_->{id}) for sort { $a->{index} <=> $b->{index} } @{ $r->{added} };
    is_deeply(\@l, \@now, 'removed + added bring the old results up to date');
    is($r->{total}, scalar @now, 'total');
    ($n, $r) = call1('Mailbox/queryChanges', { %$qargs, sinceQueryState => $qs, maxChanges => 1 });
    is($r->{type}, 'tooManyChanges', 'maxChanges 1: tooManyChanges');
    ($n, $r) = call1('Mailbox/queryChanges', { %$qargs, sinceQueryState => 'x' });
    is($r->{type}, 'cannotCalculateChanges', 'an unknown state: cannotCalculateChanges');
};

$t->check_error_log;
$t->stop;
done_testing;
