# 22-smime-errors.t — what Email/set create must refuse (draft-ietf-jmap-
# smime-sender-extensions-02 §4, RFC 8621 §4.6, RFC 8620 §5.3): every refusal
# is a SetError of the right type naming what failed, stores nothing (Email
# count and state unchanged) and sends nothing (SMTP sink empty).
#   validEncryptionKeyNotFound + invalidRecipients for expired, revoked,
#   wrong-usage, untrusted, missing certificates and unknown addresses;
#   serverUnavailable when the directory is down (never an unencrypted
#   message); invalidEmail for 0 or 2 From addresses/fields;
#   signedSenderNotAllowed for addresses the account may not sign as or has
#   no key for; invalidProperties / invalidArguments for non-boolean S/MIME
#   arguments; CR/LF injection refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64 encode_base64);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use JMAPTest;
use MIMECheck qw(scratch_dir spew slurp run_cmd split_entity fields field mime_parts ct_param cms_decrypt);

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $TMP = scratch_dir();


my $t = JMAPTest->new();
my $PKI = $t->pki_dir;

# ---- helpers (JMAP; $t first: several servers in this file) ------------------------

sub message {
    my ($s, $user, %o) = @_;
    return $s->text_draft($user, %o);
}

# (number of Emails, Email state) of an account: metadata properties only.
sub email_state {
    my ($s, $user) = @_;
    my $r = $s->api($user, undef, [['Email/get', { accountId => $s->account_id($user),
                                                    ids => undef, properties => ['id'] }, 'g']]);
    my $a = $r && $r->{methodResponses}[0][0] eq 'Email/get' ? $r->{methodResponses}[0][1] : {};
    return (scalar @{ $a->{list} || [] }, $a->{state} // 'none');
}

# One creation that must fail with $type: the SetError (or undef).
sub refused {
    my ($s, $user, $msg, $type, $name, %args) = @_;
    my $err;
    subtest $name => sub {
        my ($n0, $st0) = email_state($s, $user);
        my $res = $s->email_set($user, { k1 => $msg }, %args);
        ok(!($res->{created} && $res->{created}{k1}), 'not created');
        $err = $res->{notCreated} && $res->{notCreated}{k1};
        my @types = ref $type ? @$type : ($type);
        ok(ref $err eq 'HASH' && grep({ $err->{type} eq $_ } @types), "SetError type: @types")
            or diag(explain($res));
        ok(!defined $err->{description} || !ref $err->{description}, 'description is a string')
            if ref $err eq 'HASH';
        my ($n1, $st1) = email_state($s, $user);
        is($n1, $n0, 'no Email stored');
        is($st1, $st0, 'Email state unchanged');
        is($res->{newState}, $res->{oldState}, 'newState equals oldState') if $res->{oldState};
        is(scalar($s->sink_messages), 0, 'nothing sent to the SMTP sink');
    };
    return ref $err eq 'HASH' ? $err : {};
}

sub invalid_emails {
    my ($err) = @_;
    return [sort map { lc($_->{email} // '') } @{ ref $err->{invalidRecipients} eq 'ARRAY'
                                                    ? $err->{invalidRecipients} : [] }];
}

ok($t->session('alice'), 'alice has a session') or do { done_testing; exit };

# ---- recipients without a usable certificate ----------------------------------------------

my %bad = (
    dave    => 'expired',
    erin    => 'revoked',
    frank   => 'unusable',
    grace   => 'untrusted',
    mallory => 'notFound',
    nobody  => 'notFound',
);
for my $who (sort keys %bad) {
    my $addr = "$who\@example.com";
    my $err = refused($t, 'alice', message($t, 'alice', to => [{ email => $addr }],
                      smimeEncrypt => $T), 'validEncryptionKeyNotFound',
                      "encrypt to $addr ($bad{$who})");
    is_deeply(invalid_emails($err), [$addr], "$who: invalidRecipients names exactly $addr");
    my ($ir) = grep { lc($_->{email} // '') eq $addr } @{ $err->{invalidRecipients} || [] };
    is($ir && $ir->{status}, $bad{$who}, "$who: status $bad{$who}");
    ok($ir && defined $ir->{reason} && length $ir->{reason}, "$who: has a reason");
    like($err->{description} // '', qr/\Q$addr\E/, "$who: description names $addr");
}

{
    my $err = refused($t, 'alice', message($t, 'alice',
        to => [{ email => 'dave@example.com' }, { email => 'erin@example.com' }],
        cc => [{ email => 'bob@example.com' }], smimeEncrypt => $T),
        'validEncryptionKeyNotFound', 'two failing recipients and one good one');
    is_deeply(invalid_emails($err), ['dave@example.com', 'erin@example.com'],
              'invalidRecipients: both failing addresses, not bob');
    like($err->{description} // '', qr/dave\@example\.com/, 'description names dave');
    like($err->{description} // '', qr/erin\@example\.com/, 'description names erin');
    unlike($err->{description} // '', qr/bob\@example\.com/, 'description does not name bob');
}

subtest 'a failing creation does not stop a good one in the same call' => sub {
    my ($n0) = email_state($t, 'alice');
    my $res = $t->email_set('alice', {
        good => message($t, 'alice', smimeEncrypt => $T),
        bad  => message($t, 'alice', to => [{ email => 'dave@example.com' }], smimeEncrypt => $T),
    });
    ok($res->{created} && $res->{created}{good}, 'good one created');
    is($res->{notCreated} && $res->{notCreated}{bad}{type}, 'validEncryptionKeyNotFound', 'bad one refused');
    ok(!($res->{notCreated} && $res->{notCreated}{good}), 'good one not in notCreated');
    my ($n1) = email_state($t, 'alice');
    is($n1, $n0 + 1, 'exactly one Email more');
};

# ---- From / Sender ------------------------------------------------------------------------------

refused($t, 'alice', message($t, 'alice', from => [{ email => 'alice@example.com' },
                                                   { email => 'alice.smith@example.com' }],
                             smimeSign => $T),
        'invalidEmail', 'two addresses in From (signing)');
refused($t, 'alice', message($t, 'alice', from => [{ email => 'alice@example.com' },
                                                   { email => 'bob@example.com' }],
                             smimeEncrypt => $T),
        'invalidEmail', 'two addresses in From (encrypting)');
{
    my %m = %{ message($t, 'alice', smimeSign => $T) };
    delete $m{from};
    $m{headers} = [{ name => 'From', value => ' alice@example.com' },
                   { name => 'From', value => ' Alice <alice@example.com>' }];
    # RFC 8621 §4.6 forbids "headers" on create (SHOULD invalidProperties); a
    # server that takes it must then refuse two From fields (draft §4).
    refused($t, 'alice', \%m, ['invalidEmail', 'invalidProperties'], 'two From header fields (via headers)');
    delete $m{headers};
    refused($t, 'alice', \%m, 'invalidEmail', 'no From at all (signing)');
    $m{smimeSign} = $F;
    $m{smimeEncrypt} = $T;
    refused($t, 'alice', \%m, 'invalidEmail', 'no From at all (encrypting)');
}
{
    my $err = refused($t, 'alice', message($t, 'alice', sender => [{ email => 'bob@example.com' }],
                                           smimeSign => $T),
                      'signedSenderNotAllowed', 'Sender overrides From: alice with Sender bob');
    like($err->{description} // '', qr/bob\@example\.com/, 'description names the Sender address');
    refused($t, 'alice', message($t, 'alice', sender => [{ email => 'alice@example.com' },
                                                         { email => 'bob@example.com' }],
                                 smimeSign => $T),
            'invalidEmail', 'two addresses in Sender');
}

# ---- who may sign as whom --------------------------------------------------------------------------

{
    my $err = refused($t, 'bob', message($t, 'bob', smimeSign => $T),
                      'signedSenderNotAllowed', 'bob signing as alice');
    like($err->{description} // '', qr/alice\@example\.com/, 'description names alice@example.com');
}
subtest 'alice signing as sales@example.com works (JMAPSendAs)' => sub {
    my $res = $t->email_set('alice', { k1 => message($t, 'alice', from => [{ email => 'sales@example.com' }],
                                                     smimeSign => $T) });
    ok($res->{created} && $res->{created}{k1}, 'created') or diag(explain($res));
};
refused($t, 'carol', message($t, 'carol', from => [{ email => 'sales@example.com' }], smimeSign => $T),
        'signedSenderNotAllowed', 'carol (not in JMAPSendAs) signing as sales@example.com');
{
    my $err = refused($t, 'heidi', message($t, 'heidi', from => [{ email => 'heidi@example.com' }],
                                           smimeSign => $T),
                      'signedSenderNotAllowed', 'heidi: her own address, but no JMAPSigningKey');
    like($err->{description} // '', qr/heidi\@example\.com/, 'description names heidi@example.com');
    my $res = $t->email_set('heidi', { k1 => message($t, 'heidi', from => [{ email => 'heidi@example.com' }]) });
    ok($res->{created} && $res->{created}{k1}, 'control: heidi may create the same email unsigned');
}

# ---- Bcc only -------------------------------------------------------------------------------------------

subtest 'Bcc-only recipients with smimeEncrypt' => sub {
    my %m = %{ message($t, 'alice', smimeEncrypt => $T) };
    delete $m{to};
    $m{bcc} = [{ email => 'bob@example.com' }];
    my $res = $t->email_set('alice', { k1 => \%m });
    my $c = $res->{created} && $res->{created}{k1};
    ok($c, 'created') or return diag(explain($res));
    my $dl = $t->download('alice', { accountId => $t->account_id('alice'), blobId => $c->{blobId},
                                     name => 'm.eml', type => 'message/rfc822' });
    # the Bcc recipient's own copy is what is sent to it (47-submission.t)
    ok(!cms_decrypt($PKI, $dl->{content} // '', 'bob')->{ok},
       'the Email\'s message is not encrypted for the Bcc recipient');
    my $d = cms_decrypt($PKI, $dl->{content} // '', 'alice');
    ok($d->{ok}, 'the sender decrypts') or diag($d->{err});
    like($d->{content}, qr/the numbers are in: 42/, 'payload body');
    unlike($d->{content}, qr/^Bcc:/mi, 'no Bcc field inside');
    ok(!cms_decrypt($PKI, $dl->{content} // '', 'carol')->{ok}, 'carol (not a recipient) cannot');
};

# ---- argument types ------------------------------------------------------------------------------------

for my $v ('true', 1, {}) {
    my $shown = ref $v ? 'an object' : defined $v ? "\"$v\"" : 'null';
    my $err = refused($t, 'alice', message($t, 'alice', smimeSign => $v), 'invalidProperties',
                      "smimeSign $shown inside the creation");
    ok(grep({ $_ eq 'smimeSign' } @{ $err->{properties} || [] }), 'properties names smimeSign')
        or diag(explain($err));
}
{
    my $err = refused($t, 'alice', message($t, 'alice', headerProtect => 'no', smimeSign => $T),
                      'invalidProperties', 'headerProtect "no" inside the creation');
    ok(grep({ $_ eq 'headerProtect' } @{ $err->{properties} || [] }), 'properties names headerProtect');
}
subtest 'smimeEncrypt "yes" at method level: invalidArguments method error' => sub {
    my ($n0, $st0) = email_state($t, 'alice');
    my $res = $t->email_set('alice', { k1 => message($t, 'alice') }, smimeEncrypt => 'yes');
    my $resp = $res->{methodError} || [];
    is($resp->[0], 'error', 'a method-level error');
    is($resp->[1]{type}, 'invalidArguments', 'invalidArguments');
    like($resp->[1]{description} // '', qr/smimeEncrypt must be a boolean/,
         'description names smimeEncrypt');
    my ($n1, $st1) = email_state($t, 'alice');
    is($n1, $n0, 'nothing stored');
    is($st1, $st0, 'state unchanged');
};

# RFC 8620 §3.3: a request that does not list smime-advanced in "using" does
# not get the extension; ignoring smimeEncrypt would store the message
# unencrypted, so it is refused instead.
subtest 'S/MIME arguments without smime-advanced in "using" are refused' => sub {
    my ($n0, $st0) = email_state($t, 'alice');
    my $plain = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
    my $r = $t->api('alice', $plain, [['Email/set', { accountId => $t->account_id('alice'),
        smimeEncrypt => $T, create => { k1 => message($t, 'alice') } }, 's']]);
    my $resp = JMAPTest->response_for($r, 's') || [];
    is($resp->[0], 'error', 'method level: an error');
    is($resp->[1]{type}, 'invalidArguments', 'method level: invalidArguments');
    like($resp->[1]{description} // '', qr/smimeEncrypt needs capability urn:ietf:params:jmap:smime-advanced/,
         'the description names the argument and the capability');
    $r = $t->api('alice', $plain, [['Email/set', { accountId => $t->account_id('alice'),
        create => { k1 => message($t, 'alice', smimeSign => JSON::PP::false),
                    k2 => message($t, 'alice') } }, 's']]);
    $resp = JMAPTest->response_for($r, 's') || [];
    is($resp->[0], 'Email/set', 'per email: the call succeeds');
    my $nc = $resp->[1]{notCreated}{k1} || {};
    is($nc->{type}, 'invalidProperties', 'per email: invalidProperties, even for false');
    is_deeply($nc->{properties}, ['smimeSign'], 'properties names smimeSign');
    ok($resp->[1]{created}{k2}, 'the email without S/MIME arguments is created');
    my ($n1) = email_state($t, 'alice');
    is($n1, $n0 + 1, 'only that one stored');
};

# ---- header injection --------------------------------------------------------------------------------------

my $INJ = "X-Injected: yes";
my @inject = (
    [subject => { subject => "Hi\r\n$INJ" }, 'subject'],
    [subjectLF => { subject => "Hi\n$INJ" }, 'subject'],
    [fromName => { from => [{ name => "Alice\r\n$INJ", email => 'alice@example.com' }] }, 'from/0/name'],
    [toName => { to => [{ name => "Bob\n$INJ", email => 'bob@example.com' }] }, 'to/0/name'],
    [toEmail => { to => [{ email => "bob\@example.com\r\n$INJ" }] }, 'to/0/email'],
    [asText => { 'header:X-Note:asText' => "x\r\n$INJ" }, 'header:X-Note:asText'],
    [asRaw => { 'header:X-Note' => " x\r\n$INJ" }, 'header:X-Note'],
);
for my $case (@inject) {
    my ($label, $over, $path) = @$case;
    for my $sign (0, 1) {
        my $err = refused($t, 'alice', message($t, 'alice', %$over, ($sign ? (smimeSign => $T) : ())),
                          'invalidProperties', "CR/LF in $label" . ($sign ? ' (signed)' : ''));
        ok(grep({ $_ eq $path } @{ $err->{properties} || [] }), "properties names $path")
            or diag(explain($err->{properties}));
    }
}
{
    my %m = %{ message($t, 'alice') };
    $m{headers} = [{ name => 'X-Note', value => " x\r\n$INJ" }];
    my $err = refused($t, 'alice', \%m, 'invalidProperties', 'CR/LF in a headers[] value (or headers refused)');
    ok(grep({ m{^headers} } @{ $err->{properties} || [] }), 'properties points into headers')
        or diag(explain($err->{properties}));
}
subtest 'no stored message carries an injected header line' => sub {
    my $r = $t->api('alice', undef, [['Email/get', { accountId => $t->account_id('alice'),
                                                      ids => undef, properties => ['blobId'] }, 'g']]);
    my $list = $r ? $r->{methodResponses}[0][1]{list} : [];
    ok(@$list > 0, 'there are stored emails to look at');
    my $hits = 0;
    for my $e (@$list) {
        my $dl = $t->download('alice', { accountId => $t->account_id('alice'), blobId => $e->{blobId},
                                         name => 'm.eml', type => 'message/rfc822' });
        $hits++ if ($dl->{content} // '') =~ /^X-Injected:/mi;
    }
    is($hits, 0, 'no X-Injected line in any of ' . scalar(@$list) . ' stored messages');
};

is(scalar($t->sink_messages), 0, 'nothing was sent to the SMTP sink');
$t->check_error_log;
$t->stop;

# ---- the directory is down ------------------------------------------------------------------------------------

{
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                     Listen => 1) or die "no port: $!";
    my $closed = $sock->sockport;
    close $sock;                                  # nothing listens there now
    my $s = JMAPTest->new(directives => { JMAPLDAPURL => "ldap://127.0.0.1:$closed" },
                          extra_conf => "JMAPLDAPTimeout 2\n");
    ok($s->session('alice'), 'server with an unreachable directory answers the session');
    my $err = refused($s, 'alice', message($s, 'alice', smimeEncrypt => $T), 'serverUnavailable',
                      'directory down: encrypt to bob');
    ok(!exists $err->{invalidRecipients}, 'no invalidRecipients (this is not a certificate problem)');
    refused($s, 'alice', message($s, 'alice', smimeEncrypt => $T, smimeSign => $T), 'serverUnavailable',
            'directory down: sign + encrypt');
    refused($s, 'alice', message($s, 'alice', smimeSign => $T), 'serverUnavailable',
            'directory down: sign (sending authorisation cannot be checked)');
    subtest 'directory down: an unprotected email can still be created' => sub {
        my $res = $s->email_set('alice', { k1 => message($s, 'alice') });
        ok($res->{created} && $res->{created}{k1}, 'created') or diag(explain($res));
    };
    $s->check_error_log;
    $s->stop;
}

done_testing;
