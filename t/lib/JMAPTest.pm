package JMAPTest;

=encoding utf8

=head1 NAME

JMAPTest - private httpd + slapd + SMTP sink for mod_jmap_smime integration tests

=head1 SYNOPSIS

    use FindBin; use lib "$FindBin::Bin/../lib";
    use Test::More;
    use JMAPTest;

    my $t = JMAPTest->new(extra_conf => "JMAPMaxCallsInRequest 4\n");
    my $s = $t->session('alice');                       # decoded Session object
    my $r = $t->api('alice', undef, [['Core/echo', {x => 1}, 'c1']]);
    my ($status, $headers, $body) = $t->api_raw('alice', '{not json');
    my $up = $t->upload('alice', $t->account_id('alice'), "hello", 'text/plain');
    my $dl = $t->download('alice', {accountId => ..., blobId => ..., name => 'a.txt',
                                    type => 'text/plain'});
    $t->check_error_log(qr/expected noise/);
    $t->stop;                 # also done automatically (DESTROY / END / die)
    done_testing;

=head1 DESCRIPTION

Each C<< JMAPTest->new >> starts, on free 127.0.0.1 ports and in its own temp
directory: a private slapd loaded with the test PKI's F<directory.ldif>
(F<t/lib/slapd-start.sh>), the byte-exact SMTP sink (F<t/lib/smtp_sink.py>) and a
private httpd (event MPM; C<User www-data> when run as root) that loads mod_dbd,
httpd's Basic-auth modules and F<$JMAP_BUILDDIR/.libs/mod_jmap_smime.so>, with
C<< <Location /jmap> >> (SetHandler jmap, Basic auth from an htpasswd file) and
C<< <Location /.well-known/jmap> >>. Users alice, bob, carol, dave, erin, frank,
grace, heidi exist with password C<NAMEpw>.

Everything it started is stopped by PID in C<stop>, C<DESTROY> and an C<END>
block (also when the test dies or gets SIGINT, SIGTERM, SIGHUP or SIGPIPE, e.g.
C<prove t/x.t | head>); only the process that
created the object stops it (forked children never do). The temp directory is
removed unless C<$ENV{JMAP_TEST_KEEP}> is true (its path is then printed).

=head2 Environment

=over

=item JMAP_BUILDDIR / JMAP_SRCDIR

Build tree holding F<.libs/mod_jmap_smime.so> / source tree (default: two levels
above this file).

=item HTTPD_BIN / HTTPD_MODDIR

httpd binary (default F</usr/sbin/apache2>) and its module dir
(default F</usr/lib/apache2/modules>).

=item JMAP_TEST_PKI

Directory made by C<t/lib/mkpki.sh> (F<t/run-suite.sh> builds it once per run).
If unset, the PKI is built on demand, once per test file.

=item JMAP_TEST_DRIVER

C<sqlite3> (default) or C<pgsql>. With pgsql a fresh database C<jmt_...> is
created for each JMAPTest object on the server at 127.0.0.1:C<$JMAP_TEST_PG_PORT>
(role jmap / jmappw, see F<t/lib/pg-start.sh>) and dropped in C<stop>.

=item JMAP_TEST_MPM

C<event> (default), C<worker> or C<prefork>.

=item JMAP_TEST_KEEP

Keep temp dirs (and pgsql databases) for inspection.

=item JMAP_TEST_SANITIZE

C<1>: sanitizer mode, for a module built with AddressSanitizer and
UndefinedBehaviorSanitizer (F<t/sanitize/run>); C<0>: off. Unset: on when
the module links libasan. httpd (and only httpd, not slapd, openssl or the
test) is started with the ASan runtime in C<LD_PRELOAD> (from
C<gcc -print-file-name=libasan.so>, or C<$JMAP_TEST_ASAN_RUNTIME>),
C<ASAN_OPTIONS> with C<log_path=ROOT/sanitizer/asan> (reports go to files
F<asan.PID>), C<detect_leaks=0> and C<abort_on_error=1>, and C<UBSAN_OPTIONS>
(UBSan's reports end up in the error log). C<check_error_log> then runs one
more test, "no sanitizer reports from httpd", and C<stop> fails a test if a
report appeared after the last check (both print the reports). ASan disables
core dumps: a crash is reported by ASan with its stack instead.
C<$JMAP_TEST_ASAN_OPTIONS> / C<$JMAP_TEST_UBSAN_OPTIONS> are appended to
httpd's options (later ones win).

=back

=head2 Constructor options

=over

=item ldap => 0

No slapd and no C<JMAPLDAP*> directives.

=item pki => 0

No PKI at all: no slapd, no trust anchors, CRL or signing keys.

=item smtp => 0

No SMTP sink.

=item sink_tls => 'starttls' | 'required' | 'smtps'

The sink speaks TLS with a certificate of the relay PKI (see C<relay_pki>):
offers STARTTLS, requires it before MAIL, or TLS from the connect on
(then JMAPSubmissionURL is C<smtps://127.0.0.1:PORT>). Implies
C<< relay_pki => 1 >>.

=item sink_cert => 'relay' | 'other-ca' | 'other-host'

The sink's certificate: for 127.0.0.1 and localhost signed by the relay
CA (default), the same names signed by a second CA that is not in
JMAPSubmissionCAFile, or signed by the relay CA for relay.example.net only.

=item sink_auth => 'user:password'

The sink offers AUTH PLAIN and LOGIN and requires it before MAIL
(SMTP_SINK_AUTH; over TLS only unless C<< sink_env => {
SMTP_SINK_AUTH_PLAINTEXT => 1 } >>).

=item sink_env => { NAME => value }

More environment for F<t/lib/smtp_sink.py>. Any of the sink_* options also
turns on its F<commands.log> (C<sink_commands>) and the "tls" and
"auth_user" members of its NNNN.json.

=item relay_pki => 1

Make the relay PKI in ROOT/relaypki with openssl (not the S/MIME PKI of
F<t/lib/mkpki.sh>): ca.pem (the relay CA), other-ca.pem (a second CA), and
the sink's certificates with their keys (.key): relay.pem (127.0.0.1 and
localhost, by ca.pem), relay-other-ca.pem (the same names, by other-ca.pem)
and relay-other-host.pem (relay.example.net, by ca.pem).
JMAPSubmissionCAFile points at ca.pem.

=item relay_scheme => 'smtp' | 'smtps'

The scheme of JMAPSubmissionURL (default: smtps with C<< sink_tls =>
'smtps' >>, smtp otherwise), e.g. smtps:// towards a sink without TLS.

=item relay_auth => 'user:password'

Write ROOT/relay.auth (mode 0600) and point JMAPSubmissionAuthFile at it.

=item extra_conf => "..."

Appended verbatim to the server config (server scope).

=item location_conf => "..."

Appended inside C<< <Location /jmap> >>.

=item vhosts => [ "...", ... ]

One port-based C<< <VirtualHost> >> per entry, each on a free port of its
own (C<vhost_port($i)>, C<vhost_url($i)>), with the entry as its contents
(e.g. directives that replace the main server's). The main server's
C<< <Location /jmap> >> (handler, authentication) applies to them too.

=item directives => { JMAPName => value | [values] | undef }

Replace the default value(s) of a module directive (an arrayref gives a
repeated directive), or omit it with C<undef>. Defaults: JMAPLDAPURL,
JMAPLDAPBase dc=example,dc=com, JMAPTrustAnchors ca.pem, JMAPCRLFile ca.crl,
JMAPSigningKey for alice (alice-full.pem), bob (bob.p12 + bob.pass), carol
(EC, carol-full.pem) and sales (sales-full.pem), JMAPSendAs sales@example.com
alice bob, and - only if conf.d/jmap_smime.conf documents a directive named
like JMAP*SMTP*/JMAPSubmission*URL - that directive pointing at the sink.

=item omit => [ 'JMAPName', ... ]

Same as C<< directives => { JMAPName => undef } >>.

=item lmtp => 1 | "directives"

Also listen on a second free port with a C<< <VirtualHost> >> that has
C<JMAPLMTP on> (plus the given directives, e.g. C<JMAPLMTPDomains
example.com>): LMTP delivery; the port is C<lmtp_port>.

=item users => [ names ]

htpasswd users (password NAMEpw); default alice..heidi.

=item expected_errors => [ qr/.../, ... ]

Error-log lines matching one of these are not complaints of C<check_error_log>.

=item loglevel => "info"

httpd LogLevel (default C<info>).

=item mpm => 'event'

Overrides C<$JMAP_TEST_MPM>.

=item mpm_conf => "..."

Replaces the MPM sizing directives (default: StartServers 2 and room for
4 processes). E.g. one event process with 25 threads, for tests that need
all requests in one process:
C<"StartServers 1\nServerLimit 1\nThreadsPerChild 25\nMinSpareThreads 1\nMaxSpareThreads 25\nMaxRequestWorkers 25\n">.

=item quiet_start_failure => 1

Do not diag the error log when httpd fails to start (for tests that expect
the failure; the text is in C<$@>).

=item db => { driver => ..., params => ... }

Use this DBDriver/DBDParams instead of the fresh per-object database
(e.g. to start a second JMAPTest on the database of a first one).

=back

=head2 Methods

=over

=item base_url

C<http://127.0.0.1:PORT> (no trailing slash).

=item session($user)

GET /jmap/session as $user; the decoded Session object, or undef (with diag)
when the status is not 200 or the body is not JSON.

=item account_id($user)

The user's primary account for urn:ietf:params:jmap:mail (falls back to
the only/first personal account).

=item api($user, $using, \@calls, %request_extra)

POST a Request object to /jmap/api; C<$using> defaults to core + mail.
C<%request_extra> is merged into the request object (e.g. C<< createdIds => {} >>).
Returns the decoded Response object, or undef (with diag) on a non-200 status.

=item api_raw($user, $body, %headers)

POST $body (bytes) to /jmap/api ($user undef: no credentials); Content-Type
defaults to application/json. Returns ($status, \%headers, $body).

=item upload($user, $accountId, $bytes, $type)

POST to the upload URL. Returns the HTTP::Tiny response hashref plus
C<json> (decoded body, if JSON).

=item download($user, $url_or_parts)

GET a URL (absolute or a path) or, for a hashref {accountId, blobId, name,
type}, the session's downloadUrl template expanded (RFC 6570 level 1,
percent-encoded). Returns the response hashref (+ C<json> if JSON).

