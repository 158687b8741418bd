package JMAPBench;
# bench/lib/JMAPBench.pm — what the benchmarks share: the CPU time of a
# server's process tree from /proc, pinning it to a core, medians, load
# from ab (one request body) or wrk (several, in turn), and a perf profile
# summarised by component.
use strict;
use warnings;
use POSIX ();
use Exporter 'import';
our @EXPORT_OK = qw(tree_pids cpu_ticks cpu_ms_per_request pin median ab_run
                    wrk_script wrk_run perf_components ncpu);

my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub ncpu { chomp(my $n = `nproc` || 1); return $n || 1; }

# The pids of a process and all its descendants.
sub tree_pids {
    my ($root) = @_;
    my %kids;
    opendir(my $dh, '/proc') or return ($root);
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $st = <$fh>;
        push @{ $kids{$1} }, $pid if $st && $st =~ /\)\s+\S+\s+(\d+)/;
    }
    closedir $dh;
    my @out = ($root);
    for (my $i = 0; $i < @out; $i++) {
        push @out, @{ $kids{ $out[$i] } // [] };
    }
    return @out;
}

# utime + stime of the tree, and of the children it reaped, in clock ticks.
sub cpu_ticks {
    my ($root) = @_;
    my $sum = 0;
    for my $pid (tree_pids($root)) {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $st = <$fh>;
        my @f = split ' ', substr($st, rindex($st, ')') + 2);
        $sum += $f[11] + $f[12] + $f[13] + $f[14];
    }
    return $sum;
}

sub cpu_ms_per_request {
    my ($ticks, $requests) = @_;
    return $requests ? 1000 * $ticks / $TCK / $requests : 0;
}

# Every thread of the tree on CPU (a taskset list such as "1" or "0-1").
sub pin {
    my ($root, $cpus) = @_;
    system("taskset -a -p -c $cpus $_ >/dev/null 2>&1") for tree_pids($root);
}

sub median { my @s = sort { $a <=> $b } @_; return $s[$#s / 2]; }

# ab, keep-alive, one body: (requests/s, requests answered, CPU ms per
# request of $root's tree). Dies on a non-2xx answer. $gen_cpu pins ab.
sub ab_run {
    my (%o) = @_;
    my $pre = defined $o{gen_cpu} ? "taskset -c $o{gen_cpu} " : '';
    my $before = cpu_ticks($o{root});
    my $out = `${pre}ab -q -k -t $o{secs} -n 100000000 -c $o{clients} -A $o{auth} -T application/json -p $o{body} $o{url} 2>&1`;
    my $ticks = cpu_ticks($o{root}) - $before;
    my ($rps) = $out =~ /Requests per second:\s+([\d.]+)/;
    my ($n) = $out =~ /Complete requests:\s+(\d+)/;
    my ($non2xx) = $out =~ /Non-2xx responses:\s+(\d+)/;
    # ab counts answers of another length than the first as "failed"; ids
    # and states make lengths vary, so only non-2xx answers matter
    die "ab failed:\n$out" unless defined $rps && $n;
    die "ab: $non2xx non-2xx answers from $o{url}\n" if $non2xx;
    return ($rps, $n, cpu_ms_per_request($ticks, $n));
}

# A wrk script that posts the given request bodies in turn and counts
# answers that are not 200 or hold a JMAP "error".
sub wrk_script {
    my ($lua, $path, $auth, @files) = @_;
    open(my $fh, '>', $lua) or die "$lua: $!\n";
    print $fh "wrk.method = 'POST'\n",
        "wrk.headers['Content-Type'] = 'application/json'\n",
        "wrk.headers['Authorization'] = '$auth'\n",
        "local bodies = {}\n";
    for my $f (@files) {
        print $fh "do local h = io.open('$f', 'rb'); bodies[#bodies + 1] = h:read('*a'); h:close() end\n";
    }
    print $fh <<"LUA";
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, '$path', nil, bodies[i])
end
LUA
    close $fh;
    return $lua;
}

# wrk -t1: (requests/s, requests, CPU ms per request of $root's tree).
sub wrk_run {
    my (%o) = @_;
    my $pre = defined $o{gen_cpu} ? "taskset -c $o{gen_cpu} " : '';
    my $before = cpu_ticks($o{root});
    my $out = `${pre}wrk -t1 -c$o{clients} -d$o{secs}s -s $o{lua} $o{url} 2>&1`;
    my $ticks = cpu_ticks($o{root}) - $before;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($n) = $out =~ /(\d+) requests in/;
    die "wrk failed:\n$out" unless defined $rps && $n;
    die "non-2xx answers:\n$out" if $out =~ /Non-2xx/;
    return ($rps, $n, cpu_ms_per_request($ticks, $n));
}

# Where the CPU of $root's tree goes while $load (a code ref that runs the
# load for about $secs seconds) runs: perf samples by shared object, summed
# by component. Returns [component, percent] pairs, largest first, or an
# empty list when perf is missing or cannot record.
my @COMPONENTS = (
    [qr/^\[kernel|^\[vdso/, 'kernel (syscalls, I/O, network)'],
    [qr/^mod_jmap_smime/, 'module code'],
    [qr/jansson/, 'JSON (jansson)'],
    [qr/gmime|glib|gobject/, 'MIME (GMime, GLib)'],
    [qr/libcrypto|libssl/, 'CMS (OpenSSL)'],
    [qr/sqlite|libpq|apr_dbd|mod_dbd/, 'SQL (SQLite/libpq, apr_dbd)'],
    [qr/ldap|lber/, 'LDAP (libldap)'],
    [qr/^libc\.|^ld-linux|libm\./, 'libc (malloc, memcpy, syscall stubs)'],
    [qr/apache2|httpd|libapr|mod_|libpcre/, 'httpd (core, APR, other modules)'],
);
sub perf_components {
    my (%o) = @_;
    return () if system('which perf >/dev/null 2>&1') != 0;
    my $data = "$o{tmp}/perf.data";
    my $pids = join(',', tree_pids($o{root}));
    my $pid = fork();
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', '/dev/null');
        { exec('perf', 'record', '-q', '-F', '999', '-p', $pids, '-o', $data,
               '--', 'sleep', $o{secs}) }
        POSIX::_exit(127);
    }
    $o{load}->();
    waitpid($pid, 0);
    return () if $? != 0 || !-s $data;
    my %sum;
    for (`perf report -i $data --no-children --sort dso --stdio -g none 2>/dev/null`) {
        next unless /^\s+([\d.]+)%\s+(\S+)/;
        my ($pct, $dso) = ($1, $2);
        my ($c) = map { $_->[1] } grep { $dso =~ $_->[0] } @COMPONENTS;
        $sum{ $c // "other ($dso)" } += $pct;
    }
    unlink $data;
    my %other;
    for my $k (grep { /^other/ } keys %sum) {
        $other{'other'} += delete $sum{$k};
    }
    %sum = (%sum, %other);
    return map { [$_, $sum{$_}] } sort { $sum{$b} <=> $sum{$a} } keys %sum;
}

1;
