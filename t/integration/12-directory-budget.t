#!/usr/bin/perl
# The directory time of one request is bounded by JMAPDirectoryTimeBudget, not
# by recipients x JMAPLDAPTimeout: every directory operation a request causes
# (certificate searches, the user entry search for the sending authorisation,
# CRL fetches, connect/bind/retry) draws on one deadline, and once it has
# passed the lookups fail at once as serverUnavailable (nothing stored).
#
#   1. A directory that answers, slowly (a proxy in front of slapd that holds
#      every request 1.5 s): one Email/set encrypting to 10 uncached
#      recipients (and the sender) used to take 11 x 1.5 s and answer
#      validEncryptionKeyNotFound; now it answers serverUnavailable after the
#      3 s budget (sender and r1 asked, the rest refused at once).
#   2. A directory that does not answer at all (slapd frozen with SIGSTOP):
#      an Email/set with 10 creations, each to an uncached recipient, used to
#      take 10 x 2 x JMAPLDAPTimeout; plus an Identity/get and a signed
#      creation for a user whose entry is not cached, in the same request.
#   3. The budget is per request: once the directory is back, the next
#      request works.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use JMAPTest;

my $T = JSON::PP::true;
my $BUDGET = 3;
my $CONF = "JMAPLDAPTimeout 2\nJMAPDirectoryTimeBudget $BUDGET\n";
my $SAFE = qr/^The certificate directory could not be reached; nothing was stored\. Try again later\.$/;
my @PROXIES;
my $FROZEN;                     # slapd pid while SIGSTOPped
END { kill 'CONT', $FROZEN if $FROZEN }

# A TCP proxy that sleeps $delay before forwarding each chunk the client
# sends; the upstream port is read from $portfile at each connection (slapd's
# port is known only after JMAPTest->new, which needs the proxy's port).
sub start_proxy {
    my ($delay, $portfile) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 32, ReuseAddr => 1) or die "listen: $!";
    my $port = $l->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my %kids;
        $SIG{TERM} = sub { kill 'KILL', keys %kids; POSIX::_exit(0) };
        $SIG{CHLD} = sub { while ((my $k = waitpid(-1, 1)) > 0) { delete $kids{$k} } };
        while (1) {
            my $c = $l->accept or next;
            my $k = fork;
            if (defined $k && $k == 0) {
                $SIG{TERM} = 'DEFAULT';
                close $l;
                relay($c, $delay, $portfile);
                POSIX::_exit(0);
            }
            $kids{$k} = 1 if $k;
            close $c;
        }
    }
    close $l;
    push @PROXIES, $pid;
    return $port;
}

sub relay {
    my ($c, $delay, $portfile) = @_;
    open(my $fh, '<', $portfile) or return;
    my $up = <$fh>;
    close $fh;
    chomp $up;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $up) or return;
    my $sel = IO::Select->new($c, $s);
    while (my @r = $sel->can_read) {
        for my $h (@r) {
            my $n = sysread($h, my $buf, 65536);
            return unless $n;
            if ($h == $c) {
                sleep $delay;
                syswrite($s, $buf) or return;
            } else {
                syswrite($c, $buf) or return;
            }
        }
    }
}

sub stop_proxies {
    for my $pid (@PROXIES) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
    @PROXIES = ();
}
END { stop_proxies() }

sub freeze {
    my ($pid) = @_;
    kill 'STOP', $pid or return 0;
    for (1 .. 200) {
        open(my $fh, '<', "/proc/$pid/stat") or return 0;
        my $st = <$fh>;
        close $fh;
        return 1 if $st =~ /\)\s+[Tt]\s/;
        sleep 0.01;
    }
    return 0;
}

sub emails {
    my ($t, $user) = @_;
    my $r = $t->api($user, undef, [['Email/get', { accountId => $t->account_id($user),
                                                   ids => undef, properties => ['id'] }, 'g']]);
    return scalar @{ JMAPTest->response_for($r, 'g')->[1]{list} || [] };
}

# ---- 1. slow directory, one Email with 10 uncached recipients -----------------------