=item mailbox_id($user, $role_or_name)

The id of the user's mailbox with that role (or name), from one cached
Mailbox/get; C<'no-such-mailbox'> when there is none.

=item text_draft($user, %overrides)

A creation object: text/plain from Alice to Bob, subject "Plans", in the
user's Drafts; C<< body => TEXT >> replaces the text, other keys replace or
add Email properties.

=item email_set($user, \%create, %method_args)

Email/set (using core, mail and smime-advanced) with the given creations:
the response arguments, or C<< { methodError => [name, args, id] } >>.

=item create_email($user, \%email, %method_args)

Creates one email (creation id C<k1>) and downloads its blob; returns
(created entry, downloaded bytes) or the empty list. Runs three tests.

=item get($path, $user) / request($method, $path, $user, $content, \%headers)

Raw HTTP without following redirects; response hashref (+ C<json>).

=item problem_ok($status, \%headers, $body, $want_status(es), $type, $name, limit => NAME)

One subtest checking an RFC 7807 problem response (RFC 8620 §3.6.1):
status (number or arrayref), Content-Type application/problem+json, type URN
(short names get the urn:ietf:params:jmap:error: prefix), "status" member
equal to the HTTP status when present, and the "limit" member.

=item JMAPTest->response_for($response, $call_id)

The first method response invocation with that call id, or undef.

=item access_log

The access log text (format: C<%h %u %t "%r" %>s %b %Dus>).

=item error_log / check_error_log(@expected_patterns)

The error log text; one test that fails on C< [jmap_smime:error]>,
C<[jmap_smime:crit]>, alert/emerg, segfaults, C<exit signal>, C<AH00052>
lines not matching an expected pattern. In sanitizer mode a second test that
fails on any sanitizer report (files or error log; expected patterns do not
apply).

=item sink_commands

The lines of the sink's F<commands.log> ("CONN VERB tls=0|1"), with one of
the sink_* options.

=item relay_pki_dir

ROOT/relaypki (with C<relay_pki> or C<sink_tls>).

=item sink_messages

Sorted list of the .eml paths the SMTP sink saved (each has a NNNN.json
envelope next to it).

=item wait_sink_messages(N [, SECONDS])

C<sink_messages> once the sink holds at least N messages, or what it holds
after SECONDS (default 30: the submission worker runs every second).

=item stop_sink / start_sink

Stop the SMTP sink (the relay is down: connections are refused) / start
it again on the same port and directory (it keeps counting from the
messages there and recognises their Message-IDs).

=item crash_httpd

SIGKILL httpd and all its children at once (a crash: nothing is finished
or cleaned up); C<restart> starts it again.

=item restart / stop

Stop and start httpd on the same config and database / stop everything.
httpd is stopped with a graceful stop (SIGWINCH, at most 5 s for requests in
flight), SIGTERM after 15 s, SIGKILL after 5 s more. C<stop_httpd> and
C<start_httpd> are the two halves of C<restart>. A child that crashes
leaves a core in C<root/cores>; C<check_error_log> prints its backtrace.

=item child_pids

PIDs of the running httpd's child processes (Linux /proc), sorted.

=item db_sql($sql)

Run SQL on this object's database with the driver's command-line client
(sqlite3 as the httpd User when run as root, so files it creates stay
usable by httpd; psql as role jmap) and return its output: one line per
row, columns separated by C<|>. Dies when the client fails.

=item httpd_output(@args)

The output (stdout and stderr) of C<httpd -f CONF @args>, e.g. C<('-t')>,
started like the server (in sanitizer mode with the same preload and options).

=item vhost_port($i), vhost_url($i)

The port and base URL of the C<$i>th entry of C<vhosts> (from 0); pass
C<vhost_url($i) . '/jmap/session'> to C<get> or C<request> to talk to it.

=item lmtp_deliver($from, $rcpt, $msg)

One LMTP transaction on the LMTP listener: LHLO, MAIL FROM:<$from>
($from '' for the null reverse path), RCPT TO:<$rcpt>, DATA with $msg
(CRLF lines ending in CRLF, not dot-stuffed), QUIT. Returns the reply
after the data ("(closed)" if the server went away).

=item port, ldap_port, smtp_port, lmtp_port, root, pki_dir, conf_file, db_params, db_driver

Accessors.

=back

=cut

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use File::Temp qw(tempdir);
use File::Path qw(remove_tree);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
use Time::HiRes qw(sleep time);

our $LIBDIR   = dirname(abs_path(__FILE__));
our $SRCDIR   = $ENV{JMAP_SRCDIR}   || abs_path("$LIBDIR/../..");
our $BUILDDIR = $ENV{JMAP_BUILDDIR} || $SRCDIR;
our $HTTPD    = $ENV{HTTPD_BIN}     || '/usr/sbin/apache2';
our $MODDIR   = $ENV{HTTPD_MODDIR}  || '/usr/lib/apache2/modules';
our @USERS    = qw(alice bob carol dave erin frank grace heidi);

our $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

# Sanitizer mode: the module under test is built with AddressSanitizer and
# UndefinedBehaviorSanitizer (t/sanitize/run). JMAP_TEST_SANITIZE=1/0 forces
# it on/off; unset, it is on when the module links libasan.
our $SANITIZE = _sanitize_wanted();

sub _sanitize_wanted {
    my $v = $ENV{JMAP_TEST_SANITIZE};
    return $v ? 1 : 0 if defined $v && $v ne '';
    open(my $fh, '<:raw', "$BUILDDIR/.libs/mod_jmap_smime.so") or return 0;
    local $/;
    my $bin = <$fh>;
    close $fh;
    return defined $bin && $bin =~ /\0libasan\.so[.\d]*\0/ ? 1 : 0;   # a DT_NEEDED name
}

my %LIVE;          # objects with running processes, stopped in END
my $PKI_ONDEMAND;  # PKI built by this process when JMAP_TEST_PKI is unset
my $PKI_ONDEMAND_TMP;
my $SEQ = 0;
my $MAIN_PID = $$;   # forked children must not remove what the parent built

sub _is_root { $> == 0 }

