#!/bin/sh
# t/check-conf-reference.sh SRCDIR — every directive the module registers
# (AP_INIT_*("JMAP...") in mod_jmap_smime.c and src/httpd/mod_jm_*.c) must be
# documented in conf.d/jmap_smime.conf, and every JMAP* directive the
# reference documents (as "JMAPName ..." or "#JMAPName ...") must exist.
# Understands names given as string literals, as object-like macros
# (#define JM_X "JMAPName") and through function-like wrapper macros
# (#define LIMIT(name, f) AP_INIT_TAKE1(name, ...) ... LIMIT("JMAPMax...", f)).
set -u
SRCDIR=${1:-.}
cd "$SRCDIR" || exit 2
CONF=conf.d/jmap_smime.conf
[ -f "$CONF" ] || { echo "check-conf-reference: $CONF missing" >&2; exit 1; }
SOURCES=$(ls mod_jmap_smime.c src/httpd/mod_jm_*.c src/httpd/mod_jm_*.h 2>/dev/null)
# shellcheck disable=SC2086
if [ -z "$SOURCES" ] || ! grep -q 'AP_INIT_' $SOURCES 2>/dev/null; then
    echo "check-conf-reference: SKIP (no AP_INIT_* directive table in the module source yet)"
    exit 0
fi
# shellcheck disable=SC2086
exec perl -e '
use strict; use warnings;
my $conf = shift;
my $src = "";
for my $f (@ARGV) { open(my $fh, "<", $f) or die "$f: $!"; local $/; $src .= <$fh>; }
$src =~ s{/\*.*?\*/}{ }gs;            # comments
$src =~ s{//[^\n]*}{}g;
$src =~ s{\\\n}{ }g;                  # macro continuation lines
my (%obj, %wrap, %names, @unresolved);
while ($src =~ /^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+"(JMAP\w*)"/mg) { $obj{$1} = $2 }
# function-like macros whose AP_INIT_ takes one of their parameters as the name
while ($src =~ /^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)[^\n]*?AP_INIT_\w+\s*\(\s*(\w+)/mg) {
    my ($m, $params, $arg) = ($1, $2, $3);
    my @p = map { s/^\s+|\s+$//gr } split /,/, $params;
    for my $i (0 .. $#p) { $wrap{$m} = $i if $p[$i] eq $arg }
}
(my $body = $src) =~ s/^[ \t]*#[ \t]*define[^\n]*//mg;   # calls outside #define only
while ($body =~ /\bAP_INIT_\w+\s*\(\s*("([^"]*)"|(\w+))/g) {
    if (defined $2) { $names{$2} = 1 }
    elsif (exists $obj{$3}) { $names{ $obj{$3} } = 1 }
    else { push @unresolved, $3 }
}
for my $m (keys %wrap) {
    while ($body =~ /\b\Q$m\E\s*\(([^()]*)\)/g) {
        my @a = map { s/^\s+|\s+$//gr } split /,/, $1;
        my $a = $a[ $wrap{$m} ] // "";
        if ($a =~ /^"([^"]*)"$/) { $names{$1} = 1 }
        elsif (exists $obj{$a}) { $names{ $obj{$a} } = 1 }
        else { push @unresolved, "$m($a)" }
    }
}
open(my $ch, "<", $conf) or die "$conf: $!";
my %doc;
while (<$ch>) { $doc{$1} = 1 if /^\s*#?\s*(JMAP\w+)/ }
my @src = sort grep { /^JMAP/ } keys %names;
my @missing = grep { !$doc{$_} } @src;
my @extra = grep { !$names{$_} } sort keys %doc;
my $rc = 0;
if (@unresolved) { print STDERR "check-conf-reference: cannot resolve directive name(s): @unresolved\n"; $rc = 1 }
if (@missing) { print STDERR "check-conf-reference: directives not documented in $conf:\n", map("  $_\n", @missing); $rc = 1 }
if (@extra) { print STDERR "check-conf-reference: $conf documents directives the module does not define:\n", map("  $_\n", @extra); $rc = 1 }
printf "check-conf-reference: ok (%d directives, all documented)\n", scalar @src unless $rc;
exit $rc;
' "$CONF" $SOURCES
