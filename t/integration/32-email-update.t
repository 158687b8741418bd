# 32-email-update.t — Email/set update and destroy (RFC 8621 §4.6) and
# Email/changes, Thread/get, Thread/changes (§4.3, §3): keywords and
# mailboxIds patched whole and by path, with every error (invalidPatch,
# invalidProperties for immutable and server-set properties, bad keywords,
# unknown or no mailboxes, notFound, willDestroy, stateMismatch), creation
# ids across create/update/destroy, counts that follow, and /changes that
# bring a client holding an old state exactly up to date.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use JMAPTest;

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0);
my $ACCT = $t->account_id('alice') or do { fail('no session'); done_testing; exit };
my %MB = map { $_ => $t->mailbox_id('alice', $_) } qw(inbox drafts archive trash);

sub call1 {
    my ($name, $args, $user) = @_;
    my $r = $t->api($user // 'alice', undef, [[$name, { accountId => $ACCT, %$args }, 'c']]);
    my $resp = JMAPTest->response_for($r, 'c');
    return $resp ? @$resp[0, 1] : ('none', {});
}

sub eset { my ($n, $a) = call1('Email/set', {@_}); $n eq 'Email/set' ? $a : { error => $a } }
sub eget {
    my ($ids, @props) = @_;
    my ($n, $a) = call1('Email/get', { ids => $ids, properties => [@props] });
    return { map { ($_->{id} => $_) } @{ $a->{list} || [] } };
}
sub estate { (call1('Email/get', { ids => [] }))[1]{state} }
sub boxes {
    my ($n, $a) = call1('Mailbox/get', { ids => [values %MB] });
    return { map { ($_->{id} => $_) } @{ $a->{list} } };
}
sub etype { my ($a, $k, $id) = @_; ($a->{$k} && $a->{$k}{$id}) ? $a->{$k}{$id}{type} : 'none' }

my $s0 = estate();
my $res = eset(create => {
    a => $t->text_draft('alice', mailboxIds => { $MB{inbox} => $T }, keywords => {}),
    b => $t->text_draft('alice', mailboxIds => { $MB{inbox} => $T }, keywords => { '$seen' => $T }),
    c => $t->text_draft('alice', mailboxIds => { $MB{archive} => $T }, keywords => {}),
});
my %E = map { $_ => $res->{created}{$_}{id} } qw(a b c);
ok($E{a} && $E{b} && $E{c}, 'three emails') or do { diag(explain($res)); done_testing; exit };
my $b0 = boxes();
is($b0->{ $MB{inbox} }{totalEmails}, 2, 'inbox: 2');
is($b0->{ $MB{inbox} }{unreadEmails}, 1, 'inbox: 1 unread');

subtest 'keywords: by path and whole' => sub {
    my $a = eset(update => { $E{a} => { 'keywords/$seen' => $T, 'keywords/$Flagged' => $T } });
    ok(exists $a->{updated}{ $E{a} }, 'patched by path') or diag(explain($a));
    is_deeply(eget([$E{a}], 'keywords')->{ $E{a} }{keywords}, { '$seen' => $T, '$flagged' => $T },
              'set, and lower-cased');
    is(boxes()->{ $MB{inbox} }{unreadEmails}, 0, 'inbox: no unread now');
    $a = eset(update => { $E{a} => { 'keywords/$flagged' => undef } });
    is_deeply(eget([$E{a}], 'keywords')->{ $E{a} }{keywords}, { '$seen' => $T }, 'null removes');
    $a = eset(update => { $E{a} => { keywords => { 'work' => $T } } });
    is_deeply(eget([$E{a}], 'keywords')->{ $E{a} }{keywords}, { work => $T }, 'replaced whole');
    is(boxes()->{ $MB{inbox} }{unreadEmails}, 1, 'unread again: counted');
    $a = eset(update => { $E{a} => { keywords => undef } });
    ok(exists $a->{updated}{ $E{a} }, 'keywords null: back to the default');
    is_deeply(eget([$E{a}], 'keywords')->{ $E{a} }{keywords}, {}, 'no keywords');
};

subtest 'mailboxIds: move, copy, and the counts' => sub {
    my $a = eset(update => { $E{a} => { "mailboxIds/$MB{inbox}" => undef,
                                        "mailboxIds/$MB{archive}" => $T } });
    ok(exists $a->{updated}{ $E{a} }, 'moved to the archive') or diag(explain($a));
    is_deeply(eget([$E{a}], 'mailboxIds')->{ $E{a} }{mailboxIds}, { $MB{archive} => $T }, 'moved');
    $a = eset(update => { $E{b} => { mailboxIds => { $MB{inbox} => $T, $MB{trash} => $T } } });
    ok(exists $a->{updated}{ $E{b} }, 'in two mailboxes');
    my $b = boxes();
    is($b->{ $MB{inbox} }{totalEmails}, 1, 'inbox: 1');
    is($b->{ $MB{archive} }{totalEmails}, 2, 'archive: 2');
    is($b->{ $MB{archive} }{unreadEmails}, 2, 'archive: 2 unread');
    is($b->{ $MB{trash} }{totalEmails}, 1, 'trash: 1');
    is($b->{ $MB{trash} }{unreadEmails}, 0, 'trash: the seen one is not unread');
};

subtest 'update errors' => sub {
    my @cases = (
        [ 'no mailbox left', { mailboxIds => {} }, 'invalidProperties' ],
        [ 'the last mailbox removed', { "mailboxIds/$MB{archive}" => undef }, 'invalidProperties' ],
        [ 'an unknown mailbox', { 'mailboxIds/Mnope' => $T }, 'invalidProperties' ],
        [ 'a mailbox value false', { "mailboxIds/$MB{inbox}" => $F }, 'invalidProperties' ],
        [ 'a bad keyword', { 'keywords/a(b' => $T }, 'invalidProperties' ],
        [ 'a keyword value false', { 'keywords/x' => $F }, 'invalidProperties' ],
        [ 'an immutable property', { subject => 'new' }, 'invalidProperties' ],
        [ 'a server-set property', { size => 1 }, 'invalidProperties' ],
        [ 'an unknown property', { colour => 'red' }, 'invalidProperties' ],
        [ 'a header property', { 'header:X-A' => 'b' }, 'invalidProperties' ],
        [ 'a path through a missing member', { 'nope/x' => $T }, '(invalidPatch|invalidProperties)' ],
        [ 'a path and its parent', { keywords => {}, 'keywords/x' => $T }, 'invalidPatch' ],
        [ 'a path through a keyword value', { 'keywords/$seen/x' => $T }, 'invalidPatch' ],
    );
    for my $c (@cases) {
        my ($label, $patch, $want) = @$c;
        my $before = estate();
        my $a = eset(update => { $E{a} => $patch });
        like(etype($a, 'notUpdated', $E{a}), qr/^$want$/, "$label: $want") or diag(explain($a));
        is(estate(), $before, "$label: nothing changed");
    }
    my $a = eset(update => { Mnope => { keywords => {} } });
    is(etype($a, 'notUpdated', 'Mnope'), 'notFound', 'an unknown id: notFound');
    $a = eset(update => { $E{a} => 'x' });
    is(etype($a, 'notUpdated', $E{a}), 'invalidPatch', 'a patch that is not an object');
    $a = eset(ifInState => 'nope', update => { $E{a} => { keywords => {} } });
    is($a->{error}{type}, 'stateMismatch', 'ifInState: stateMismatch');
    $a = eset(destroy => [5]);
    is($a->{error}{type}, 'invalidArguments', 'destroy holds Ids');
};

subtest 'create, update and destroy in one call, with creation ids' => sub {
    my $st = estate();
    my $a = eset(ifInState => $st,
        create => { n => $t->text_draft('alice', mailboxIds => { $MB{inbox} => $T }) },
        update => { '#n' => { 'keywords/$seen' => $T } },
        destroy => [$E{c}]);
    my $n = $a->{created}{n}{id};
    ok($n, 'created') or return diag(explain($a));
    ok(exists $a->{updated}{$n}, '#n updated in the same call');
    is_deeply($a->{destroyed}, [$E{c}], 'c destroyed');
    is($a->{oldState}, $st, 'oldState');
    is_deeply(eget([$n], 'keywords')->{$n}{keywords}, { '$seen' => $T },
              'the update applied after the create');
    is_deeply(eget([$E{c}]), {}, 'c is gone');
    $a = eset(update => { $E{b} => { keywords => {} } }, destroy => [$E{b}, $E{b}, 'Mnope']);
    is(etype($a, 'notUpdated', $E{b}), 'willDestroy', 'update and destroy: willDestroy');
    is_deeply($a->{destroyed}, [$E{b}], 'destroyed once though named twice');
    is(etype($a, 'notDestroyed', 'Mnope'), 'notFound', 'an unknown id: notFound');
    my $b = boxes();
    is($b->{ $MB{trash} }{totalEmails}, 0, 'trash: empty again');
    is($b->{ $MB{archive} }{totalEmails}, 1, 'archive: a only');
    $E{n} = $n;
};

subtest 'Email/changes from the first state' => sub {
    my ($n, $a) = call1('Email/changes', { sinceState => $s0 });
    is($n, 'Email/changes', 'answered') or return diag(explain($a));
    is_deeply([sort @{ $a->{created} }], [sort $E{a}, $E{n}], 'created: what exists and is new');
    is_deeply($a->{updated}, [], 'updated: nothing (the new ones are in created)');
    is_deeply($a->{destroyed}, [], 'destroyed: nothing (created since, destroyed since)');
    is($a->{newState}, estate(), 'newState');
    my $mid = estate();
    eset(update => { $E{a} => { 'keywords/$answered' => $T } });
    ($n, $a) = call1('Email/changes', { sinceState => $mid });
    is_deeply($a->{updated}, [$E{a}], 'a later update');
    eset(destroy => [$E{a}]);
    ($n, $a) = call1('Email/changes', { sinceState => $mid });
    is_deeply($a->{updated}, [], 'updated then destroyed: only destroyed');
    is_deeply($a->{destroyed}, [$E{a}], 'destroyed');
    # paging
    my $st = $s0;
    my %seen;
    for (1 .. 50) {
        ($n, $a) = call1('Email/changes', { sinceState => $st, maxChanges => 1 });
        last unless $n eq 'Email/changes';
        $seen{$_}++ for @{ $a->{created} }, @{ $a->{updated} }, @{ $a->{destroyed} };
        $st = $a->{newState};
        last unless $a->{hasMoreChanges};
    }
    is($st, estate(), 'maxChanges 1 pages up to the current state');
    ok($seen{ $E{n} }, 'and saw the changes');
    ($n, $a) = call1('Email/changes', { sinceState => 'x1' });
    is($a->{type}, 'cannotCalculateChanges', 'a foreign state: cannotCalculateChanges');
};

subtest 'Thread/get and Thread/changes' => sub {
    my ($n, $g) = call1('Email/get', { ids => [$E{n}], properties => ['threadId'] });
    my $tid = $g->{list}[0]{threadId};
    ok($tid, 'the email has a thread') or return;
    my ($m, $a) = call1('Thread/get', { ids => [$tid, 'Tnope'] });
    is($m, 'Thread/get', 'answered') or return diag(explain($a));
    is_deeply($a->{list}, [{ id => $tid, emailIds => [$E{n}] }], 'its emailIds');
    is_deeply($a->{notFound}, ['Tnope'], 'notFound');
    ($m, $a) = call1('Thread/get', { ids => undef });
    is($a->{type}, 'requestTooLarge', 'all threads at once: requestTooLarge');
    my $ts = $a->{state};
    ($m, $a) = call1('Thread/get', { ids => [] });
    my $st = $a->{state};
    my $res = eset(destroy => [$E{n}]);
    ($m, $a) = call1('Thread/changes', { sinceState => $st });
    is_deeply($a->{destroyed}, [$tid], 'its last email gone: the thread is destroyed');
    ($m, $a) = call1('Thread/get', { ids => [$tid] });
    is_deeply($a->{notFound}, [$tid], 'and not found');
};

subtest 'threads from Message-ID, In-Reply-To and References, merged by a late message' => sub {
    my $mk = sub { $t->text_draft('alice', mailboxIds => { $MB{inbox} => $T }, @_) };
    my $a = eset(create => {
        r => $mk->(messageId => ['root@example.com']),
        c => $mk->(messageId => ['child@example.com'], inReplyTo => ['root@example.com']),
        o => $mk->(messageId => ['other@example.com']),
    });
    my %c = map { $_ => $a->{created}{$_} } qw(r c o);
    ok($c{r} && $c{c} && $c{o}, 'three emails') or return diag(explain($a));
    is($c{c}{threadId}, $c{r}{threadId}, 'a reply joins its parent\'s thread');
    isnt($c{o}{threadId}, $c{r}{threadId}, 'an unrelated message has its own');
    my ($n, $th) = call1('Thread/get', { ids => [] });
    my $tstate = $th->{state};
    my $estate = estate();
    $a = eset(create => { m => $mk->(messageId => ['late@example.com'],
                                     references => ['root@example.com', 'other@example.com']) });
    my $m = $a->{created}{m};
    ok($m, 'a message naming both') or return diag(explain($a));
    my $g = eget([$c{r}{id}, $c{c}{id}, $c{o}{id}, $m->{id}], 'threadId');
    is(scalar(keys %{ { map { ($_->{threadId} => 1) } values %$g } }), 1, 'all four in one thread');
    ($n, $th) = call1('Thread/get', { ids => [$m->{threadId}] });
    is(scalar @{ $th->{list}[0]{emailIds} }, 4, 'Thread/get lists the four');
    my $gone = $m->{threadId} eq $c{r}{threadId} ? $c{o}{threadId} : $c{r}{threadId};
    ($n, $th) = call1('Thread/changes', { sinceState => $tstate });
    is_deeply($th->{destroyed}, [$gone], 'Thread/changes: the merged-away thread is destroyed');
    ok(grep({ $_ eq $m->{threadId} } @{ $th->{updated} }), 'and the one kept is updated');
    ($n, my $ch) = call1('Email/changes', { sinceState => $estate });
    my $moved = $gone eq $c{o}{threadId} ? [$c{o}{id}] : [sort $c{r}{id}, $c{c}{id}];
    is_deeply([sort @{ $ch->{updated} }], $moved, 'Email/changes: the moved emails are updated');
    my $b = boxes()->{ $MB{inbox} };
    my (undef, $all) = call1('Email/get', { ids => undef, properties => ['threadId', 'mailboxIds'] });
    my @in = grep { $_->{mailboxIds}{ $MB{inbox} } } @{ $all->{list} };
    is($b->{totalEmails}, scalar @in, 'inbox totalEmails after the merge');
    is($b->{totalThreads}, scalar(keys %{ { map { ($_->{threadId} => 1) } @in } }),
       'inbox totalThreads: the distinct threads of its emails');
};

$t->check_error_log;
$t->stop;
done_testing;
