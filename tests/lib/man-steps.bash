# SPDX-License-Identifier: MIT
# Shared by the tests that run a manual page's blocks as written
# (tests/e2e/postfix-recipe.sh: recipe-step, sender-relay.sh: sender-step,
# sender-relay-app.sh: its steps run by man_step);
# sourced after tap.sh, with $top, $T and $MAN set and $T/steps, $T/run made.
#   man_steps MARKER WANT TEXT  the blocks marked `.\" MARKER: NAME` in $MAN
#                     into $T/steps/NAME (tests/lib/man-blocks.pl); one TAP
#                     line TEXT: their names are WANT, in the page's order;
#                     1 (the extractor's errors as comments) if not
#   subst FILE...     the table $T/map (FROM<tab>TO, one a line) applied in
#                     place, in one pass: no text is mapped twice
#   man_step NAME [STDIN]  step NAME, substituted, as $T/run/NAME.sh, run by
#                     bash -e -o pipefail (in $STEP_DIR and after sourcing
#                     $STEP_PRELUDE when they are set; STDIN /dev/null by
#                     default); its output in $T/run/NAME.out; its status

man_steps() {
	local got
	perl "$top/tests/lib/man-blocks.pl" "$1" "$MAN" "$T/steps" 2>"$T/steps.err"
	got=$(cat "$T/steps/.order" 2>/dev/null)
	is "$got" "$2" "$3"
	[ "$got" = "$2" ] && return 0
	sed 's/^/# /' "$T/steps.err"
	return 1
}

subst() { perl -i "$top/tests/lib/subst.pl" "$T/map" "$@"; }

man_step() {
	local name=$1 in=${2:-/dev/null}
	cp "$T/steps/$name" "$T/run/$name.sh"
	subst "$T/run/$name.sh"
	(cd "${STEP_DIR:-.}" && bash -e -o pipefail -c "${STEP_PRELUDE:+. '$STEP_PRELUDE'
}$(cat "$T/run/$name.sh")") <"$in" >"$T/run/$name.out" 2>&1
}
