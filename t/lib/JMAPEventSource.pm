package JMAPEventSource;

=encoding utf8

=head1 NAME

JMAPEventSource - a raw-socket client of the JMAP event source (RFC 8620 §7.3) for tests

=head1 SYNOPSIS

    my $es = JMAPEventSource->open($t->port, 'alice', 'types=*&closeafter=no&ping=0');
    $es->{status};                    # 200, 503, ...
    $es->{headers}{'content-type'};   # lower-case names
    my $ev = $es->next_event(5);      # {event, id, data, json, at} or undef (timeout / EOF)
    $es->closed;                      # 1 once the server ended the stream
    $es->wait_closed(5);              # 1 if it ends within 5 s
    $es->close;

open(PORT, USER, QUERY, %headers): USER undef sends no credentials,
the password is USERpw (JMAPTest's users). HTTP/1.0, so the body comes
unchunked and ends when the server closes. A non-200 answer's body is in
C<body> (and C<json> if it is JSON).

=cut

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64);
use JSON::PP;
use Time::HiRes qw(time);

my $JSON = JSON::PP->new->utf8;

sub open {
    my ($class, $port, $user, $query, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "JMAPEventSource: connect: $!";
    $s->autoflush(1);
    my $req = "GET /jmap/eventsource/" . (defined $query ? "?$query" : '') . " HTTP/1.0\r\n"
            . "Host: 127.0.0.1:$port\r\nAccept: text/event-stream\r\n";
    $req .= "Authorization: Basic " . encode_base64("$user:${user}pw", '') . "\r\n"
        if defined $user;
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $s "$req\r\n";
    my $self = bless { sock => $s, buf => '', eof => 0, headers => {} }, $class;
    my $end = time + 10;
    while ($self->{buf} !~ /\r\n\r\n/ && !$self->{eof} && time < $end) {
        $self->_fill($end - time);
    }
    my ($head, $rest) = split /\r\n\r\n/, $self->{buf}, 2;
    $self->{buf} = $rest // '';
    my @lines = split /\r\n/, $head // '';
    my $sl = shift @lines // '';
    $self->{status} = $sl =~ m{^HTTP/\S+ (\d{3})} ? $1 : 0;
    for (@lines) {
        $self->{headers}{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    if ($self->{status} != 200) {
        $self->wait_closed(10);
        $self->{body} = $self->{buf};
        $self->{json} = eval { $JSON->decode($self->{body}) };
    }
    return $self;
}

sub _fill {
    my ($self, $timeout) = @_;
    return 0 if $self->{eof};
    my $sel = IO::Select->new($self->{sock});
    return 0 unless $sel->can_read($timeout > 0 ? $timeout : 0);
    my $n = sysread($self->{sock}, my $chunk, 65536);
    if (!$n) {
        $self->{eof} = 1;
        $self->{eof_at} = time;
        return 0;
    }
    $self->{buf} .= $chunk;
    return 1;
}

# The next event (comments skipped), or undef after timeout seconds or at EOF.
sub next_event {
    my ($self, $timeout) = @_;
    my $end = time + $timeout;
    for (;;) {
        while ($self->{buf} =~ s/\A(.*?)\n\n//s) {
            my $block = $1;
            my %ev;
            for my $l (split /\n/, $block) {
                next if $l =~ /^:/;
                if ($l =~ /^(event|id|data|retry): ?(.*)$/) {
                    $ev{$1} = exists $ev{$1} && $1 eq 'data' ? "$ev{$1}\n$2" : $2;
                }
            }
            next unless exists $ev{event} || exists $ev{data};
            $ev{at} = time;
            $ev{json} = eval { $JSON->decode($ev{data}) } if defined $ev{data};
            return \%ev;
        }
        my $left = $end - time;
        return undef if $left <= 0 || $self->{eof};
        $self->_fill($left);
    }
}

# The next event named $name (others are skipped and kept in {skipped}).
sub next_named {
    my ($self, $name, $timeout) = @_;
    my $end = time + $timeout;
    while ((my $left = $end - time) > 0) {
        my $ev = $self->next_event($left) or return undef;
        return $ev if ($ev->{event} // '') eq $name;
        push @{ $self->{skipped} }, $ev;
    }
    return undef;
}

sub closed { $_[0]{eof} }

sub wait_closed {
    my ($self, $timeout) = @_;
    my $end = time + $timeout;
    while (!$self->{eof} && time < $end) {
        $self->_fill($end - time);
    }
    return $self->{eof};
}

sub close {
    my ($self) = @_;
    close($self->{sock}) if $self->{sock};
    delete $self->{sock};
}

1;
