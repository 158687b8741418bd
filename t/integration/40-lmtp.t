# 40-lmtp.t — LMTP delivery (RFC 2033) into the store through httpd's own
# listener (a vhost with JMAPLMTP on): one transaction to alice and bob
# with an unknown user and a foreign domain among them (550 for those, 250
# per delivered recipient after DATA, RFC 2033 §4.2), everything pipelined
# in one write, a dot-stuffed line, bare LF line ends, a message over
# JMAPLMTPMaxMessageSize (552, nothing stored), a bounce (MAIL FROM:<>),
# bad sequences (503), the same bytes again (250, no second copy), the
# store busy (SQLite: 451 4.3.0, nothing stored) and Python's
# smtplib.LMTP. The result is read back over JMAP: Email/get (Inbox,
# subject, body, the stored bytes = what was sent after dot-unstuffing),
# full-text Email/query, Mailbox counts, Email/changes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use POSIX ();
use JMAPTest;

my $MAIL = 'urn:ietf:params:jmap:mail';
my $driver = $ENV{JMAP_TEST_DRIVER} || 'sqlite3';
my $t = JMAPTest->new(ldap => 0, pki => 0, smtp => 0,
                      lmtp => "    JMAPLMTPDomains example.com\n"
                            . "    JMAPLMTPMaxMessageSize 20000\n");
# accounts exist once their users logged in (JMAPLMTPAccounts existing)
my $ALICE = $t->account_id('alice');
my $BOB = $t->account_id('bob');
ok($ALICE && $BOB, 'alice and bob have accounts') or do { done_testing; exit };

sub lmtp {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->lmtp_port,
                                  Proto => 'tcp', Timeout => 20)
        or die "cannot connect to LMTP: $!";
    $s->autoflush(1);
    return $s;
}

# One reply (all its lines): "250 2.0.0 text" of the last line, and the lines.
sub reply {
    my ($s) = @_;
    my @lines;
    while (defined(my $l = <$s>)) {
        $l =~ s/\r\n\z// or return ("(no CRLF: $l)", @lines);
        push @lines, $l;
        return ($l, @lines) if $l =~ /^\d{3} /;
    }
    return ('(closed)', @lines);
}

sub replies {
    my ($s, $n) = @_;
    return map { (reply($s))[0] } 1 .. $n;
}

sub api1 {
    my ($user, $name, $args) = @_;
    my $r = $t->api($user, undef, [[$name, $args, 'c']]);
    return $r ? $r->{methodResponses}[0][1] : {};
}

