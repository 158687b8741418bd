# 30-email-query.t — Email/query (RFC 8621 §4.4) and SearchSnippet/get (§5.1)
# over HTTP, on emails made with Email/set: filters on mailbox, keywords,
# receivedAt and size (the parsed text columns are the indexer's; the text
# search is in t/unit/test_query), sorts, collapseThreads, the window
# (position, anchor, anchorOffset, limit, calculateTotal), result
# references into Email/get, and the errors. Runs on the driver of
# JMAP_TEST_DRIVER (sqlite3 or pgsql).
use strict;
use utf8;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use POSIX qw(strftime);
use JMAPTest;

my $T = JSON::PP::true;
my $F = JSON::PP::false;

my $t = JMAPTest->new(ldap => 0);
ok($t->session('alice'), 'alice has a session') or do { done_testing; exit };
my $ACCT = $t->account_id('alice');

sub call {
    my ($calls) = @_;
    return $t->api('alice', undef, $calls);
}

sub one {
    my ($name, $args) = @_;
    my $r = call([[$name, { accountId => $ACCT, %$args }, 'c']]);
    my $resp = $r && $r->{methodResponses} && $r->{methodResponses}[0];
    return $resp ? ($resp->[0], $resp->[1]) : ('none', {});
}

sub query { my ($n, $a) = one('Email/query', $_[0]); return $n eq 'Email/query' ? $a : { error => $a }; }

my $r0 = call([['Mailbox/get', { accountId => $ACCT }, 'm']]);
my %MB = map { (($_->{role} // $_->{name}) => $_->{id}) } @{ $r0 ? $r0->{methodResponses}[0][1]{list} : [] };
ok($MB{inbox} && $MB{archive} && $MB{trash}, 'inbox, archive, trash');

# 12 emails: receivedAt one hour apart (E0 oldest), sizes growing with i,
# every other one $seen, every third $flagged, E0-E7 in the inbox, E8-E11
# in the archive, E3 also in the trash.
my (@E, %SIZE, %RECV);
my $base = 1_700_000_000;
my %create;
for my $i (0 .. 11) {
    my %kw;
    $kw{'$seen'} = $T if $i % 2 == 0;
    $kw{'$flagged'} = $T if $i % 3 == 0;
    my %mb = ($i < 8 ? ($MB{inbox} => $T) : ($MB{archive} => $T));
    $mb{$MB{trash}} = $T if $i == 3;
    $create{"k$i"} = {
        mailboxIds => \%mb,
        keywords   => \%kw,
        receivedAt => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($base + $i * 3600)),
        from       => [{ email => 'alice@example.com' }],
        to         => [{ email => 'bob@example.com' }],
        subject    => "Query test $i",
        textBody   => [{ partId => 't', type => 'text/plain' }],
        bodyValues => { t => { value => ('x' x (100 * $i + 1)) . "\n" } },
        ($i % 4 == 1 ? ('header:X-Priority:asText' => '1 (Highest)') : ()),
        ($i == 5 ? ('header:X-Label:asText' => 'Größe Überraschung') : ()),
    };
}
my ($sn, $set) = one('Email/set', { create => \%create });
for my $i (0 .. 11) {
    my $c = $set->{created} && $set->{created}{"k$i"};
    push @E, $c ? $c->{id} : "missing$i";
    $SIZE{$E[-1]} = $c ? $c->{size} : -1;
    $RECV{$E[-1]} = $base + $i * 3600;
}
is(scalar(grep { !/^missing/ } @E), 12, 'created 12 emails') or diag(explain($set));

my @newest = reverse @E;                 # default sort: receivedAt desc
my @inbox  = reverse @E[0 .. 7];

my $q = query({ filter => { inMailbox => $MB{inbox} },
                sort => [{ property => 'receivedAt', isAscending => $F }],
                limit => 50, calculateTotal => $T });
is_deeply($q->{ids}, \@inbox, 'inMailbox, receivedAt desc, limit 50') or diag(explain($q));
is($q->{total}, 8, 'total (the kept count)');
is($q->{position}, 0, 'position 0');
ok(!exists $q->{limit}, 'limit 50 not capped');
ok(defined $q->{queryState} && !ref $q->{queryState}, 'queryState');
ok(JSON::PP::is_bool($q->{canCalculateChanges}) && $q->{canCalculateChanges},
   'canCalculateChanges (Email/queryChanges follows it)');
my $state0 = $q->{queryState};

$q = query({});
is_deeply($q->{ids}, \@newest, 'no filter: all, newest first');
is($q->{limit}, 1000, 'no limit: capped at 1000 and said so');
ok(!exists $q->{total}, 'no total unless asked');

is_deeply(query({ filter => { inMailbox => $MB{archive} } })->{ids}, [reverse @E[8 .. 11]], 'archive');
is_deeply(query({ filter => { inMailbox => $MB{trash} } })->{ids}, [$E[3]], 'trash');
is_deeply(query({ filter => { inMailboxOtherThan => [$MB{inbox}] } })->{ids},
          [reverse(@E[8 .. 11]), $E[3]], 'inMailboxOtherThan inbox (E3 is in the trash too)');
is_deeply(query({ filter => { hasKeyword => '$seen' } })->{ids},
          [grep { my $i = idx($_); $i % 2 == 0 } @newest], 'hasKeyword $seen');
is_deeply(query({ filter => { notKeyword => '$SEEN' } })->{ids},
          [grep { idx($_) % 2 } @newest], 'notKeyword (case-insensitive)');
is_deeply(query({ filter => { after => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($base + 3 * 3600)),
                              before => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($base + 6 * 3600)) } })->{ids},
          [@E[5, 4, 3]], 'after (inclusive), before (exclusive)');
