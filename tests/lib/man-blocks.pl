#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# man-blocks.pl MARKER PAGE DIR - the literal blocks of a manual page that
# a test runs as written.  Each block marked by a line `.\" MARKER: NAME`
# right before its `.Bd -literal` goes to DIR/NAME with roff's escapes
# undone (\e \& \- \(aq \(dq); DIR/.order lists the names in the page's
# order.  Dies, naming the block, on a marker with no block after it or an
# escape it cannot undo.  Used by tests/e2e/postfix-recipe.sh (recipe-step)
# and tests/e2e/sender-relay.sh (sender-step).
use strict;
use warnings;

my ($marker, $man, $dir) = @ARGV;
die "usage: man-blocks.pl MARKER PAGE DIR\n" unless defined $dir;
open(my $fh, "<", $man) or die "$man: $!\n";
my ($name, $in, $out, @order);
while (my $l = <$fh>) {
	if ($l =~ /^\.\\" \Q$marker\E: (\S+)\s*$/) { $name = $1; next; }
	if (defined $name && !$in) {
		die "$marker $name: no literal block follows\n" unless $l =~ /^\.Bd -literal/;
		$in = 1; push @order, $name;
		open($out, ">", "$dir/$name") or die "$dir/$name: $!\n";
		next;
	}
	if ($in && $l =~ /^\.Ed\b/) { close $out; $in = 0; undef $name; next; }
	next unless $in;
	$l =~ s/\\e/\x01/g; $l =~ s/\\&//g; $l =~ s/\\-/-/g;
	$l =~ s/\\\(aq/\x27/g; $l =~ s/\\\(dq/"/g;
	die "$marker $name: a roff escape this test cannot undo: $l" if $l =~ /\\/;
	$l =~ s/\x01/\\/g;
	print $out $l;
}
open(my $o, ">", "$dir/.order") or die "$dir/.order: $!\n";
print $o join(" ", @order), "\n";
