#!/usr/bin/env bash
# Runs the README's first command exactly as written (the first command of
# the first `sh` block under "## The two commands"), waits until the server
# answers /readyz, then stops it with SIGTERM and checks it exits cleanly.
# `.ci/run` calls this so the newcomer's first command cannot regress.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

command="$(awk '
  /^## The two commands/ { section = 1; next }
  section && /^```sh/    { block = 1; next }
  block && /^```/        { exit }
  block && !/^#/ && NF   { print; exit }
' README.md)"
if [ -z "$command" ]; then
  echo "first-run: no command found in README.md under '## The two commands'" >&2
  exit 1
fi
echo "first-run: $command"

readyz="http://127.0.0.1:8080/readyz"
if curl -fsS -o /dev/null --max-time 2 "$readyz" 2>/dev/null; then
  echo "first-run: something already answers on $readyz; stop it first" >&2
  exit 1
fi

log="$(mktemp)"
setsid bash -c "$command" >"$log" 2>&1 &
leader=$!
stop() {
  kill -TERM -- "-$leader" 2>/dev/null || true
}
trap 'stop; rm -f "$log"' EXIT

# The first command builds the plugins and the server (the development build
# the test suite then reuses): minutes on a fresh machine. Wait for the state (ready, or the command gone), with an
# upper bound so a hang fails the run instead of stalling it.
deadline=$((SECONDS + 45 * 60))
until curl -fsS -o /dev/null --max-time 2 "$readyz" 2>/dev/null; do
  if ! kill -0 "$leader" 2>/dev/null; then
    echo "first-run: the command exited before /readyz answered; its output:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "first-run: /readyz did not answer within 45 minutes; output:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  sleep 1
done
echo "first-run: /readyz answered"

stop
for _ in $(seq 1 60); do
  kill -0 "$leader" 2>/dev/null || break
  sleep 1
done
if kill -0 "$leader" 2>/dev/null; then
  echo "first-run: the server did not stop within 60 s of SIGTERM" >&2
  kill -KILL -- "-$leader" 2>/dev/null || true
  exit 1
fi
echo "first-run: stopped"