is_deeply(query({ filter => { minSize => $SIZE{$E[4]}, maxSize => $SIZE{$E[7]} } })->{ids},
          [@E[6, 5, 4]], 'minSize, maxSize');
is_deeply(query({ filter => { operator => 'AND', conditions => [
                    { inMailbox => $MB{inbox} },
                    { operator => 'NOT', conditions => [{ hasKeyword => '$seen' }] },
                    { operator => 'OR', conditions => [{ hasKeyword => '$flagged' },
                                                       { minSize => $SIZE{$E[7]} }] } ] } })->{ids},
          [@E[7, 3]], 'AND(inbox, NOT seen, OR(flagged, big))');

sub idx { my ($id) = @_; for my $i (0 .. $#E) { return $i if $E[$i] eq $id } -1 }

is_deeply(query({ sort => [{ property => 'size', isAscending => $F }] })->{ids}, \@newest,
          'size desc (bigger bodies are newer)');
is_deeply(query({ sort => [{ property => 'size' }] })->{ids}, \@E, 'size asc');
is_deeply(query({ sort => [{ property => 'receivedAt', isAscending => $T }] })->{ids}, \@E,
          'receivedAt asc');
is_deeply(query({ sort => [{ property => 'hasKeyword', keyword => '$flagged', isAscending => $F },
                           { property => 'receivedAt', isAscending => $F }] })->{ids},
          [(grep { idx($_) % 3 == 0 } @newest), (grep { idx($_) % 3 } @newest)],
          'hasKeyword $flagged first, then newest');

# the window
$q = query({ filter => { inMailbox => $MB{inbox} }, position => 2, limit => 3 });
is_deeply($q->{ids}, [@inbox[2 .. 4]], 'position 2, limit 3');
$q = query({ filter => { inMailbox => $MB{inbox} }, position => -2 });
is_deeply($q->{ids}, [@inbox[6, 7]], 'position -2: the last two');
is($q->{position}, 6, 'negative position resolved against the total');
$q = query({ filter => { inMailbox => $MB{inbox} }, position => 50, calculateTotal => $T });
is_deeply($q->{ids}, [], 'position past the end: empty, no error');
is($q->{total}, 8, 'total still 8');
$q = query({ filter => { inMailbox => $MB{inbox} }, limit => 0, calculateTotal => $T });
is_deeply($q->{ids}, [], 'limit 0');
$q = query({ anchor => $E[5], anchorOffset => -1, limit => 3, position => 9 });
is_deeply($q->{ids}, [@E[6, 5, 4]], 'anchor + anchorOffset -1 (position ignored)');
is($q->{position}, 5, 'anchor position');
$q = query({ anchor => $E[11], anchorOffset => -5, limit => 1 });
is_deeply($q->{ids}, [$E[11]], 'anchorOffset before the start: clamped');
$q = query({ anchor => $E[0], anchorOffset => 3 });
is_deeply($q->{ids}, [], 'anchorOffset past the end: empty');
is(query({ filter => { inMailbox => $MB{archive} }, anchor => $E[0] })->{error}{type},
   'anchorNotFound', 'anchor not in the results: anchorNotFound');

# threads: Email/set does not parse messages into thread references yet
# (the indexer's), so each email is a thread of its own and collapsing
# keeps them all; the unit test covers real threads
$q = query({ filter => { inMailbox => $MB{archive} }, collapseThreads => $T, calculateTotal => $T });
is_deeply($q->{ids}, [reverse @E[8 .. 11]], 'collapseThreads: one email per thread');
is($q->{total}, 4, 'collapsed total: the threads (kept count)');
ok(JSON::PP::is_bool($q->{collapseThreads}) && $q->{collapseThreads}, 'collapseThreads in the answer');
$q = query({ filter => { inMailbox => $MB{archive}, notKeyword => '$flagged' },
             collapseThreads => $T, calculateTotal => $T });
is($q->{total}, 3, 'collapsed total, counted (E8, E10, E11)');
my ($cn, $more) = one('Email/set', { create => { n => {
    mailboxIds => { $MB{archive} => $T }, keywords => {},
    from => [{ email => 'bob@example.com' }], subject => 'later',
    textBody => [{ partId => 't', type => 'text/plain' }],
    bodyValues => { t => { value => "later\n" } } } } });
ok($more->{created} && $more->{created}{n}, 'one more email');
$q = query({ filter => { inMailbox => $MB{archive} }, calculateTotal => $T, limit => 1 });
is($q->{total}, 5, 'archive: 5 now');
is_deeply($q->{ids}, [$more->{created} ? $more->{created}{n}{id} : 'none'], 'the newest first');
isnt($q->{queryState}, $state0, 'queryState moved with the new email');

# result reference into Email/get (RFC 8620 §3.7)
my $rr = call([['Email/query', { accountId => $ACCT, filter => { inMailbox => $MB{trash} } }, 'q'],
               ['Email/get', { accountId => $ACCT, '#ids' => { resultOf => 'q', name => 'Email/query',
                               path => '/ids' }, properties => ['id', 'mailboxIds'] }, 'g']]);
my $g = $rr && $rr->{methodResponses}[1];
is($g && $g->[0], 'Email/get', 'Email/get with #ids from Email/query');
is($g && $g->[1]{list}[0]{id}, $E[3], 'the trash email');

# SearchSnippet/get: no text term (the parsed columns are the indexer's)
my ($nn, $snip) = one('SearchSnippet/get', { filter => { inMailbox => $MB{inbox} },
                                             emailIds => [$E[0], 'nosuch'] });
is($nn, 'SearchSnippet/get', 'SearchSnippet/get answers');
is($snip->{list} && scalar @{ $snip->{list} }, 1, 'one snippet');
is($snip->{list}[0]{emailId}, $E[0], 'its emailId');
ok(exists $snip->{list}[0]{subject} && !defined $snip->{list}[0]{subject}, 'subject null (no text term)');
is_deeply($snip->{notFound}, ['nosuch'], 'notFound');
($nn, $snip) = one('SearchSnippet/get', { emailIds => [$E[1]] });
ok(exists $snip->{notFound} && !defined $snip->{notFound}, 'notFound null when all found');
($nn, $snip) = one('SearchSnippet/get', { filter => { bogus => 1 }, emailIds => [] });
is($nn eq 'error' && $snip->{type}, 'unsupportedFilter', 'SearchSnippet/get: unknown filter property');
($nn, $snip) = one('SearchSnippet/get', { });
is($nn eq 'error' && $snip->{type}, 'invalidArguments', 'SearchSnippet/get without emailIds');

# header (RFC 8621 §4.4.1): the fields each message has as stored, names
# case-insensitive, the text case-insensitive in the decoded (asText) value
my @prio = map { $E[$_] } (9, 5, 1);
is_deeply(query({ filter => { header => ['X-Priority'] } })->{ids}, \@prio, 'header: by name');
is_deeply(query({ filter => { header => ['x-PRIORITY', 'HIGHEST'] } })->{ids}, \@prio,
          'header: name and text, any case');
is_deeply(query({ filter => { header => ['X-Priority', 'lowest'] } })->{ids}, [],
          'header: text not in it');
is_deeply(query({ filter => { header => ['X-Label', 'GRÖSSE überraschung'] } })->{ids}, [$E[5]],
          'header: RFC 2047 decoded, Unicode case folding');
is_deeply(query({ filter => { header => ['Subject', 'query test 1'] } })->{ids},
          [@E[11, 10, 1]], 'header: Subject as text');
is_deeply(query({ filter => { header => ['X-Label'], inMailbox => $MB{archive} } })->{ids}, [],
          'header and inMailbox');
{
    my %p = map { $_ => 1 } @prio;
    my @rest = grep { !$p{$_} } @{ query({})->{ids} };
    is_deeply(query({ filter => { operator => 'NOT', conditions => [{ header => ['X-Priority'] }] },
                      limit => 3 })->{ids}, [@rest[0 .. 2]], 'NOT header');
}

# SearchSnippet/get reads its filter as Email/query does (RFC 8621 §5.1):
# a nested AND/OR/NOT tree marks the words outside NOT
($nn, $snip) = one('SearchSnippet/get', { emailIds => [$E[2]], filter => {
    operator => 'AND', conditions => [
        { inMailbox => $MB{inbox} },
        { operator => 'OR', conditions => [
            { subject => 'test' },
            { operator => 'NOT', conditions => [{ subject => 'query' }] } ] } ] } });
is($nn, 'SearchSnippet/get', 'nested AND/OR/NOT filter: SearchSnippet/get');
is($snip->{list} && $snip->{list}[0]{subject}, 'Query <mark>test</mark> 2',
   'nested filter: the OR branch\'s word is marked, the NOT branch\'s is not');
my %snip_bad = (
    'bad operator'                  => [{ operator => 'XOR', conditions => [] }, 'invalidArguments'],
    'operator not a string'         => [{ operator => 1, conditions => [] }, 'invalidArguments'],
    'conditions not an array'       => [{ operator => 'AND', conditions => {} }, 'invalidArguments'],
    'conditions missing'            => [{ operator => 'OR' }, 'invalidArguments'],
    'FilterOperator extra member'   => [{ operator => 'AND', conditions => [], text => 'x' },
                                        'invalidArguments'],
    'condition not an object'       => [{ operator => 'AND', conditions => [5] }, 'invalidArguments'],
    'filter an array'               => [[], 'invalidArguments'],
    'nested unknown property'       => [{ operator => 'AND', conditions => [
                                          { operator => 'NOT', conditions => [{ color => 1 }] }] },
                                        'unsupportedFilter'],
    'nested bad value'              => [{ operator => 'OR', conditions => [{ minSize => -1 }] },
                                        'invalidArguments'],
    'header text a number'          => [{ operator => 'OR', conditions => [{ header => ['X-Spam', 7] }] },
                                        'invalidArguments'],
);
for my $name (sort keys %snip_bad) {
    my ($filter, $type) = @{ $snip_bad{$name} };
    my ($n2, $a2) = one('SearchSnippet/get', { emailIds => [$E[0]], filter => $filter });
    is($n2 eq 'error' && $a2->{type}, $type, "SearchSnippet/get, $name: $type");
}
{
    my $deep = { subject => 'test' };
    $deep = { operator => 'NOT', conditions => [$deep] } for 1 .. 12;
    my ($n2, $a2) = one('SearchSnippet/get', { emailIds => [$E[0]], filter => $deep });
    is($n2 eq 'error' && $a2->{type}, 'unsupportedFilter', 'SearchSnippet/get, too deep: unsupportedFilter');
}
# a header condition filters, it has no words to mark (§5.1: the snippet
# marks what the filter's text conditions search for)
($nn, $snip) = one('SearchSnippet/get', { emailIds => [$E[1]], filter => {
    operator => 'AND', conditions => [{ header => ['X-Priority'] }, { subject => 'test' }] } });
is($nn eq 'SearchSnippet/get' && $snip->{list}[0]{subject}, 'Query <mark>test</mark> 1',
   'SearchSnippet/get with a header condition: the text condition\'s word is marked');

# errors
my %bad = (
    'unknown argument'          => [{ bogus => 1 }, 'invalidArguments'],
    'unknown filter property'   => [{ filter => { color => 'red' } }, 'unsupportedFilter'],
    'header of three'           => [{ filter => { header => ['a', 'b', 'c'] } }, 'invalidArguments'],
    'header name with a colon'  => [{ filter => { header => ['X:Y'] } }, 'invalidArguments'],
    'header text a number'      => [{ filter => { header => ['X-Y', 1] } }, 'invalidArguments'],
    'bad keyword'               => [{ filter => { hasKeyword => 'a b' } }, 'invalidArguments'],
    'bad date'                  => [{ filter => { before => 'tomorrow' } }, 'invalidArguments'],
    'negative size'             => [{ filter => { minSize => -1 } }, 'invalidArguments'],
    'bad operator'              => [{ filter => { operator => 'XOR', conditions => [] } }, 'invalidArguments'],
    'unknown sort property'     => [{ sort => [{ property => 'color' }] }, 'unsupportedSort'],
    'unknown collation'         => [{ sort => [{ property => 'subject', collation => 'x' }] }, 'unsupportedSort'],
    'keyword sort, no keyword'  => [{ sort => [{ property => 'hasKeyword' }] }, 'invalidArguments'],
    'negative limit'            => [{ limit => -1 }, 'invalidArguments'],
    'position not an Int'       => [{ position => 'x' }, 'invalidArguments'],
    'unknown anchor'            => [{ anchor => 'nosuchid' }, 'anchorNotFound'],
);
for my $name (sort keys %bad) {
    my ($args, $type) = @{ $bad{$name} };
    my $e = query($args)->{error};
    is($e && $e->{type}, $type, "$name: $type") or diag(explain($e));
}
my $ra = call([['Email/query', { accountId => 'nosuch' }, 'a']]);
is($ra && $ra->{methodResponses}[0][1]{type}, 'accountNotFound', 'unknown accountId: accountNotFound');

done_testing;
