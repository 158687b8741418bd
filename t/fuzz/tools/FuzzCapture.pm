# FuzzCapture — record the HTTP traffic of the integration tests, for seed
# corpora (t/fuzz/make-corpus.sh). Loaded with
#   PERL5LIB=t/fuzz/tools PERL5OPT=-MFuzzCapture JMAP_FUZZ_CAPTURE=DIR prove ...
# it wraps HTTP::Tiny::request (which t/lib/JMAPTest.pm uses for every
# request) and appends one JSON line per /jmap/ request to
# DIR/capture.<pid>.jsonl: method, url, status, and request and response
# bodies (base64) with their content types. Without JMAP_FUZZ_CAPTURE it
# does nothing.
package FuzzCapture;
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);

my $dir = $ENV{JMAP_FUZZ_CAPTURE};
if ($dir) {
    my $orig = \&HTTP::Tiny::request;
    my $json = JSON::PP->new->canonical;
    no warnings 'redefine';
    *HTTP::Tiny::request = sub {
        my ($self, $method, $url, $args) = @_;
        my $res = $orig->(@_);
        if ($url =~ m{/jmap/}) {
            my %h = map { lc($_) => $args->{headers}{$_} } keys %{ $args->{headers} || {} };
            my $req = $args && defined $args->{content} && !ref $args->{content}
                ? $args->{content} : undef;
            my $rec = {
                test      => $0,
                method    => $method,
                url       => $url,
                status    => $res->{status},
                req_type  => $h{'content-type'},
                req       => defined $req ? encode_base64($req, '') : undef,
                resp_type => $res->{headers}{'content-type'},
                resp      => defined $res->{content} ? encode_base64($res->{content}, '') : undef,
            };
            if (open my $fh, '>>', "$dir/capture.$$.jsonl") {
                print $fh $json->encode($rec), "\n";
                close $fh;
            }
        }
        return $res;
    };
}
1;