# Ports handed out are claimed in a directory that every test process
# shares (one file per port, holding the claimer's pid), so that files run
# side by side (prove -j) and the servers of one file never get the same
# port between its pick and the server's bind. A claim of a process that
# is gone is taken over; a process's claims are dropped in END.
my $PORT_DIR = ($ENV{TMPDIR} || '/tmp') . '/jmap-test-ports';
my %MY_PORTS;

sub _claim_port {
    my ($port) = @_;
    my $f = "$PORT_DIR/$port";
    for (1 .. 2) {
        if (sysopen(my $fh, $f, O_WRONLY | O_CREAT | O_EXCL, 0644)) {
            print $fh "$$\n";
            close $fh;
            $MY_PORTS{$port} = $$;
            return 1;
        }
        my $pid = _slurp($f) =~ /(\d+)/ ? $1 : 0;
        return 0 if $pid && ($pid == $$ || kill(0, $pid) || $!{EPERM});
        unlink $f;                  # its claimer is gone (or it is empty)
    }
    return 0;
}

sub _free_port {
    local ($?, $!, $@);
    if (!-d $PORT_DIR) {
        mkdir $PORT_DIR;
        chmod 01777, $PORT_DIR if _is_root();
    }
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or die "JMAPTest: cannot get a free port: $!";
        my $port = $s->sockport;
        close $s;
        return $port if _claim_port($port);
    }
    die "JMAPTest: no port could be claimed in $PORT_DIR\n";
}

sub _port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub _slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', $f) or return '';
    local $/;
    my $d = <$fh>;
    close $fh;
    return defined $d ? $d : '';
}

sub _spew {
    my ($f, $data, $mode) = @_;
    open(my $fh, '>:raw', $f) or die "JMAPTest: cannot write $f: $!";
    print $fh $data;
    close $fh or die "JMAPTest: cannot write $f: $!";
    chmod($mode, $f) if defined $mode;
}

sub _run {
    my ($what, @cmd) = @_;
    my $out = `@{[ join ' ', map { _shq($_) } @cmd ]} 2>&1`;
    my $rc = $?;
    die "JMAPTest: $what failed (exit " . ($rc >> 8) . "): @cmd\n$out" if $rc;
    return $out;
}

