#!/usr/bin/perl -i
# SPDX-License-Identifier: MIT
# subst.pl MAP FILE... - replace in place, in FILEs, each key of MAP (lines
# "KEY<TAB>VALUE") by its value, in one pass, longest key first, so no text
# is mapped twice.  How tests/e2e/postfix-recipe.sh and sender-relay.sh turn
# a manual page's commands into commands for the test machine.
use strict;
use warnings;

my %m;
my $map = shift @ARGV;
die "usage: subst.pl MAP FILE...\n" unless defined $map && @ARGV;
open(my $fh, "<", $map) or die "$map: $!\n";
while (<$fh>) { chomp; my ($k, $v) = split /\t/, $_, 2; $m{$k} = $v; }
close $fh;
my $re = join "|", map { quotemeta } sort { length $b <=> length $a } keys %m;
while (<>) { s/($re)/$m{$1}/g; print; }
