#!/usr/bin/perl
# Recipient certificates are cached per process (JMAPCertCacheTTL): the
# second message to the same recipients needs no directory round trip. With
# one child process, the directory is frozen (SIGSTOP) after the first
# message; the second one must still be encrypted at once, and a message to a
# recipient not yet cached must fail as serverUnavailable, never unencrypted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use JMAPTest;

my $t = JMAPTest->new(smtp => 0, mpm => 'event',
    extra_conf => "StartServers 1\nServerLimit 1\nMinSpareThreads 1\n"
                . "MaxSpareThreads 25\nThreadsPerChild 25\nMaxRequestWorkers 25\n"
                . "JMAPLDAPTimeout 1\n",
    expected_errors => [qr/JM0(1050|3001)/]);
my $T = JSON::PP::true;

sub encrypt_to {
    my ($to) = @_;
    return $t->email_set('alice', { k => {
        mailboxIds => { $t->mailbox_id('alice', 'drafts') => $T },
        from => [{ email => 'alice@example.com' }],
        to => [{ email => $to }], subject => 'cached?', smimeEncrypt => $T,
        textBody => [{ partId => 't', type => 'text/plain' }],
        bodyValues => { t => { value => 'hi' } } } });
}

ok(encrypt_to('bob@example.com')->{created}{k}, 'first message: certificates from the directory');

my $pid = `cat @{[ $t->root ]}/ldap/slapd.pid`;
chomp $pid;
ok($pid && kill('STOP', $pid), 'directory frozen');
my $start = time;
my $second = encrypt_to('bob@example.com');
my $took = time - $start;
ok($second->{created}{k}, 'second message to the same recipients: created');
cmp_ok($took, '<', 0.9, sprintf('... without waiting for the directory (%.3f s)', $took));
my $other = encrypt_to('carol@example.com');
is($other->{notCreated}{k}{type}, 'serverUnavailable',
   'a recipient not in the cache: serverUnavailable, not unencrypted');
kill 'CONT', $pid;
ok(encrypt_to('carol@example.com')->{created}{k}, 'directory back: works again');

$t->check_error_log(qr/JM0(1050|3001)/);
$t->stop;
done_testing;