sub _shq {
    my ($s) = @_;
    return $s if $s =~ m{^[\w./:=,@+-]+$};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

sub _pid_alive {
    my ($pid) = @_;
    return 0 unless $pid && $pid > 1;
    return kill(0, $pid) ? 1 : 0;
}

sub _wait_gone {
    my ($pid, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) {
        waitpid($pid, WNOHANG);
        return 1 unless _pid_alive($pid);
        sleep 0.05;
    }
    return !_pid_alive($pid);
}

# --- PKI -------------------------------------------------------------------

sub _pki_dir {
    my ($self) = @_;
    my $dir = $ENV{JMAP_TEST_PKI};
    if ($dir) {
        die "JMAPTest: JMAP_TEST_PKI=$dir has no ca.pem\n" unless -f "$dir/ca.pem";
        return $dir;
    }
    return $PKI_ONDEMAND if $PKI_ONDEMAND;
    my $mk = "$LIBDIR/mkpki.sh";
    die "JMAPTest: $mk missing: cannot build the test PKI (set JMAP_TEST_PKI or pass pki => 0)\n"
        unless -x $mk;
    $PKI_ONDEMAND_TMP = tempdir('jmappki-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $PKI_ONDEMAND_TMP;
    _run('mkpki.sh', $mk, "$PKI_ONDEMAND_TMP/pki");
    $PKI_ONDEMAND = "$PKI_ONDEMAND_TMP/pki";
    return $PKI_ONDEMAND;
}

# --- construction ----------------------------------------------------------

sub new {
    my ($class, %opts) = @_;
    my $self = bless {
        opts      => \%opts,
        owner_pid => $$,
        seq       => ++$SEQ,
        users     => $opts{users} || [@USERS],
        expected  => [@{ $opts{expected_errors} || [] }],
        http      => HTTP::Tiny->new(max_redirect => 0, timeout => 60,
                                     agent => 'JMAPTest/1'),
    }, $class;
    $LIVE{"$self"} = $self;

    $self->{root} = tempdir('jmaptest-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $self->{root};   # httpd children (www-data) traverse to db/
    mkdir "$self->{root}/$_" for qw(run logs db ldap mail cores sanitizer);
    chmod 01777, "$self->{root}/cores";   # a crashing child (www-data) dumps here
    chmod 01777, "$self->{root}/sanitizer";   # ... or writes its sanitizer report
    if (_is_root()) {
        my (undef, undef, $uid, $gid) = getpwnam('www-data');
        die "JMAPTest: no www-data user\n" unless defined $uid;
        chown $uid, $gid, "$self->{root}/db";
    }

    my $use_pki = !exists $opts{pki} || $opts{pki};
    $self->{pki} = $use_pki ? $self->_pki_dir : undef;
    $self->{use_ldap} = $use_pki && (!exists $opts{ldap} || $opts{ldap});

    $self->_start_slapd if $self->{use_ldap};
    $self->_relay_pki   if $opts{relay_pki} || $opts{sink_tls};
    if (defined $opts{relay_auth}) {
        _spew("$self->{root}/relay.auth", "$opts{relay_auth}\n");
        chmod 0600, "$self->{root}/relay.auth";
    }
    $self->_start_sink  if !exists $opts{smtp} || $opts{smtp};
    $self->_setup_db;
    $self->_write_htpasswd;
    $self->_write_conf;
    $self->_start_httpd;
    $self->_start_guardian;
    return $self;
}

sub base_url  { "http://127.0.0.1:$_[0]{port}" }
sub vhost_port { $_[0]{vhost_ports}[$_[1]] }
sub vhost_url  { "http://127.0.0.1:$_[0]{vhost_ports}[$_[1]]" }
sub port      { $_[0]{port} }
sub ldap_port { $_[0]{ldap_port} }
sub smtp_port { $_[0]{smtp_port} }
sub lmtp_port { $_[0]{lmtp_port} }

# the last line of a (possibly multi-line) reply
sub _lmtp_reply {
    my ($s) = @_;
    while (defined(my $l = <$s>)) {
        $l =~ s/\r\n\z//;
        return $l unless $l =~ /^\d{3}-/;
    }
    return '(closed)';
}

sub lmtp_deliver {
    my ($self, $from, $rcpt, $msg) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{lmtp_port},
                                  Proto => 'tcp', Timeout => 20) or die "LMTP: $!";
    _lmtp_reply($s);
    for my $cmd ("LHLO test", "MAIL FROM:<$from>", "RCPT TO:<$rcpt>", "DATA") {
        print $s "$cmd\r\n";
        _lmtp_reply($s);
    }
    print $s "$msg.\r\n";
    my $r = _lmtp_reply($s);
    print $s "QUIT\r\n";
    close $s;
    return $r;
}
sub root      { $_[0]{root} }
sub pki_dir   { $_[0]{pki} }
sub conf_file { "$_[0]{root}/httpd.conf" }
sub db_params { $_[0]{db_params} }
sub db_driver { $_[0]{db_driver} }
sub sink_dir  { "$_[0]{root}/mail" }
sub relay_pki_dir { "$_[0]{root}/relaypki" }

sub sink_commands {
    my ($self) = @_;
    return split /\n/, _slurp($self->sink_dir . '/commands.log');
}

# The relay's PKI: a CA, a second CA, and server certificates (EC P-256).
sub _relay_pki {
    my ($self) = @_;
    my $d = $self->relay_pki_dir;
    mkdir $d;
    chmod 0755, $d;
    my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes');
    for my $ca (qw(ca other-ca)) {
        _spew("$d/$ca.ext", "basicConstraints=critical,CA:TRUE\n"
              . "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n");
        _run("openssl $ca", 'openssl', 'req', '-x509', @ec, '-keyout', "$d/$ca.key",
             '-out', "$d/$ca.pem", '-days', '30', '-subj', "/CN=JMAPTest relay $ca",
             '-extensions', 'v3', '-config', _openssl_conf($d, "$d/$ca.ext"));
    }
    my %srv = ('relay'            => ['ca', 'IP:127.0.0.1,DNS:localhost', '127.0.0.1'],
               'relay-other-ca'   => ['other-ca', 'IP:127.0.0.1,DNS:localhost', '127.0.0.1'],
               'relay-other-host' => ['ca', 'DNS:relay.example.net', 'relay.example.net']);
    for my $n (sort keys %srv) {
        my ($ca, $san, $cn) = @{ $srv{$n} };
        _spew("$d/$n.ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              . "extendedKeyUsage=serverAuth\nsubjectAltName=$san\n"
              . "authorityKeyIdentifier=keyid\n");
        _run("openssl $n", 'openssl', 'req', '-new', @ec, '-keyout', "$d/$n.key",
             '-out', "$d/$n.csr", '-subj', "/CN=$cn");
        _run("openssl $n", 'openssl', 'x509', '-req', '-in', "$d/$n.csr", '-CA', "$d/$ca.pem",
             '-CAkey', "$d/$ca.key", '-CAcreateserial', '-days', '30',
             '-extfile', "$d/$n.ext", '-out', "$d/$n.pem");
    }
    chmod 0644, glob("$d/*.pem");
}

# A minimal openssl config whose [v3] section is the extension file.
sub _openssl_conf {
    my ($d, $ext) = @_;
    my $f = "$ext.cnf";
    _spew($f, "[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" . _slurp($ext));
    return $f;
}

# The sink's environment for the sink_* options (empty without them).
sub _sink_env {
    my ($self) = @_;
    my $o = $self->{opts};
    my %env;
    return () unless $o->{sink_tls} || $o->{sink_auth} || $o->{sink_env};
    $env{SMTP_SINK_COMMANDS} = 1;
    if (my $tls = $o->{sink_tls}) {
        die "JMAPTest: sink_tls is starttls, required or smtps\n"
            unless $tls =~ /^(?:starttls|required|smtps)$/;
        my $c = $o->{sink_cert} || 'relay';
        die "JMAPTest: sink_cert is relay, other-ca or other-host\n"
            unless $c =~ /^(?:relay|other-ca|other-host)$/;
        my $n = $c eq 'relay' ? 'relay' : "relay-$c";
        my $d = $self->relay_pki_dir;
        $env{SMTP_SINK_TLS_CERT} = "$d/$n.pem";
        $env{SMTP_SINK_TLS_KEY} = "$d/$n.key";
        $env{SMTP_SINK_TLS_REQUIRED} = 1 if $tls eq 'required';
        $env{SMTP_SINK_SMTPS} = 1 if $tls eq 'smtps';
    }
    $env{SMTP_SINK_AUTH} = $o->{sink_auth} if defined $o->{sink_auth};
    %env = (%env, %{ $o->{sink_env} || {} });
    return %env;
}

sub stop_sink {
    my ($self) = @_;
    my $pid = delete $self->{sink_pid} or return;
    kill 'TERM', $pid;
    kill 'KILL', $pid unless _wait_gone($pid, 10);
    waitpid($pid, 0);
}

sub start_sink {
    my ($self) = @_;
    die "JMAPTest: the sink is running\n" if $self->{sink_pid};
    $self->_start_sink($self->{smtp_port});
}

sub _start_slapd {
    my ($self) = @_;
    my $start = "$LIBDIR/slapd-start.sh";
    die "JMAPTest: $start missing (pass ldap => 0 to run without a directory)\n"
        unless -x $start;
    my $ldif = "$self->{pki}/directory.ldif";
    die "JMAPTest: $ldif missing\n" unless -f $ldif;
    my $dir = "$self->{root}/ldap";
    for my $try (1 .. 3) {
        my $port = _free_port();
        my $out = `@{[ _shq($start) ]} @{[ _shq($dir) ]} $port @{[ _shq($ldif) ]} 2>&1`;
        if ($? == 0) {
            $self->{ldap_port} = $port;
            $self->{slapd_pid} = _slurp("$dir/slapd.pid") =~ /(\d+)/ ? $1 : undef;
            return;
        }
        diag("slapd-start.sh on port $port failed (try $try):\n$out");
        $self->_kill_slapd;
    }
    die "JMAPTest: could not start slapd\n";
}

sub _kill_slapd {
    my ($self) = @_;
    my $dir = "$self->{root}/ldap";
    my $pid = $self->{slapd_pid}
        || (_slurp("$dir/slapd.pid") =~ /(\d+)/ ? $1 : undef);
    if (-x "$LIBDIR/slapd-stop.sh") {
        system("$LIBDIR/slapd-stop.sh " . _shq($dir) . " >/dev/null 2>&1");
    }
    if ($pid && _pid_alive($pid)) {
        kill 'TERM', $pid;
        kill 'KILL', $pid unless _wait_gone($pid, 10);
    }
    delete $self->{slapd_pid};
    delete $self->{ldap_port};
}

sub _start_sink {
    my ($self, $fixed_port) = @_;
    my $outdir = $self->sink_dir;
    my $pidfile = "$self->{root}/run/sink.pid";
    for my $try (1 .. 3) {
        my $port = $fixed_port || _free_port();
        unlink $pidfile;
        my $pid = fork;
        die "JMAPTest: fork: $!" unless defined $pid;
        if (!$pid) {
            open(STDIN, '<', '/dev/null');
            open(STDOUT, '>>', "$self->{root}/logs/smtp_sink.log");
            open(STDERR, '>&', \*STDOUT);
            my %env = $self->_sink_env;
            $ENV{$_} = $env{$_} for keys %env;
            exec('/usr/bin/python3', "$LIBDIR/smtp_sink.py", '127.0.0.1', $port,
                 $outdir, $pidfile) or POSIX::_exit(127);
        }
        my $end = time + 15;
        while (time < $end) {
            last if -s $pidfile;
            last if waitpid($pid, WNOHANG) == $pid;
            sleep 0.05;
        }
        if (-s $pidfile && _pid_alive($pid)) {
            $self->{sink_pid} = $pid;
            $self->{smtp_port} = $port;
            return;
        }
        kill 'KILL', $pid;
        waitpid($pid, 0);
        diag("SMTP sink on port $port failed to start (try $try):\n"
             . _slurp("$self->{root}/logs/smtp_sink.log"));
    }
    die "JMAPTest: could not start the SMTP sink\n";
}

sub _setup_db {
    my ($self) = @_;
    if (my $db = $self->{opts}{db}) {
        $self->{db_driver} = $db->{driver};
        $self->{db_params} = $db->{params};
        return;
    }
    my $driver = $ENV{JMAP_TEST_DRIVER} || 'sqlite3';
    $self->{db_driver} = $driver;
    if ($driver eq 'sqlite3') {
        $self->{db_params} = "$self->{root}/db/jmap.db";
    } elsif ($driver eq 'pgsql') {
        my $port = $ENV{JMAP_TEST_PG_PORT}
            or die "JMAPTest: JMAP_TEST_DRIVER=pgsql needs JMAP_TEST_PG_PORT (t/lib/pg-start.sh)\n";
        my $name = sprintf('jmt_%d_%d_%d', $$, $self->{seq}, int(rand(1e6)));
        local $ENV{PGPASSWORD} = 'jmappw';
        _run('createdb', 'psql', '-X', '-q', '-h', '127.0.0.1', '-p', $port, '-U', 'jmap',
             '-d', 'jmap', '-c', "CREATE DATABASE $name");
        $self->{pg_db} = $name;
        $self->{pg_port} = $port;
        $self->{db_params} = "host=127.0.0.1 port=$port dbname=$name user=jmap password=jmappw";
    } else {
        die "JMAPTest: unknown JMAP_TEST_DRIVER '$driver' (sqlite3 | pgsql)\n";
    }
}

sub _drop_db {
    my ($self) = @_;
    return unless $self->{pg_db};
    return if $ENV{JMAP_TEST_KEEP};
    local $ENV{PGPASSWORD} = 'jmappw';
    system('psql', '-X', '-q', '-h', '127.0.0.1', '-p', $self->{pg_port}, '-U', 'jmap',
           '-d', 'jmap', '-c', "DROP DATABASE IF EXISTS $self->{pg_db} WITH (FORCE)");
    delete $self->{pg_db};
}

sub _write_htpasswd {
    my ($self) = @_;
    my $f = "$self->{root}/htpasswd";
    my $first = 1;
    for my $u (@{ $self->{users} }) {
        _run('htpasswd', 'htpasswd', ($first ? '-cb' : '-b'), $f, $u, "${u}pw");
        $first = 0;
    }
    chmod 0644, $f;
}

# Module directives in order; values are arrayrefs (one line each).
sub _module_directives {
    my ($self) = @_;
    my $pki = $self->{pki};
    my @d;
    if ($self->{use_ldap}) {
        push @d, [JMAPLDAPURL  => ["ldap://127.0.0.1:$self->{ldap_port}"]],
                 [JMAPLDAPBase => ['dc=example,dc=com']];
    }
    if ($pki) {
        push @d, [JMAPTrustAnchors => ["$pki/ca.pem"]],
                 [JMAPCRLFile      => ["$pki/ca.crl"]],
                 [JMAPSigningKey   => ["alice\@example.com $pki/alice-full.pem",
                                       "bob\@example.com $pki/bob.p12 $pki/bob.pass",
                                       "carol\@example.com $pki/carol-full.pem",
                                       "sales\@example.com $pki/sales-full.pem"]];
    }
    push @d, [JMAPSendAs => ['sales@example.com alice bob']];
    if ($self->{smtp_port} && (my $smtp = _smtp_directive_name())) {
        my $scheme = $self->{opts}{relay_scheme}
            || (($self->{opts}{sink_tls} || '') eq 'smtps' ? 'smtps' : 'smtp');
        push @d, [$smtp => ["$scheme://127.0.0.1:$self->{smtp_port}"]];
    }
    push @d, [JMAPSubmissionCAFile => [$self->relay_pki_dir . '/ca.pem']]
        if -f $self->relay_pki_dir . '/ca.pem';
    push @d, [JMAPSubmissionAuthFile => ["$self->{root}/relay.auth"]]
        if defined $self->{opts}{relay_auth};
    my %over = %{ $self->{opts}{directives} || {} };
    $over{$_} = undef for @{ $self->{opts}{omit} || [] };
    my @out;
    my %seen;
    for my $e (@d) {
        my ($name, $vals) = @$e;
        $seen{$name} = 1;
        if (exists $over{$name}) {
            my $v = $over{$name};
            next unless defined $v;
            $vals = ref $v ? $v : [$v];
        }
        push @out, map { "$name $_" } @$vals;
    }
    for my $name (sort keys %over) {
        next if $seen{$name} || !defined $over{$name};
        my $v = $over{$name};
        push @out, map { "$name $_" } (ref $v ? @$v : ($v));
    }
    return join("\n", @out) . "\n";
}

# The reference conf has no SMTP directive yet; use the one it documents, if any.
sub _smtp_directive_name {
    my $conf = _slurp("$SRCDIR/conf.d/jmap_smime.conf");
    return $1 if $conf =~ /^#?\s*(JMAP\w*SMTP\w*|JMAPSubmission\w*URL)\s/mi;
    return undef;
}

sub _write_conf {
    my ($self) = @_;
    my $r = $self->{root};
    my $mpm = $self->{opts}{mpm} || $ENV{JMAP_TEST_MPM} || 'event';
    my $so = "$BUILDDIR/.libs/mod_jmap_smime.so";
    die "JMAPTest: $so not built (run make)\n" unless -f $so;
    $self->{port} ||= _free_port();
    my $user = _is_root() ? "User www-data\nGroup www-data\n" : '';
    my $loglevel = $self->{opts}{loglevel} || 'info';
    my $mods = join '', map { "LoadModule ${_}_module $MODDIR/mod_$_.so\n" }
        qw(authn_core authn_file auth_basic authz_core authz_user dbd);
    my $mpmconf = $self->{opts}{mpm_conf} // ($mpm eq 'prefork'
        ? "StartServers 2\nMinSpareServers 2\nMaxSpareServers 8\nMaxRequestWorkers 40\n"
        : "StartServers 2\nServerLimit 4\nThreadsPerChild 25\nMinSpareThreads 25\n"
          . "MaxSpareThreads 75\nMaxRequestWorkers 100\n");
    my $directives = $self->_module_directives;
    my $extra = $self->{opts}{extra_conf} || '';
    my $loc = $self->{opts}{location_conf} || '';
    my @vh = @{ $self->{opts}{vhosts} || [] };
    if (!$self->{vhost_ports}) {
        my %taken = ($self->{port} => 1);
        for (@vh) {
            my $p;
            do { $p = _free_port() } while $taken{$p}++;
            push @{ $self->{vhost_ports} }, $p;
        }
    }
    my $vhosts = join '', map {
        my $p = $self->{vhost_ports}[$_];
        "Listen 127.0.0.1:$p\n<VirtualHost 127.0.0.1:$p>\nServerName 127.0.0.1\n"
        . "$vh[$_]\n</VirtualHost>\n"
    } 0 .. $#vh;
    if (my $lmtp = $self->{opts}{lmtp}) {
        $self->{lmtp_port} ||= _free_port();
        my $in = $lmtp eq '1' ? '' : $lmtp;
        $extra .= "\nListen 127.0.0.1:$self->{lmtp_port} lmtp\n"
            . "<VirtualHost 127.0.0.1:$self->{lmtp_port}>\n    JMAPLMTP on\n$in\n</VirtualHost>\n";
    }
    my $conf = <<"EOF";
# generated by t/lib/JMAPTest.pm
ServerRoot "$r"
ServerName 127.0.0.1
Listen 127.0.0.1:$self->{port}
PidFile "$r/run/httpd.pid"
DefaultRuntimeDir "$r/run"
ErrorLog "$r/logs/error.log"
CoreDumpDirectory "$r/cores"
GracefulShutdownTimeout 5
LogLevel $loglevel
LogFormat "%h %u %t \\"%r\\" %>s %b %Dus" jmaptest
CustomLog "$r/logs/access.log" jmaptest
$user
LoadModule mpm_${mpm}_module $MODDIR/mod_mpm_$mpm.so
$mpmconf
Timeout 60
KeepAlive On
# as Debian's apache2.conf: no .htaccess looked for along every request's path
<Directory />
    AllowOverride None
</Directory>
$mods
DBDriver $self->{db_driver}
DBDParams "$self->{db_params}"
DBDMin 0
DBDKeep 4
DBDMax 16

LoadModule jmap_smime_module "$so"
$directives
<Location /jmap>
    SetHandler jmap
    AuthType Basic
    AuthName "JMAP"
    AuthBasicProvider file
    AuthUserFile "$r/htpasswd"
    Require valid-user
$loc
</Location>
<Location /.well-known/jmap>
    SetHandler jmap
</Location>
$extra
$vhosts
EOF
    _spew("$r/httpd.conf", $conf, 0644);
}

sub _start_httpd {
    my ($self) = @_;
    my $r = $self->{root};
    my $conf = "$r/httpd.conf";
    my $log = "$r/logs/error.log";
    my $logsize = -s $log || 0;
    # core files of crashing children, for the backtrace in check_error_log
    my $san = $SANITIZE ? $self->_sanitizer_env : '';
    my $out = `ulimit -c unlimited 2>/dev/null; $san@{[ _shq($HTTPD) ]} -f @{[ _shq($conf) ]} -k start 2>&1`;
    my $rc = $?;
    my $ok = 0;
    if ($rc == 0) {
        my $end = time + 20;
        while (time < $end) {
            my $pid = _slurp("$r/run/httpd.pid") =~ /(\d+)/ ? $1 : 0;
            if ($pid && _port_open($self->{port})) {
                $self->{httpd_pid} = $pid;
                $ok = 1;
                last;
            }
            last if $pid && !_pid_alive($pid);
            # -k start returns before post_config: a failure there shows in the log.
            last if !$pid && substr(_slurp($log), $logsize) =~ /AH00016|AH00020|Configuration Failed/;
            # ... and a crash there leaves no pid file, no log line and no process.
            if (!$pid && time > $end - 19 && !_procs_with_arg($conf)) {
                $out .= "(no httpd process is left and it wrote no pid file: a crash during "
                      . "startup? With JMAP_TEST_KEEP=1 try: gdb -batch -ex run -ex bt --args $HTTPD -X -f $conf)\n";
                last;
            }
            sleep 0.05;
        }
    }
    return 1 if $ok;
    my $errlog = _slurp($log);
    $errlog = substr($errlog, $logsize) if length($errlog) >= $logsize;
    my $why = "httpd did not start (exit " . ($rc >> 8) . ")\n--- output:\n$out"
        . "--- error log:\n$errlog--- config: $conf\n";
    diag($why) unless $self->{opts}{quiet_start_failure};
    $self->_kill_httpd;
    die "JMAPTest: httpd did not start on 127.0.0.1:$self->{port}\n"
        . ($self->{opts}{quiet_start_failure} ? $why : '');
}

sub child_pids {
    my ($self) = @_;
    my $parent = $self->{httpd_pid} or return ();
    my @pids;
    opendir(my $dh, '/proc') or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces
        my $stat = _slurp("/proc/$pid/stat");
        push @pids, $pid if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $parent;
    }
    closedir $dh;
    return sort { $a <=> $b } @pids;
}

