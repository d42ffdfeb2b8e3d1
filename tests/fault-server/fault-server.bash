# SPDX-License-Identifier: MIT
# Shell helpers for the fault server (sourced by tests/e2e/*.sh, bench/*.sh).
#   fs_start STATE_DIR ARGS...  start fault-server.py --state STATE_DIR ARGS...
#                               in the background; wait for its ports; set
#                               FS_PID and FS_PORT_{HTTPS,WRONGNAME,UNKNOWNCA,
#                               NOHANDSHAKE,BACKLOG}; return 1 if it did not come up
#   fs_stop                     stop it (idempotent)
#   fs_url FLAGS [PORT]         https://127.0.0.1:PORT/f/FLAGS/token
#   fs_grant CAFILE             a new refresh token of the local token server
#   fs_switch CAFILE MODE       what /f/switch/token does from now on
#   fs_total CAFILE             token requests served so far
FS_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FS_PID=

fs_start() {
	local st=$1 i
	shift
	mkdir -p "$st"
	rm -f "$st/ports.json"
	python3 "$FS_HOME/fault-server.py" --state "$st" "$@" >"$st/server.out" 2>&1 &
	FS_PID=$!
	for i in $(seq 100); do
		[ -f "$st/ports.json" ] && break
		kill -0 "$FS_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	[ -f "$st/ports.json" ] || return 1
	FS_PORT_HTTPS=$(jq -r .https "$st/ports.json")
	FS_PORT_WRONGNAME=$(jq -r '.wrongname // empty' "$st/ports.json")
	FS_PORT_UNKNOWNCA=$(jq -r '.unknownca // empty' "$st/ports.json")
	FS_PORT_NOHANDSHAKE=$(jq -r .nohandshake "$st/ports.json")
	FS_PORT_BACKLOG=$(jq -r .backlog "$st/ports.json")
	FS_STATE=$st
}

fs_stop() {
	if [ -n "$FS_PID" ]; then
		kill "$FS_PID" 2>/dev/null
		wait "$FS_PID" 2>/dev/null
		FS_PID=
	fi
}

fs_url() { echo "https://127.0.0.1:${2:-$FS_PORT_HTTPS}/f/$1/token"; }

fs_grant() {
	curl -s --cacert "$1" -X POST "https://127.0.0.1:$FS_PORT_HTTPS/__control/grant" |
		jq -r .refresh_token
}

fs_switch() {
	curl -s --cacert "$1" -X POST --data-binary "$2" \
		"https://127.0.0.1:$FS_PORT_HTTPS/__control/switch" >/dev/null
}

fs_total() {
	curl -s --cacert "$1" "https://127.0.0.1:$FS_PORT_HTTPS/__stats" | jq -r .total
}