sub inbox {
    my ($user, $acct) = @_;
    my $r = api1($user, 'Mailbox/get', { accountId => $acct });
    my ($in) = grep { ($_->{role} // '') eq 'inbox' } @{ $r->{list} || [] };
    return $in || {};
}

sub state_of { api1($_[0], 'Email/get', { accountId => $_[1], ids => [] })->{state} }

sub search {
    my ($user, $acct, $word) = @_;
    return api1($user, 'Email/query', { accountId => $acct, filter => { text => $word } })
        ->{ids} || [];
}

sub blob_of {
    my ($user, $acct, $id) = @_;
    my $e = api1($user, 'Email/get', { accountId => $acct, ids => [$id],
                                       properties => ['blobId'] })->{list}[0] or return '';
    my $res = $t->download($user, { accountId => $acct, blobId => $e->{blobId},
                                    name => 'm.eml', type => 'message/rfc822' });
    return $res->{status} == 200 ? $res->{content} : "(status $res->{status})";
}

my $in_a0 = inbox('alice', $ALICE);
my $in_b0 = inbox('bob', $BOB);
my $state_a0 = state_of('alice', $ALICE);

# --- greeting and LHLO -------------------------------------------------------
my $s = lmtp();
like((reply($s))[0], qr/^220 \S+ LMTP/, 'greeting 220');
print $s "LHLO client.test\r\n";
my ($last, @lhlo) = reply($s);
is($last, '250 SIZE 20000', 'LHLO ends with SIZE (JMAPLMTPMaxMessageSize)');
ok((grep { $_ eq '250-PIPELINING' } @lhlo) && (grep { $_ eq '250-ENHANCEDSTATUSCODES' } @lhlo)
   && (grep { $_ eq '250-8BITMIME' } @lhlo), 'PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME')
    or diag(join "\n", @lhlo);

# --- bad sequences ---------------------------------------------------------------
print $s "DATA\r\n";
like((reply($s))[0], qr/^503 5\.5\.1 /, 'DATA before MAIL: 503');
print $s "RCPT TO:<alice\@example.com>\r\n";
like((reply($s))[0], qr/^503 5\.5\.1 /, 'RCPT before MAIL: 503');
print $s "HELO x\r\n";
like((reply($s))[0], qr/^500 5\.5\.1 /, 'HELO: 500 (LMTP greets with LHLO)');
print $s "FROB\r\n";
like((reply($s))[0], qr/^500 5\.5\.2 /, 'unknown command: 500');
print $s "VRFY alice\r\n";
like((reply($s))[0], qr/^252 /, 'VRFY: 252');
print $s "MAIL FROM:<x\@example.org>\r\nDATA\r\nRSET\r\n";
is_deeply([replies($s, 3)], ['250 2.1.0 Sender OK', '503 5.5.1 No valid recipients',
                             '250 2.0.0 OK'], 'DATA with no recipients: 503; RSET');

# --- one pipelined transaction to alice, nobody, carol, a foreign domain, bob -----
my $word = 'lmtpzebra' . $$;
my $msg = "From: Sender <sender\@example.org>\r\nTo: alice\@example.com, bob\@example.com\r\n"
        . "Subject: Delivered by LMTP\r\nMessage-ID: <lmtp-1.$$\@example.org>\r\n"
        . "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"
        . "Hello $word.\r\n.A line that starts with a dot\r\n..\r\nEnd.\r\n";
(my $stuffed = $msg) =~ s/^\./../mg;
print $s "MAIL FROM:<sender\@example.org> BODY=8BITMIME SIZE=" . length($msg) . "\r\n"
       . "RCPT TO:<alice\@example.com>\r\nRCPT TO:<nobody\@example.com>\r\n"
       . "RCPT TO:<carol\@example.com>\r\nRCPT TO:<alice\@elsewhere.org>\r\n"
       . "RCPT TO:<Bob\@Example.COM>\r\nDATA\r\n" . $stuffed . ".\r\n";
my @r = replies($s, 9);
is($r[0], '250 2.1.0 Sender OK', 'MAIL');
is($r[1], '250 2.1.5 Recipient OK', 'alice: 250');
like($r[2], qr/^550 5\.1\.1 /, 'an unknown user: 550 5.1.1');
like($r[3], qr/^550 5\.1\.1 /, 'a user without an account (JMAPLMTPAccounts existing): 550 5.1.1');
like($r[4], qr/^550 5\.1\.2 /, 'a domain not in JMAPLMTPDomains: 550 5.1.2');
is($r[5], '250 2.1.5 Recipient OK', 'Bob@Example.COM (case-insensitive): 250');
like($r[6], qr/^354 /, 'DATA: 354');
my ($ida) = $r[7] =~ /^250 2\.0\.0 Delivered as Email (\S+)$/;
my ($idb) = $r[8] =~ /^250 2\.0\.0 Delivered as Email (\S+)$/;
ok($ida && $idb, 'after the dot: one 250 per accepted recipient, in order') or diag("@r[7,8]");

# --- read it back -------------------------------------------------------------------
my $e = api1('alice', 'Email/get', { accountId => $ALICE, ids => [$ida],
    properties => [qw(mailboxIds subject from keywords size threadId bodyValues textBody)],
    fetchTextBodyValues => JSON::PP::true })->{list}[0] || {};
is_deeply($e->{mailboxIds}, { $in_a0->{id} => JSON::PP::true }, 'in alice\'s Inbox');
is($e->{subject}, 'Delivered by LMTP', 'subject');
is($e->{from}[0]{email}, 'sender@example.org', 'from');
is_deeply($e->{keywords}, {}, 'no keywords (unread)');
is($e->{size}, length($msg), 'size = the unstuffed message');
my ($part) = map { $_->{partId} } @{ $e->{textBody} || [] };
like($part ? $e->{bodyValues}{$part}{value} : '', qr/Hello \Q$word\E\.\s+\.A line that starts with a dot\s+\.\.\s+End\./,
     'body with the dots unstuffed');
is(blob_of('alice', $ALICE, $ida), $msg, 'the stored bytes are the message as sent, unstuffed');
is(blob_of('bob', $BOB, $idb), $msg, 'bob got the same bytes');
is_deeply(search('alice', $ALICE, $word), [$ida], 'full-text Email/query finds it');
is_deeply(search('bob', $BOB, $word), [$idb], '... in bob\'s account too');
my $in_a1 = inbox('alice', $ALICE);
is($in_a1->{totalEmails}, $in_a0->{totalEmails} + 1, 'alice\'s Inbox total +1');
is($in_a1->{unreadEmails}, $in_a0->{unreadEmails} + 1, 'unread +1');
is($in_a1->{totalThreads}, $in_a0->{totalThreads} + 1, 'threads +1');
my $ch = api1('alice', 'Email/changes', { accountId => $ALICE, sinceState => $state_a0 });
is_deeply($ch->{created}, [$ida], 'Email/changes: created');
ok(defined $e->{threadId} && length $e->{threadId}, 'threaded');

# --- a reply in the same thread, bare LF line ends, a bounce -------------------------
my $lf = "From: bob\@example.com\nSubject: Re: Delivered by LMTP\n"
       . "In-Reply-To: <lmtp-1.$$\@example.org>\n\nbare LF\n..dot\n";
print $s "MAIL FROM:<>\nRCPT TO:<alice\@example.com>\nDATA\n$lf.\n";
@r = replies($s, 4);
is($r[0], '250 2.1.0 Sender OK', 'MAIL FROM:<> (a bounce): 250');
my ($idlf) = $r[3] =~ /^250 2\.0\.0 Delivered as Email (\S+)$/;
ok($idlf, 'bare LF message delivered') or diag("@r");
(my $crlf = $lf) =~ s/\n/\r\n/g;
$crlf =~ s/\r\n\.\.dot/\r\n.dot/;
is(blob_of('alice', $ALICE, $idlf), $crlf, 'bare LFs stored as CRLF, the dot unstuffed');
my $eb = api1('alice', 'Email/get', { accountId => $ALICE, ids => [$idlf],
                                       properties => ['threadId'] })->{list}[0] || {};
is($eb->{threadId}, $e->{threadId}, 'the reply joined the thread (In-Reply-To)');

# --- the same bytes again: 250, no second Email ------------------------------------------
print $s "MAIL FROM:<sender\@example.org>\r\nRCPT TO:<alice\@example.com>\r\nDATA\r\n$stuffed.\r\n";
@r = replies($s, 4);
is($r[3], "250 2.0.0 Delivered as Email $ida", 'a retried delivery: 250 with the existing Email');
is(inbox('alice', $ALICE)->{totalEmails}, $in_a0->{totalEmails} + 2, 'no second copy');

# --- too big ------------------------------------------------------------------------------------
print $s "MAIL FROM:<sender\@example.org> SIZE=20001\r\n";
like((reply($s))[0], qr/^552 5\.3\.4 /, 'MAIL SIZE over the limit: 552');
my $big = "Subject: big $word\r\n\r\n" . ("x" x 998 . "\r\n") x 25;
print $s "MAIL FROM:<sender\@example.org>\r\nRCPT TO:<alice\@example.com>\r\n"
       . "RCPT TO:<bob\@example.com>\r\nDATA\r\n$big.\r\nNOOP\r\n";
@r = replies($s, 6);
like($r[4], qr/^552 5\.3\.4 /, 'a message over the limit: 552 for alice');
like($r[5], qr/^552 5\.3\.4 /, '... and for bob');
is((reply($s))[0], '250 2.0.0 OK', 'the session goes on');
is(inbox('alice', $ALICE)->{totalEmails}, $in_a0->{totalEmails} + 2, 'nothing stored');
# a long line (over 998 octets) within the limit is fine
my $long = "Subject: long line\r\n\r\n" . ("y" x 5000) . "\r\n";
print $s "MAIL FROM:<sender\@example.org>\r\nRCPT TO:<bob\@example.com>\r\nDATA\r\n$long.\r\n";
@r = replies($s, 4);
my ($idlong) = $r[3] =~ /^250 2\.0\.0 Delivered as Email (\S+)$/;
is($idlong ? blob_of('bob', $BOB, $idlong) : '', $long, 'a 5000-octet line kept whole');
print $s "QUIT\r\n";
is((reply($s))[0], '221 2.0.0 Bye', 'QUIT: 221');
ok(!defined(<$s>), 'then the server closes');
close $s;

# --- a line too long for a command -----------------------------------------------------------------
$s = lmtp();
reply($s);
print $s "NOOP " . ("a" x 5000) . "\r\nNOOP\r\n";
is_deeply([replies($s, 2)], ['500 5.5.2 Line too long', '250 2.0.0 OK'],
          'a command line over the limit: 500, then on');
close $s;

# --- the store busy: 451 4.3.0, nothing half-written (SQLite) --------------------------------------
SKIP: {
    skip 'holding the write lock from outside is the SQLite case', 4 if $driver ne 'sqlite3';
    my $ready = $t->root . '/db/holder.ready';
    unlink $ready;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open(STDOUT, '>>', $t->root . '/logs/holder.log');
        open(STDERR, '>&', \*STDOUT);
        my @as = $> == 0 ? ('runuser', '-u', 'www-data', '--') : ();
        { exec(@as, 'sqlite3', '-batch', $t->db_params, '.timeout 10000', 'BEGIN IMMEDIATE',
               ".shell touch $ready", '.shell sleep 7', 'COMMIT') };
        POSIX::_exit(127);
    }
    my $end = time + 15;
    select(undef, undef, undef, 0.02) until -e $ready || time > $end;
    ok(-e $ready, 'another process holds the write lock');
    my $total = inbox('alice', $ALICE)->{totalEmails};
    $s = lmtp();
    reply($s);
    print $s "LHLO c\r\nMAIL FROM:<s\@example.org>\r\nRCPT TO:<alice\@example.com>\r\n"
           . "DATA\r\nSubject: busy\r\n\r\nbusy $word\r\n.\r\n";
    @r = replies($s, 5);
    like($r[4], qr/^451 4\.3\.0 /, 'the store stayed locked: 451 4.3.0 (the MTA retries)');
    close $s;
    waitpid($pid, 0);
    is(inbox('alice', $ALICE)->{totalEmails}, $total, 'nothing stored');
    is_deeply(search('alice', $ALICE, 'busy'), [], 'nothing indexed');
}

# --- Python's smtplib.LMTP ------------------------------------------------------------------------------
SKIP: {
    my $py = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
    skip 'no python3', 3 unless system("$py -c 'import smtplib' 2>/dev/null") == 0;
    my $port = $t->lmtp_port;
    my $out = `$py - 2>&1 <<'PY'
import smtplib
m = b"From: py\@example.org\\r\\nSubject: via smtplib $word\\r\\n\\r\\n.dot from python\\r\\n"
c = smtplib.LMTP("127.0.0.1", $port)
try:
    c.sendmail("py\@example.org", ["alice\@example.com", "nobody\@example.com"], m)
except smtplib.SMTPRecipientsRefused as e:
    print("refused-all", e)
else:
    pass
c.quit()
c = smtplib.LMTP("127.0.0.1", $port)
refused = c.sendmail("py\@example.org", ["bob\@example.com", "ghost\@example.com"], m)
print("refused", sorted(refused.keys()), [refused[k][0] for k in sorted(refused)])
c.quit()
PY`;
    like($out, qr/refused \['ghost\@example.com'\] \[550\]/, 'smtplib.LMTP: the unknown recipient refused with 550')
        or diag($out);
    my $ids = search('bob', $BOB, 'smtplib');
    is(scalar @$ids, 1, 'the message is in bob\'s account');
    my $got = @$ids ? blob_of('bob', $BOB, $ids->[0]) : '';
    is($got, "From: py\@example.org\r\nSubject: via smtplib $word\r\n\r\n.dot from python\r\n",
       'smtplib dot-stuffed, we unstuffed: the bytes as given');
}

# --- the HTTP listener still speaks HTTP -------------------------------------------------------------------
ok($t->session('alice'), 'the JMAP endpoint is unaffected');
# the busy store's messages (SQLite case) are expected
$t->check_error_log(qr/JM07011|JM07012|JM11003/);

# --- configuration errors ---------------------------------------------------------------
for my $case (["JMAPLMTP on", qr/JMAPLMTP on belongs in a <VirtualHost>/],
              ["<VirtualHost 127.0.0.1:1>\nJMAPLMTPAccounts some\n</VirtualHost>",
               qr/JMAPLMTPAccounts: existing or create/],
              ["JMAPLMTPRecipientUser uid", qr/JMAPLMTPRecipientUser: localpart or address/],
              ["JMAPLMTPDomains a\@b", qr/JMAPLMTPDomains: "a\@b" is not a domain/],
              ["JMAPLMTPMaxMessageSize 0", qr/JMAPLMTPMaxMessageSize: "0" is not a positive integer/]) {
    my ($line, $want) = @$case;
    my $bad = eval { JMAPTest->new(smtp => 0, ldap => 0, pki => 0, quiet_start_failure => 1,
                                   extra_conf => "$line\n") };
    ok(!$bad, "refused at startup: $line");
    like($@ // '', $want, '... naming the problem') if !$bad;
    $bad->stop if $bad;
}
done_testing;
