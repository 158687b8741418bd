#!/usr/bin/perl
# Random Email/set and Email/get arguments (t/fuzz/email_fuzz.py, fixed
# seeds): every answer is HTTP 200 with JSON, and nothing crashes or logs an
# error. More iterations: JMAP_FUZZ_COUNT=5000.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JMAPTest;

my $count = $ENV{JMAP_FUZZ_COUNT} || 300;
my $t = JMAPTest->new(smtp => 0);
$t->session('alice');
for my $seed (11, 12) {
    my $out = `/usr/bin/python3 $FindBin::Bin/../fuzz/email_fuzz.py @{[ $t->base_url ]} @{[ $t->account_id('alice') ]} $seed $count 2>&1`;
    is($? >> 8, 0, "seed $seed: $count random calls, all answered 200 with JSON")
        or diag($out);
}
unlike($t->error_log, qr/Segmentation fault|exit signal|AH00052/, 'no child crashed');
$t->check_error_log;
$t->stop;
done_testing;