sub db_sql {
    my ($self, $sql) = @_;
    my @cmd;
    local $ENV{PGPASSWORD} = 'jmappw';
    if ($self->{db_driver} eq 'sqlite3') {
        # a reader can find the file busy for a moment (the WAL being reset
        # or recovered by httpd's connections): wait as httpd's own do
        @cmd = ('sqlite3', '-batch', '-cmd', '.timeout 5000', $self->{db_params}, $sql);
        unshift @cmd, 'runuser', '-u', 'www-data', '--' if _is_root();
    } else {
        my %kv = $self->{db_params} =~ /(\w+)=(\S+)/g;
        @cmd = ('psql', '-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', $kv{host},
                '-p', $kv{port}, '-U', $kv{user}, '-d', $kv{dbname}, '-c', $sql);
    }
    return _run('db_sql', @cmd);
}

# Output (stdout and stderr) of "httpd -f CONF ARGS", e.g. ('-t'), run like
# the server (in sanitizer mode with the ASan runtime preloaded).
sub httpd_output {
    my ($self, @args) = @_;
    my $san = $SANITIZE ? $self->_sanitizer_env : '';
    return scalar `$san@{[ join ' ', map { _shq($_) } $HTTPD, '-f', $self->conf_file, @args ]} 2>&1`;
}

