# 37-share-vhost.t — JMAPShareAccount per virtual host (src/httpd/mod_jm_config.c,
# README "Shared accounts"): a vhost with JMAPShareAccount lines of its own
# replaces the main server's; one without any inherits them. Checked in the
# session (accounts listed, isReadOnly) and in the API (accountNotFound for
# an account shared on another server only).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JMAPTest;

my $MAIL = 'urn:ietf:params:jmap:mail';
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
    extra_conf => "JMAPShareAccount bob alice\n",
    vhosts => [
        # its own lines: these replace the main server's
        "JMAPShareAccount carol alice:ro\nJMAPShareAccount alice dave\n",
        # none: the main server's apply
        "",
    ]);

# {name => isReadOnly} of the accounts the session at $url lists for $user,
# and the user's own account id
sub accounts_at {
    my ($url, $user) = @_;
    my $res = $t->get("$url/jmap/session", $user);
    is($res->{status}, 200, "session of $user at $url") or return ({}, undef);
    my $s = $res->{json};
    my %by = map { ($s->{accounts}{$_}{name} => $s->{accounts}{$_}) } keys %{ $s->{accounts} };
    return ({ map { ($_ => ($by{$_}{isReadOnly} ? 'ro' : 'rw')) } keys %by },
            $s->{primaryAccounts}{$MAIL});
}

sub call_at {
    my ($url, $user, $name, $args) = @_;
    my $res = $t->request('POST', "$url/jmap/api", $user, JSON::PP->new->encode({
        using => ['urn:ietf:params:jmap:core', $MAIL], methodCalls => [[$name, $args, 'c']] }),
        { 'Content-Type' => 'application/json' });
    return $res->{json} ? @{ $res->{json}{methodResponses}[0] }[0, 1] : ('none', {});
}

my $main = $t->base_url;
my ($own, $inherit) = ($t->vhost_url(0), $t->vhost_url(1));
isnt($t->vhost_port(0), $t->port, 'the vhosts have ports of their own');

my ($acc) = accounts_at($main, 'alice');
is_deeply($acc, { alice => 'rw', bob => 'rw' }, "main server: alice sees her own and bob's");
($acc) = accounts_at($own, 'alice');
is_deeply($acc, { alice => 'rw', carol => 'ro' },
          "vhost with its own lines: carol's (read-only) instead of bob's");
($acc) = accounts_at($inherit, 'alice');
is_deeply($acc, { alice => 'rw', bob => 'rw' }, "vhost without lines: the main server's");

my ($dacc) = accounts_at($main, 'dave');
is_deeply($dacc, { dave => 'rw' }, 'main server: dave has only his own');
($dacc) = accounts_at($own, 'dave');
is_deeply($dacc, { dave => 'rw', alice => 'rw' }, "the vhost shares alice's with dave");
($dacc) = accounts_at($inherit, 'dave');
is_deeply($dacc, { dave => 'rw' }, '... the inheriting vhost does not');

# the API follows the same configuration as the session
my $BOB = $t->account_id('bob');
my $CAROL = $t->account_id('carol');
my ($n, $a) = call_at($main, 'alice', 'Mailbox/get', { accountId => $BOB, ids => [] });
is($n, 'Mailbox/get', "main server: alice reads bob's account") or diag(explain($a));
($n, $a) = call_at($own, 'alice', 'Mailbox/get', { accountId => $BOB, ids => [] });
is($n eq 'error' && $a->{type}, 'accountNotFound', "vhost with its own lines: bob's is not there");
($n, $a) = call_at($own, 'alice', 'Mailbox/get', { accountId => $CAROL, ids => [] });
is($n, 'Mailbox/get', "... carol's is") or diag(explain($a));
($n, $a) = call_at($own, 'alice', 'Mailbox/set', { accountId => $CAROL,
    create => { m => { name => 'x' } } });
is($n eq 'error' && $a->{type}, 'accountReadOnly', '... read-only there');
($n, $a) = call_at($main, 'alice', 'Mailbox/get', { accountId => $CAROL, ids => [] });
is($n eq 'error' && $a->{type}, 'accountNotFound', "main server: carol's is not there");
($n, $a) = call_at($inherit, 'alice', 'Mailbox/get', { accountId => $BOB, ids => [] });
is($n, 'Mailbox/get', "inheriting vhost: alice reads bob's account") or diag(explain($a));

$t->check_error_log();
done_testing;
