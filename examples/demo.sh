#!/usr/bin/env bash
# demo.sh BUILDDIR — the README's demo: profile a running C program over HTTP, as with Go.
#
# Starts BUILDDIR/demo (which serves /debug/pprof/ on 127.0.0.1:6060), waits for the port,
# fetches a 5-second CPU profile into BUILDDIR/demo-cpu.pb.gz with curl, prints its top 10 and
# stops the program. Exits non-zero with a message if any step fails. DEMO_PORT=n uses another
# port (the tests do, so as not to depend on 6060 being free).
set -u

build=${1:-build}
port=${DEMO_PORT:-6060}
demo="$build/demo"
out="$build/demo-cpu.pb.gz"
url="http://127.0.0.1:$port/debug/pprof"
pid=

die() {
	echo "demo.sh: $*" >&2
	exit 1
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[ -n "${log:-}" ] && rm -f "$log"
}
trap cleanup EXIT

[ -x "$demo" ] || die "$demo not found: build first (make)"
command -v curl >/dev/null || die "curl not found (scripts/deps.sh installs it)"
command -v go >/dev/null || die "go not found (scripts/deps.sh installs golang-go)"

# Something already answering on the port would be profiled instead of our demo.
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	die "port $port is busy: another process listens on 127.0.0.1:$port; stop it or run with DEMO_PORT=<free port>"
fi

log=$(mktemp)
"$demo" --addr "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!

for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; pid=; die "the demo exited before serving"; }
	curl -sf -o /dev/null "$url/" && break
	sleep 0.1
done
curl -sf -o /dev/null "$url/" || die "the demo does not answer on $url/"
cat "$log"

echo "demo.sh: fetching a 5-second CPU profile from $url/profile?seconds=5"
curl -sS --fail-with-body -o "$out" "$url/profile?seconds=5" ||
	die "fetching the profile failed: $(head -c 300 "$out" 2>/dev/null)"
[ -s "$out" ] || die "the profile $out is empty"
echo "demo.sh: saved $out"

# The top 10 by flat CPU, by our own command (go tool pprof -top prints the same text).
cprof=$(dirname "$demo")/cprof
"$cprof" -top -nodecount=10 "$out" || die "cprof could not read $out"

kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
echo "demo.sh: done; explore further with: $cprof -peek=. $out  (or go tool pprof -http=: $out)"