# PIDs of processes whose command line contains $arg (Linux /proc).
sub _procs_with_arg {
    my ($arg) = @_;
    my @pids;
    opendir(my $dh, '/proc') or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $cmd = _slurp("/proc/$pid/cmdline");
        push @pids, $pid if index($cmd, "\0$arg") >= 0;
    }
    closedir $dh;
    return @pids;
}

sub _kill_httpd {
    my ($self) = @_;
    $self->{http} = HTTP::Tiny->new(max_redirect => 0, timeout => 60, agent => 'JMAPTest/1');
    my $r = $self->{root};
    my $pid = $self->{httpd_pid}
        || (_slurp("$r/run/httpd.pid") =~ /(\d+)/ ? $1 : undef);
    return unless $pid;
    if (_pid_alive($pid)) {
        # "httpd -k graceful-stop" (bounded by GracefulShutdownTimeout): the
        # event MPM's immediate stop (SIGTERM) can crash a child in httpd's own
        # listener teardown (apr_os_sock_get, no module frame on any thread),
        # which a test that reads the log after a restart would report.
        kill 'WINCH', $pid;
        unless (_wait_gone($pid, 15)) {
            diag("httpd $pid did not stop gracefully in 15 s; stopping it");
            kill 'TERM', $pid;
            unless (_wait_gone($pid, 5)) {
                kill 'KILL', $pid;
                _wait_gone($pid, 5);
            }
        }
    }
    # httpd -k start makes the parent a session leader (pgid == pid): take any
    # children left behind by a killed parent with it.
    kill 'KILL', -$pid;
    delete $self->{httpd_pid};
    # a stale pid file would name the dead parent to the next _start_httpd,
    # which can see the new listener before the new pid file: the new httpd
    # would then never be stopped
    unlink "$r/run/httpd.pid";
}

sub crash_httpd {
    my ($self) = @_;
    my $pid = $self->{httpd_pid} or return;
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    _wait_gone($pid, 5);
    delete $self->{httpd_pid};
    unlink "$self->{root}/run/httpd.pid";   # see _kill_httpd
}

sub restart {
    my ($self) = @_;
    $self->stop_httpd;
    $self->start_httpd;
}

sub stop_httpd { $_[0]->_kill_httpd }

sub start_httpd {
    my ($self) = @_;
    # The port may be briefly unavailable while the old listener closes.
    my $end = time + 10;
    sleep 0.1 while _port_open($self->{port}) && time < $end;
    $self->_start_httpd;
}

sub stop {
    my ($self) = @_;
    return if $self->{stopped} || $$ != $self->{owner_pid};
    $self->{stopped} = 1;
    if (my $g = delete $self->{guardian_pid}) {
        kill 'TERM', $g;
        waitpid($g, 0);
    }
    # Signal everything first and then wait: each takes a second or two to exit.
    my $slapd = $self->{slapd_pid}
        || (_slurp("$self->{root}/ldap/slapd.pid") =~ /(\d+)/ ? $1 : undef);
    kill 'TERM', $slapd if $slapd && _pid_alive($slapd);
    my $sink = delete $self->{sink_pid};
    kill 'TERM', $sink if $sink;
    $self->_kill_httpd;
    if ($SANITIZE) {
        # reports written since the last check_error_log, e.g. at shutdown
        my @rep = $self->_sanitizer_reports;
        if (@rep) {
            ok(0, 'no sanitizer reports from httpd (checked at stop)');
            diag($_) for @rep;
        }
    }
    if ($sink) {
        kill 'KILL', $sink unless _wait_gone($sink, 10);
        waitpid($sink, 0);
    }
    $self->_kill_slapd if $slapd || $self->{ldap_port};
    $self->_drop_db;
    if ($ENV{JMAP_TEST_KEEP}) {
        diag("JMAP_TEST_KEEP: kept $self->{root}");
    } else {
        remove_tree($self->{root});
    }
    delete $LIVE{"$self"};
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{owner_pid} && $$ == $self->{owner_pid};
}

END {
    local $?;
    if (%LIVE) {
        $_->stop for values %LIVE;
    }
    if ($PKI_ONDEMAND_TMP && !$ENV{JMAP_TEST_KEEP} && $$ == $MAIN_PID) {
        remove_tree($PKI_ONDEMAND_TMP);
    }
    for my $port (keys %MY_PORTS) {
        unlink "$PORT_DIR/$port" if $MY_PORTS{$port} == $$;
    }
}

# Turn signals into a normal exit so END stops the servers ("exit", not
# "die": a die could be caught by an eval, e.g. inside HTTP::Tiny).
my %SIGNUM = (INT => 2, TERM => 15, HUP => 1, PIPE => 13);  # PIPE: `prove t/x.t | head`
for my $sig (sort keys %SIGNUM) {
    $SIG{$sig} = sub { diag("JMAPTest: caught SIG$sig, stopping servers"); exit(128 + $SIGNUM{$sig}) }
        if !defined $SIG{$sig} || $SIG{$sig} eq '' || $SIG{$sig} eq 'DEFAULT';
}

# A guardian process in its own session stops this object's servers if the
# test process disappears without running END (SIGKILL, e.g. from a timeout).
sub _start_guardian {
    my ($self) = @_;
    my $parent = $$;
    my $pid = fork;
    return unless defined $pid;
    if ($pid) {
        $self->{guardian_pid} = $pid;
        return;
    }
    POSIX::setsid();
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', '/dev/null');
    $SIG{$_} = 'DEFAULT' for keys %SIGNUM;
    $SIG{TERM} = sub { POSIX::_exit(0) };     # normal stop() ends the guardian
    sleep 1 while getppid() == $parent;
    my $r = $self->{root};
    for my $f ("$r/run/httpd.pid", "$r/run/sink.pid", "$r/ldap/slapd.pid") {
        my $p = _slurp($f) =~ /(\d+)/ ? $1 : 0;
        kill 'TERM', $p if $p > 1;
    }
    sleep 3;
    for my $f ("$r/run/httpd.pid", "$r/ldap/slapd.pid") {
        my $p = _slurp($f) =~ /(\d+)/ ? $1 : 0;
        kill 'KILL', $p if $p > 1 && kill(0, $p);
    }
    remove_tree($r) unless $ENV{JMAP_TEST_KEEP};
    POSIX::_exit(0);
}

