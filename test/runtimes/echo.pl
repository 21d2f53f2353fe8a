# Perl: a TCP server and client on 127.0.0.1 in one process, driven by
# select() (IO::Select), plus a pipe to itself. Each step sends k and must
# read k+1 back, and passes k through the pipe; anything else is CORRUPT.
# Prints "P k". Usage: perl echo.pl N
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
$| = 1;
my $n = shift // 60;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 4, ReuseAddr => 1) or die "listen: $!";
my $client = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $server->sockport) or die "connect: $!";
my $conn = $server->accept or die "accept: $!";
pipe(my $r, my $w) or die "pipe: $!";
$w->autoflush(1);
for my $k (1 .. $n) {
  print $client "$k\n";
  my $sel = IO::Select->new($conn);
  $sel->can_read(5) or do { print "CORRUPT the server saw nothing for $k\n"; exit 3 };
  my $line = <$conn>;
  print $conn ($line + 1), "\n";
  IO::Select->new($client)->can_read(5) or do { print "CORRUPT no answer for $k\n"; exit 3 };
  my $got = <$client>;
  if (!defined $got || $got != $k + 1) { print "CORRUPT got ", ($got // 'nothing'), " for $k\n"; exit 3 }
  print $w "$k\n";
  my $back = <$r>;
  if ($back != $k) { print "CORRUPT pipe gave $back for $k\n"; exit 3 }
  print "P $k\n";
  select(undef, undef, undef, 0.05);
}
print "DONE $n\n";
