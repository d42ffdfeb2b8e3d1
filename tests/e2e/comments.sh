#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# comments.sh - comments that name functions name the right ones.  Every
# identifier a comment of lib/, plugin/ or tools/ writes as a call must exist:
#   name()                      any identifier, e.g. "oa2_token_lock()", "lstat()"
#   oa2_x(args), sao_x(args), cmd_x(args)   a SYNOPSIS line or "fn(tok, arg, err)"
#                               of our own prefixes ("oa2_settings(3)", a man
#                               page reference, is not a call)
# A name exists when the code of lib/, plugin/ or tools/ (comments and strings
# left out) defines it (a function at the start of a line, a one-line
# definition, a #define NAME(...), a function pointer (*NAME)) or, for a name
# without our prefixes, calls it; or when a header under /usr/include declares
# or defines it (libc, jansson, libcurl, OpenSSL, libsasl2); or when it is on
# the short list below of functions that live inside a library's own source.
# Manual page references must resolve too: oa2_x(3) to lib/oa2_x.c, and
# sasl-oauth2...(N) to man/sasl-oauth2....N.  And each "/* name - purpose */"
# heading must name the function it stands before.
# One TAP line per file, the missing names as a diagnostic.  No build needed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"

# Named by comments, defined only inside a library's source, not its headers.
external_internal="lex_save lex_unget_unsave"

cd "$top" || exit 1
files=(lib/*.c lib/*.h plugin/*.c tools/*.c tools/*.h)

# strip MODE FILE: MODE "code" prints the file with comments and string and
# character literals blanked (line breaks kept), "comments" prints only the
# comments, a blank line after each.
strip() {
	STRIP_MODE=$1 perl -0777 -ne '
		my ($code, $com) = ("", "");
		while (/\G(?:("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)|(\/\*.*?\*\/)|(\/\/[^\n]*)|([^"\x27\/]+|\/))/gs) {
			if (defined $1 || defined $2) { $code .= "\"\"" }
			elsif (defined $3 || defined $4) {
				my $c = defined $3 ? $3 : $4;
				$com .= $c . "\n\n";
				(my $nl = $c) =~ s/[^\n]//g;
				$code .= " $nl";
			} else { $code .= $5 }
		}
		print($ENV{STRIP_MODE} eq "code" ? $code : $com);
	' "$2"
}
strip_code() { strip code "$1"; }
strip_comments() { strip comments "$1"; }

# Names the tree defines (any name) and calls (names without our prefixes).
defined=$(for f in "${files[@]}"; do strip_code "$f"; done | perl -ne '
	print "$1\n" if /^([A-Za-z_][A-Za-z0-9_]*)\s*\(/;		# Postfix style: name at column 0
	print "$1\n" if /^[A-Za-z].*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\([^;]*\)\s*\{/;	# one-line definition
	print "$1\n" if /^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)/;
	print "$1\n" while /\(\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/g;	# function pointers
' | sort -u)
called=$(for f in "${files[@]}"; do strip_code "$f"; done |
	grep -oE '\b[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' | tr -d '( \t' | sort -u)

incdirs=(/usr/include)

# exists NAME: 0 when the name is known
exists() {
	local n=$1
	grep -qxF -- "$n" <<<"$defined" && return 0
	case $n in
	oa2_* | sao_* | cmd_*) ;;	# ours: only a definition counts
	*)
		grep -qxF -- "$n" <<<"$called" && return 0
		for e in $external_internal; do [ "$e" = "$n" ] && return 0; done
		grep -rqE --include='*.h' -- "(^|[^A-Za-z0-9_])$n[[:space:]]*\(|define[[:space:]]+$n\b" \
			"${incdirs[@]}" 2>/dev/null && return 0 ;;
	esac
	return 1
}

# heads FILE: "NAME FUNC" for each "/* NAME - purpose */" heading that stands
# before a definition or declaration of the function FUNC (Postfix's
# convention: the heading names that function).
heads() {
	perl -0777 -ne '
		while (/\/\*\s*([A-Za-z_]\w*)\s+-\s.*?\*\/[ \t]*\n((?:[^\n]*\n){1,3})/gs) {
			my ($n, $next) = ($1, $2);
			my ($decl) = $next =~ /^([^;{(]*\()/s or next;
			my $f = $decl =~ /\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\($/ ? $1 :
			    ($decl =~ /([A-Za-z_]\w*)\s*\($/ ? $1 : "");
			print "$n $f\n" if $f ne "";
		}
	' "$1"
}

# Every identifier of the code, for names of ours a comment writes without
# parentheses ("the lock oa2_token_lock takes").
idents=$(for f in "${files[@]}"; do strip_code "$f"; done |
	grep -oE '\b[A-Za-z_][A-Za-z0-9_]*\b' | sort -u)

total=0
for f in "${files[@]}"; do
	comments=$(strip_comments "$f")
	# name() and our name(args); a "*" in a name is a glob (oa2_grant_*_form())
	names=$(perl -ne '
		print "$1\n" while /(?<![A-Za-z0-9_.>*-])([A-Za-z_*][A-Za-z0-9_*]*)\(\)/g;
		print "$1\n" while /(?<![A-Za-z0-9_.>*-])((?:oa2|sao|cmd)_[a-z0-9_]+)\((?![0-9])/g;
	' <<<"$comments" | sort -u)
	missing=()
	for n in $names; do
		total=$((total + 1))
		case $n in
		*'*'*)
			re="^${n//\*/[A-Za-z0-9_]*}\$"
			grep -qE -- "$re" <<<"$defined" || missing+=("$n") ;;
		*) exists "$n" || missing+=("$n") ;;
		esac
	done
	# our names without parentheses: an identifier of the code or a module
	for n in $(grep -oE '(^|[^A-Za-z0-9_])(oa2|sao|cmd)_[a-z0-9_]*[a-z0-9]\b' <<<"$comments" |
		sed 's/^[^a-z]//' | sort -u); do
		total=$((total + 1))
		grep -qxF -- "$n" <<<"$idents" && continue
		[ -e "lib/$n.c" ] || [ -e "lib/$n.h" ] || [ -e "plugin/$n.c" ] || missing+=("$n")
	done
	# manual page references: oa2_x(3) is a module, sasl-oauth2...(N) a page
	for r in $(grep -oE '(^|[^A-Za-z0-9_.-])(oa2_[a-z0-9_]+\(3h?\)|sasl-oauth2[a-z0-9.-]*\([1-8]\))' <<<"$comments" |
		sed 's/^[^a-z]//' | sort -u); do
		total=$((total + 1))
		n=${r%%(*}; sec=${r#*(}; sec=${sec%)}
		case $n in
		oa2_*) [ -e "lib/$n.c" ] || [ -e "lib/$n.h" ] || missing+=("$r") ;;
		*) [ -e "man/$n.$sec" ] || missing+=("$r") ;;
		esac
	done
	# headings that name another function than the one they stand before
	while read -r n fn; do
		[ -n "$n" ] || continue
		total=$((total + 1))
		[ "$n" = "$fn" ] || missing+=("$n(heading of $fn)")
	done < <(heads "$f")
	got=$( ((${#missing[@]})) && printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
	is "${got% }" "" "$f: every function its comments name exists"
done
echo "# $total names checked in ${#files[@]} files"
done_testing
