#!/usr/bin/perl
# When the certificate directory fails, the client learns what it can act on
# (serverUnavailable: "could not be reached; nothing was stored; try again
# later") and nothing about the directory: no ldap:// URL, no host or port,
# no LDAP result text, no diagnostic the directory server sent. The error log
# has all of it: which address or user, which directory, and why.
#
# Three failures: nothing listens on the port (connect refused), the server
# refuses StartTLS with its own diagnostic ("unsupported extended
# operation"), and the bind is refused ("Invalid credentials"). For each:
# Email/set encrypting, Email/set signing (the sending authorisation needs
# the user's entry) and Identity/get.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use JMAPTest;

my $T = JSON::PP::true;
my $using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail',
             'urn:ietf:params:jmap:submission'];
delete $ENV{SLAPD_TLS};          # the private slapd offers no StartTLS

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or die "no port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# Nothing in a client-visible description that comes from the directory.
sub clean_ok {
    my ($desc, $port, $leaks, $name) = @_;
    $desc //= '';
    my @found = grep { $desc =~ $_ } (qr/ldap[si]?:\/\//i, qr/127\.0\.0\.1/, qr/\b\Q$port\E\b/,
                                       qr/\bLDAP\b/, qr/\(-?\d+\)/, @$leaks);
    ok(!@found, "$name: description tells only what to do")
        or diag("description: $desc\nmatched: @found");
}

sub check_server {
    my ($label, $t, $port, $leaks, $log_re) = @_;

    my $e = $t->email_set('alice', { k => $t->text_draft('alice', smimeEncrypt => $T) });
    my $err = $e->{notCreated} && $e->{notCreated}{k};
    is($err && $err->{type}, 'serverUnavailable', "$label: encrypt: serverUnavailable")
        or diag(explain($e));
    is($err && $err->{description},
       'The certificate directory could not be reached; nothing was stored. Try again later.',
       "$label: encrypt: the description");
    clean_ok($err && $err->{description}, $port, $leaks, "$label: encrypt");

    my $s = $t->email_set('bob', { k => $t->text_draft('bob',
        from => [{ email => 'bob@example.com' }], smimeSign => $T) });
    $err = $s->{notCreated} && $s->{notCreated}{k};
    is($err && $err->{type}, 'serverUnavailable', "$label: sign: serverUnavailable")
        or diag(explain($s));
    clean_ok($err && $err->{description}, $port, $leaks, "$label: sign");

    my $r = $t->api('carol', $using, [['Identity/get', { accountId => $t->account_id('carol') }, 'i']]);
    my $i = JMAPTest->response_for($r, 'i');
    is($i && $i->[0], 'error', "$label: Identity/get: method error");
    is($i && $i->[1]{type}, 'serverUnavailable', "$label: Identity/get: serverUnavailable");
    clean_ok($i && $i->[1]{description}, $port, $leaks, "$label: Identity/get");

    my $log = $t->error_log;
    like($log, qr/JM01050: certificate directory unavailable looking up alice\@example\.com: \Qldap:\/\/127.0.0.1:$port\E: .*$log_re/,
         "$label: error log: address, URL and diagnostic of the certificate lookup (JM01050)");
    like($log, qr/JM01040: directory unavailable while resolving addresses of bob: \Qldap:\/\/127.0.0.1:$port\E: .*$log_re/,
         "$label: error log: user, URL and diagnostic of the user lookup (JM01040)");
    like($log, qr/JM01040: directory unavailable while resolving addresses of carol: /,
         "$label: error log: Identity/get's failure too");
}

# ---- nothing listens -------------------------------------------------------------

{
    my $closed = free_port();
    my $t = JMAPTest->new(smtp => 0, ldap => 1,
        directives => { JMAPLDAPURL => "ldap://127.0.0.1:$closed" },
        extra_conf => "JMAPLDAPTimeout 1\n",
        expected_errors => [qr/JM0(1040|1050|3001)/]);
    check_server('connection refused', $t, $closed, [qr/contact/i], qr/Can't contact LDAP server/);
    $t->check_error_log;
    $t->stop;
}

# ---- the server's own diagnostic: StartTLS refused -------------------------------------

{
    my $t = JMAPTest->new(smtp => 0,
        extra_conf => "JMAPLDAPTimeout 2\nJMAPLDAPStartTLS on\n",
        expected_errors => [qr/JM0(1040|1050|3001)/]);
    check_server('StartTLS refused', $t, $t->ldap_port,
                 [qr/unsupported/i, qr/extended operation/i, qr/protocol error/i, qr/StartTLS/i],
                 qr/StartTLS: Protocol error \(2\): unsupported extended operation/);
    $t->check_error_log;
    $t->stop;
}

# ---- bind refused ------------------------------------------------------------------------

{
    my $pwfile = "/tmp/jm-dir-errors-pw.$$";
    open(my $fh, '>', $pwfile) or die "$pwfile: $!";
    print $fh "wrong-password\n";
    close $fh;
    chmod 0644, $pwfile;
    my $t = JMAPTest->new(smtp => 0,
        extra_conf => "JMAPLDAPTimeout 2\nJMAPLDAPBindDN cn=admin,dc=example,dc=com\n"
                    . "JMAPLDAPBindPasswordFile $pwfile\n",
        expected_errors => [qr/JM0(1040|1050|3001)/]);
    check_server('bind refused', $t, $t->ldap_port,
                 [qr/credentials/i, qr/\b49\b/, qr/cn=admin/, qr/bind/i],
                 qr/bind: Invalid credentials \(49\)/);
    unlike($t->error_log, qr/wrong-password/, 'bind refused: the password is not logged');
    $t->check_error_log;
    $t->stop;
    unlink $pwfile;
}

done_testing;