# --- HTTP ---------------------------------------------------------------------

sub _auth_header {
    my ($user, $pass) = @_;
    $pass = "${user}pw" unless defined $pass;
    return 'Basic ' . encode_base64("$user:$pass", '');
}

sub _url {
    my ($self, $path) = @_;
    return $path if $path =~ m{^https?://};
    $path = "/$path" unless $path =~ m{^/};
    return $self->base_url . $path;
}

sub request {
    my ($self, $method, $path, $user, $content, $headers) = @_;
    my %h = %{ $headers || {} };
    $h{Authorization} = _auth_header($user) if defined $user && !exists $h{Authorization};
    my %args = (headers => \%h);
    $args{content} = $content if defined $content;
    my $res = $self->{http}->request($method, $self->_url($path), \%args);
    if (defined $res->{content} && length $res->{content}
        && ($res->{headers}{'content-type'} || '') =~ /json/i) {
        $res->{json} = eval { $JSON->decode($res->{content}) };
    }
    return $res;
}

sub get {
    my ($self, $path, $user) = @_;
    return $self->request('GET', $path, $user);
}

sub session {
    my ($self, $user) = @_;
    my $res = $self->get('/jmap/session', $user);
    unless ($res->{status} == 200 && ref $res->{json} eq 'HASH') {
        diag("GET /jmap/session as $user: $res->{status} $res->{reason}\n"
             . substr($res->{content} // '', 0, 2000));
        return undef;
    }
    $self->{sessions}{$user} = $res->{json};
    return $res->{json};
}

sub account_id {
    my ($self, $user) = @_;
    my $s = $self->{sessions}{$user} || $self->session($user) or return undef;
    my $pa = $s->{primaryAccounts} || {};
    return $pa->{'urn:ietf:params:jmap:mail'} if $pa->{'urn:ietf:params:jmap:mail'};
    my @ids = sort keys %{ $s->{accounts} || {} };
    for my $id (@ids) {
        return $id if $s->{accounts}{$id}{isPersonal};
    }
    return $ids[0];
}

sub api_raw {
    my ($self, $user, $body, %headers) = @_;
    my %h = map { lc($_) => $headers{$_} } keys %headers;
    $h{'content-type'} = 'application/json' unless exists $h{'content-type'};
    delete $h{'content-type'} unless defined $h{'content-type'};
    my $res = $self->request('POST', '/jmap/api', $user, $body, \%h);
    return ($res->{status}, $res->{headers}, $res->{content});
}

sub api {
    my ($self, $user, $using, $calls, %extra) = @_;
    $using ||= ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
    my $req = { using => $using, methodCalls => $calls, %extra };
    my ($status, $headers, $body) = $self->api_raw($user, $JSON->encode($req));
    my $json = eval { $JSON->decode($body) };
    if ($status != 200 || ref $json ne 'HASH') {
        diag("POST /jmap/api as $user: status $status, content-type "
             . ($headers->{'content-type'} // '-') . "\n" . substr($body // '', 0, 2000));
        return undef;
    }
    return $json;
}

sub _expand_template {
    my ($tmpl, %vars) = @_;
    $tmpl =~ s/\{(\w+)\}/exists $vars{$1} ? _pct($vars{$1}) : "{$1}"/ge;
    return $tmpl;
}

# RFC 6570 simple string expansion: only unreserved characters stay as they are.
sub _pct {
    my ($s) = @_;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub upload {
    my ($self, $user, $account_id, $bytes, $type) = @_;
    my $s = $self->{sessions}{$user} || $self->session($user);
    my $tmpl = $s && $s->{uploadUrl} ? $s->{uploadUrl} : $self->base_url . '/jmap/upload/{accountId}/';
    my $url = _expand_template($tmpl, accountId => $account_id);
    my %h;
    $h{'content-type'} = $type if defined $type;
    return $self->request('POST', $url, $user, $bytes, \%h);
}

sub download {
    my ($self, $user, $what) = @_;
    my $url = $what;
    if (ref $what eq 'HASH') {
        my $s = $self->{sessions}{$user} || $self->session($user);
        my $tmpl = $s && $s->{downloadUrl} ? $s->{downloadUrl}
            : $self->base_url . '/jmap/download/{accountId}/{blobId}/{name}?type={type}';
        $url = _expand_template($tmpl, %$what);
    }
    return $self->request('GET', $url, $user);
}

# --- mail helpers shared by the Email/set tests -----------------------------------

# Mailbox id of a role (or, for mailboxes without one, a name); cached.
sub mailbox_id {
    my ($self, $user, $role) = @_;
    unless ($self->{mailboxes}{$user}) {
        my $r = $self->api($user, undef,
                           [['Mailbox/get', { accountId => $self->account_id($user) }, 'm']]);
        my $l = $r ? $r->{methodResponses}[0][1]{list} : [];
        $self->{mailboxes}{$user} = { map { (($_->{role} // $_->{name}) => $_->{id}) } @$l };
    }
    return $self->{mailboxes}{$user}{$role} // 'no-such-mailbox';
}

# A text/plain draft from Alice to Bob in $user's Drafts; %o overrides.
sub text_draft {
    my ($self, $user, %o) = @_;
    my $body = delete $o{body} // "Hello Bob,\nthe numbers are in: 42.\n";
    return {
        mailboxIds    => { $self->mailbox_id($user, 'drafts') => JSON::PP::true },
        from          => [{ name => 'Alice Example', email => 'alice@example.com' }],
        to            => [{ name => 'Bob Example', email => 'bob@example.com' }],
        subject       => 'Plans',
        bodyStructure => { type => 'text/plain', partId => 'b1' },
        bodyValues    => { b1 => { value => $body } },
        %o,
    };
}

# Email/set with the given creations: its response arguments, or
# { methodError => [...] } when the call failed as a whole.
sub email_set {
    my ($self, $user, $create, %args) = @_;
    my $using = [qw(urn:ietf:params:jmap:core urn:ietf:params:jmap:mail
                    urn:ietf:params:jmap:smime-advanced)];
    my $r = $self->api($user, $using, [['Email/set',
        { accountId => $self->account_id($user), create => $create, %args }, 's']]);
    my $resp = JMAPTest->response_for($r, 's');
    return $resp && $resp->[0] eq 'Email/set' ? $resp->[1] : { methodError => $resp };
}

# Create one email and download its blob: (created entry, bytes), or ()
# after a failed test. Three tests: created, downloaded, size matches.
sub create_email {
    my ($self, $user, $msg, %args) = @_;
    my $res = $self->email_set($user, { k1 => $msg }, %args);
    my $c = $res->{created} && $res->{created}{k1};
    unless (ok($c && $c->{blobId}, "$user: Email/set created k1")) {
        diag(explain($res));
        return;
    }
    my $dl = $self->download($user, { accountId => $self->account_id($user),
                                      blobId => $c->{blobId}, name => 'message.eml',
                                      type => 'message/rfc822' });
    ok($dl->{status} == 200, 'downloaded the created blob') or return;
    is(length $dl->{content}, $c->{size}, 'created size equals the downloaded length');
    return ($c, $dl->{content});
}

# --- assertions --------------------------------------------------------------

# One subtest: the response is an RFC 7807 problem (RFC 8620 §3.6.1) with the
# given status (a number or an arrayref of acceptable numbers) and type URN
# (short names get the urn:ietf:params:jmap:error: prefix); %opt: limit => NAME.
sub problem_ok {
    my ($self, $status, $headers, $body, $want_status, $want_type, $name, %opt) = @_;
    $want_type = "urn:ietf:params:jmap:error:$want_type" unless $want_type =~ /:/;
    my @ok_status = ref $want_status ? @$want_status : ($want_status);
    return subtest $name => sub {
        ok((grep { $status == $_ } @ok_status), "HTTP status $status is one of @ok_status")
            or diag('body: ' . substr($body // '', 0, 500));
        like($headers->{'content-type'} // '', qr{^application/problem\+json\b}i,
             'Content-Type application/problem+json');
        my $p = eval { $JSON->decode($body // '') };
        is(ref $p, 'HASH', 'body is a JSON object') or return;
        is($p->{type}, $want_type, "type $want_type");
        if (exists $p->{status}) {
            is($p->{status}, $status, 'problem "status" equals the HTTP status (RFC 7807 §3.1)');
        }
        ok(!exists $p->{detail} || (defined $p->{detail} && !ref $p->{detail}),
           'detail, if present, is a string');
        is($p->{limit}, $opt{limit}, "limit is \"$opt{limit}\"") if $opt{limit};
    };
}

# The method response for call id $id in a Response object, or undef.
sub response_for {
    my ($class_or_self, $resp, $id) = @_;
    return undef unless ref $resp eq 'HASH' && ref $resp->{methodResponses} eq 'ARRAY';
    for my $r (@{ $resp->{methodResponses} }) {
        return $r if ref $r eq 'ARRAY' && defined $r->[2] && $r->[2] eq $id;
    }
    return undef;
}

# --- logs and mail -----------------------------------------------------------

sub error_log { _slurp("$_[0]{root}/logs/error.log") }
sub access_log { _slurp("$_[0]{root}/logs/access.log") }

sub check_error_log {
    my ($self, @expected) = @_;
    my @allow = (@{ $self->{expected} }, @expected);
    my @bad;
    for my $line (split /\n/, $self->error_log) {
        next unless $line =~ /\[jmap_smime:(?:error|crit|alert|emerg)\]/
            || $line =~ /segfault|Segmentation fault|exit signal|AH00052|\[core:(?:crit|alert|emerg)\]/i;
        next if grep { $line =~ $_ } @allow;
        push @bad, $line;
    }
    my $ok = ok(!@bad, 'error log has no unexpected errors or crashes');
    diag(join("\n", 'unexpected error-log lines:', @bad[0 .. ($#bad > 29 ? 29 : $#bad)]))
        if @bad;
    $self->_diag_cores if grep { /Segmentation fault|exit signal|segfault/i } @bad;
    if ($SANITIZE) {
        my @rep = $self->_sanitizer_reports;
        $ok = ok(!@rep, 'no sanitizer reports from httpd') && $ok;
        diag($_) for @rep;
    }
    return $ok;
}

# --- sanitizer mode ------------------------------------------------------------

# Environment for httpd only (not for slapd, openssl, perl): the ASan runtime
# must be the first library of the process, and httpd itself is not built
# with it, so it is preloaded. The module links libubsan, loaded normally.
sub _sanitizer_env {
    my ($self) = @_;
    my $rt = _asan_runtime();
    my $dir = "$self->{root}/sanitizer";
    my $asan = join ':',
        "log_path=$dir/asan",      # reports to files asan.PID, not a daemon's stderr
        'detect_leaks=0',          # httpd frees memory by destroying pools and
                                   # does not clean up at exit: leak reports from
                                   # a server process would be noise
        'abort_on_error=1',        # the child dies of SIGABRT, httpd logs AH00052
        'halt_on_error=1',
        'allow_user_segv_handler=0',  # keep ASan's SEGV report (with the stack):
                                   # httpd's fatal-signal handler would only try
                                   # a core dump, which ASan disables
        'fast_unwind_on_malloc=0'; # whole allocation/free stacks through jansson,
                                   # APR and GMime (built without frame pointers)
    # UBSan's own runtime (a separate library with gcc) ignores log_path when
    # ASan is loaded too (both define __sanitizer_set_report_path; ASan's wins):
    # its reports go to stderr, which httpd has pointed at the error log.
    my $ubsan = join ':', "log_path=$dir/ubsan", 'print_stacktrace=1',
        'halt_on_error=1', 'abort_on_error=1';
    # extra options for experiments; later ones win
    $asan .= ":$ENV{JMAP_TEST_ASAN_OPTIONS}" if $ENV{JMAP_TEST_ASAN_OPTIONS};
    $ubsan .= ":$ENV{JMAP_TEST_UBSAN_OPTIONS}" if $ENV{JMAP_TEST_UBSAN_OPTIONS};
    return join(' ', map { _shq($_) } "LD_PRELOAD=$rt", "ASAN_OPTIONS=$asan",
                "UBSAN_OPTIONS=$ubsan") . ' ';
}

my $ASAN_RUNTIME;
sub _asan_runtime {
    return $ASAN_RUNTIME if $ASAN_RUNTIME;
    my $rt = $ENV{JMAP_TEST_ASAN_RUNTIME} || `gcc -print-file-name=libasan.so 2>/dev/null`;
    chomp $rt;
    die "JMAPTest: sanitizer mode, but no AddressSanitizer runtime ('$rt'; install gcc "
        . "or set JMAP_TEST_ASAN_RUNTIME)\n" unless $rt =~ m{^/} && -e $rt;
    return $ASAN_RUNTIME = abs_path($rt);
}

my $SANITIZER_LINE = qr/runtime error: |ERROR: \w*Sanitizer|\w+Sanitizer:DEADLYSIGNAL|SUMMARY: \w*Sanitizer|^==\d+==/;

# Sanitizer output not reported before: the report files and report lines in
# the error log (UBSan's, and anything written before log_path took effect).
sub _sanitizer_reports {
    my ($self) = @_;
    my @rep;
    for my $f (sort glob("$self->{root}/sanitizer/*")) {
        my $text = _slurp($f);
        my $seen = $self->{san_seen}{$f} // 0;
        next if length($text) <= $seen;
        $self->{san_seen}{$f} = length $text;
        my $r = substr($text, $seen);
        # the shadow-memory dump and its legend say little in a test log
        $r =~ s/^Shadow bytes around the buggy address:\n.*?^(?===\d+==ABORTING)/(shadow bytes: see the file)\n/ms;
        push @rep, "sanitizer report $f:\n" . _first_lines($r, 150);
    }
    my $log = $self->error_log;
    my $from = $self->{san_log_seen} // 0;
    $from = 0 if $from > length $log;
    $self->{san_log_seen} = length $log;
    my @lines = split /\n/, substr($log, $from);
    for (my $i = 0; $i < @lines; $i++) {
        next unless $lines[$i] =~ $SANITIZER_LINE;
        my @block = ($lines[$i]);
        # the rest of the report (stack frames, notes): up to the next httpd log line
        push @block, $lines[++$i] while $i + 1 < @lines && $lines[$i + 1] !~ /^\[/ && @block < 150;
        push @rep, "sanitizer output in $self->{root}/logs/error.log:\n" . join("\n", @block);
    }
    return @rep;
}

sub _first_lines {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    return $text if @l <= $n;
    return join("\n", @l[0 .. $n - 1], "... (" . (@l - $n) . " more lines)");
}

# A backtrace of every core a crashed child left (gdb, when installed).
sub _diag_cores {
    my ($self) = @_;
    my @cores = glob("$self->{root}/cores/core*");
    unless (@cores) {
        return diag("no core file: AddressSanitizer disables core dumps; the crash's "
                    . "stack is in the sanitizer report") if $SANITIZE;
        diag("no core file in $self->{root}/cores (core_pattern: "
             . _slurp('/proc/sys/kernel/core_pattern') =~ s/\s+$//r . ')');
        return;
    }
    for my $core (@cores[0 .. ($#cores > 2 ? 2 : $#cores)]) {
        my $out = `gdb -batch -nx -ex 'bt 40' -ex 'thread apply all bt 30' @{[ _shq($HTTPD) ]} @{[ _shq($core) ]} 2>&1`;
        # the crashing thread first, then only the threads that were busy
        # in the module or its libraries (not the idle workers)
        my ($crash, @threads) = split /^(?=Thread \d+ )/m, $out;
        my @keep = grep { /jm_|mod_jmap_smime|sqlite3|gmime|libcrypto|libldap|jansson/ } @threads;
        my $text = join '', grep { /^(#\d|Thread |Program terminated)/ } map { split /^/m } $crash, @keep;
        diag("backtrace of $core:\n$text");
    }
}

sub sink_messages {
    my ($self) = @_;
    my $d = $self->sink_dir;
    opendir(my $dh, $d) or return ();
    my @f = sort grep { /^\d+\.eml$/ } readdir $dh;
    closedir $dh;
    return map { "$d/$_" } @f;
}

sub wait_sink_messages {
    my ($self, $n, $secs) = @_;
    my $end = time + ($secs || 30);
    my @m;
    while (time < $end) {
        @m = $self->sink_messages;
        return @m if @m >= $n;
        sleep 0.1;
    }
    return @m;
}

1;
