package MIMECheck;
# Helpers shared by the S/MIME integration tests: scratch files, running a
# command without a shell, and just enough MIME splitting to hand exact
# bytes to openssl and gpgsm (our own parser is never the judge).
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use POSIX ();

our @EXPORT_OK = qw(scratch_dir spew slurp run_cmd cms_verify cms_decrypt
                    split_entity fields field mime_parts ct_param);

my $TMP;
my $SEQ = 0;

# A temp dir for this test file, removed at exit.
sub scratch_dir {
    $TMP //= tempdir('jmapsmime-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    return $TMP;
}

# ---- helpers (files, commands) ----------------------------------------------

sub spew {
    my ($name, $data) = @_;
    my $f = sprintf('%s/%03d-%s', scratch_dir(), ++$SEQ, $name);
    open(my $fh, '>:raw', $f) or die "$f: $!";
    print $fh $data;
    close $fh or die "$f: $!";
    return $f;
}

sub slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', $f) or return '';
    local $/;
    my $d = <$fh>;
    return defined $d ? $d : '';
}

# Run a command without a shell: { rc, out, err }. A trailing hashref
# { stdin => FILE } makes FILE the standard input (for --passphrase-fd 0).
sub run_cmd {
    my (@cmd) = @_;
    my %o = ref $cmd[-1] eq 'HASH' ? %{ pop @cmd } : ();
    my $out = spew('stdout', '');
    my $err = spew('stderr', '');
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open(STDIN, '<', $o{stdin} // '/dev/null') or POSIX::_exit(126);
        open(STDOUT, '>', $out);
        open(STDERR, '>', $err);
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return { rc => $?, out => slurp($out), err => slurp($err) };
}

# ---- helpers (openssl cms, with a mkpki.sh PKI) ---------------------------------

# openssl cms -verify against $pki/ca.pem: { ok, rc, out, err, content,
# signer (the signer's certificate file or undef), signer_text (its -email) }.
sub cms_verify {
    my ($pki, $msg, @extra) = @_;
    my $in = spew('msg.eml', $msg);
    my $r = run_cmd('openssl', 'cms', '-verify', '-CAfile', "$pki/ca.pem", '-in', $in,
                    '-out', "$in.content", '-signer', "$in.signer.pem", @extra);
    $r->{ok} = $r->{rc} == 0 && $r->{err} =~ /Verification successful/;
    $r->{content} = slurp("$in.content");
    $r->{signer} = -s "$in.signer.pem" ? "$in.signer.pem" : undef;
    $r->{signer_text} = $r->{signer}
        ? run_cmd('openssl', 'x509', '-in', $r->{signer}, '-noout', '-email')->{out} : '';
    return $r;
}

# openssl cms -decrypt as $who ($pki/$who.pem and .key): { ok, ..., content }.
sub cms_decrypt {
    my ($pki, $msg, $who) = @_;
    my $in = spew('enc.eml', $msg);
    my $r = run_cmd('openssl', 'cms', '-decrypt', '-recip', "$pki/$who.pem",
                    '-inkey', "$pki/$who.key", '-in', $in, '-out', "$in.dec");
    $r->{ok} = $r->{rc} == 0 && -s "$in.dec";
    $r->{content} = slurp("$in.dec");
    return $r;
}

# ---- helpers (MIME) -----------------------------------------------------------

# (header section incl. its last CRLF, body)
sub split_entity {
    my ($m) = @_;
    my $i = index($m, "\r\n\r\n");
    return ($m, '') if $i < 0;
    return (substr($m, 0, $i + 2), substr($m, $i + 4));
}

# [[name, unfolded value], ...] in order
sub fields {
    my ($h) = @_;
    $h =~ s/\r\n(?=[ \t])//g;
    my @f;
    for my $l (split /\r\n/, $h) {
        next unless length $l;
        push @f, [$1, $2] if $l =~ /^([!-9;-~]+):[ \t]*(.*?)[ \t]*$/;
    }
    return \@f;
}

sub field {
    my ($f, $name) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name } @$f;
    return wantarray ? @v : $v[0];
}

# Parts of a multipart body: the bytes between the delimiter lines
# (RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter).
sub mime_parts {
    my ($body, $boundary) = @_;
    my $delim = "\r\n--$boundary";
    my $s = "\r\n" . $body;
    my @parts;
    my $pos = index($s, $delim);
    while ($pos >= 0) {
        my $after = $pos + length $delim;
        last if substr($s, $after, 2) eq '--';
        my $eol = index($s, "\r\n", $after);
        last if $eol < 0;
        my $next = index($s, $delim, $eol + 2);
        last if $next < 0;
        push @parts, substr($s, $eol + 2, $next - $eol - 2);
        $pos = $next;
    }
    return @parts;
}

sub ct_param {
    my ($ct, $name) = @_;
    return $1 if $ct =~ /;\s*\Q$name\E\s*=\s*"([^"]*)"/i;
    return $1 if $ct =~ /;\s*\Q$name\E\s*=\s*([^;\s]+)/i;
    return undef;
}

1;