{
    my $portfile = "/tmp/jm-budget-upstream.$$";
    my $pport = start_proxy(1.5, $portfile);
    # CRLs from the file only: the recipients' searches are what adds up
    my $t = JMAPTest->new(smtp => 0, extra_conf => $CONF . "JMAPCRLFromDirectory off\n",
        directives => { JMAPLDAPURL => "ldap://127.0.0.1:$pport" },
        expected_errors => [qr/JM0(1050|3001|8010)/]);
    open(my $fh, '>', $portfile) or die;
    print $fh $t->ldap_port, "\n";
    close $fh;

    my $before = emails($t, 'alice');
    my $start = time;
    my $res = $t->email_set('alice', { k => $t->text_draft('alice', smimeEncrypt => $T,
        to => [map { { email => "r$_\@example.com" } } 1 .. 10]) });
    my $took = time - $start;
    my $err = $res->{notCreated} && $res->{notCreated}{k};
    is($err && $err->{type}, 'serverUnavailable',
       'slow directory, 10 uncached recipients: serverUnavailable') or diag(explain($res));
    cmp_ok($took, '<', $BUDGET + 2, sprintf('... after %.1f s: the %d s budget, not 11 x 1.5 s',
                                            $took, $BUDGET));
    cmp_ok($took, '>=', $BUDGET - 0.5, '... having used the budget');
    like($err && $err->{description} // '', $SAFE, '... description for the client only');
    ok(!$res->{created}, '... nothing created');
    is(emails($t, 'alice'), $before, '... nothing stored');
    # the search that was running when the budget ran out timed out; one
    # that would have started later is refused (JM08010)
    like($t->error_log, qr/JM01050: certificate directory unavailable looking up \S+\@example\.com: (?:ldap:\/\/127\.0\.0\.1:$pport: LDAP search: Timed out|the request's directory time budget is used up)/,
         'error log: the address, the directory and why (JM01050)');

    $t->check_error_log;
    $t->stop;
    unlink $portfile;
    stop_proxies();
}

# ---- 2. frozen directory, 10 creations + Identity/get + a signed creation -----------

{
    my $t = JMAPTest->new(smtp => 0, extra_conf => $CONF,
        expected_errors => [qr/JM0(1040|1050|3001|8010)/]);
    ok($t->email_set('alice', { w => $t->text_draft('alice', smimeEncrypt => $T) })->{created}{w},
       'directory up: encrypted to bob (connection pooled, alice and bob cached)');
    my $before = emails($t, 'alice');

    my $pid = `cat @{[ $t->root ]}/ldap/slapd.pid`;
    chomp $pid;
    $FROZEN = $pid;
    ok($pid && freeze($pid), 'directory frozen (SIGSTOP)');
    my @who = qw(carol dave erin frank grace heidi ivan sales mallory nobody);
    my %create = map { ("k$_" => $t->text_draft('alice', smimeEncrypt => $T,
                                                to => [{ email => "$who[$_]\@example.com" }])) } 0 .. 9;
    my $using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail',
                 'urn:ietf:params:jmap:submission', 'urn:ietf:params:jmap:smime-advanced'];
    my $dacc = $t->account_id('dave');
    my $start = time;
    my $r = $t->api('alice', $using, [
        ['Email/set', { accountId => $t->account_id('alice'), create => \%create }, 's'],
        ['Identity/get', { accountId => $t->account_id('alice') }, 'i']]);
    my $took = time - $start;
    my $s = JMAPTest->response_for($r, 's');
    my @types = map { $s->[1]{notCreated}{"k$_"} ? $s->[1]{notCreated}{"k$_"}{type} : 'created' } 0 .. 9;
    is_deeply(\@types, [('serverUnavailable') x 10],
              'frozen directory, 10 creations to uncached recipients: all serverUnavailable')
        or diag(explain($s));
    cmp_ok($took, '<', $BUDGET + 2, sprintf('... one request, %.1f s: the %d s budget, '
                                            . 'not 10 x 2 x 2 s', $took, $BUDGET));
    my @bad = grep { ($s->[1]{notCreated}{$_}{description} // '') !~ $SAFE }
              keys %{ $s->[1]{notCreated} || {} };
    ok(!@bad, '... descriptions for the client only') or diag(explain($s));
    is(emails($t, 'alice'), $before, '... nothing stored');
    # Identity/get needs alice's user entry: cached by the first request only
    # if it landed in the same process; either way it must not wait.
    my $i = JMAPTest->response_for($r, 'i');
    ok($i && ($i->[0] eq 'Identity/get'
              || ($i->[0] eq 'error' && $i->[1]{type} eq 'serverUnavailable')),
       '... Identity/get in the same request: answered or serverUnavailable, '
       . 'within the same budget') or diag(explain($r));

    # a signed creation for a user whose entry is not cached
    $start = time;
    my $d = $t->email_set('dave', { k => $t->text_draft('dave',
        from => [{ email => 'dave@example.com' }], smimeSign => $T) });
    $took = time - $start;
    is($d->{notCreated}{k}{type}, 'serverUnavailable',
       'frozen directory, signing as dave (entry not cached): serverUnavailable');
    cmp_ok($took, '<', $BUDGET + 2, sprintf('... after %.1f s', $took));

    kill 'CONT', $pid;
    $FROZEN = undef;
    my $ok = $t->email_set('alice', { k => $t->text_draft('alice', smimeEncrypt => $T,
        to => [{ email => 'carol@example.com' }]) });
    ok($ok->{created} && $ok->{created}{k}, 'directory back: the next request has its own budget');
    like($t->error_log, qr/JM01050: certificate directory unavailable looking up \S+\@example\.com: ldap:\/\/127\.0\.0\.1:\d+/,
         'error log: which address, which directory (JM01050)');

    $t->check_error_log;
    $t->stop;
}

done_testing;
