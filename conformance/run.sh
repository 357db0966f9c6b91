#!/usr/bin/env bash
# Runs the official MCP conformance suite (server mode) against `npm start`.
#
# The suite needs Node 22 or newer; it and a Node 22 binary come from the npm
# registry, pinned by conformance/package-lock.json, into conformance/node_modules
# (git-ignored). The project itself keeps running on the system Node.
#
# Exit status: 0 when every scenario passes or is listed in
# conformance/expected-failures.yml; non-zero on an unexpected failure, on a
# listed scenario that now passes (the list is stale), or on a set-up error.
#
#   bash conformance/run.sh                  # builds dist/ first
#   CONFORMANCE_NO_BUILD=1 bash conformance/run.sh   # dist/ is already fresh
set -euo pipefail
cd "$(dirname "$0")/.."

here=conformance
tools=$here/node_modules
node22=$tools/.bin/node
suite=$tools/@modelcontextprotocol/conformance/dist/index.js
results=$here/results

# 1. Tools: install from the lockfile unless this exact lockfile is already installed.
stamp=$tools/.installed-from-lock
lock_sum=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [[ ! -x $node22 || ! -f $suite || "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]]; then
  echo "conformance: installing the pinned suite and Node 22 (npm ci --prefix $here)"
  # The `node` package fetches its platform binary in an install script, allowed in conformance/package.json.
  timeout 300 npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >"$stamp"
fi
node_major=$("$node22" -p 'process.versions.node.split(".")[0]')
if ((node_major < 22)); then
  echo "conformance: $node22 is Node $node_major, the suite needs 22 or newer" >&2
  exit 1
fi

# 2. The server, exactly as `npm start` runs it, on a free port and a throw-away database.
if [[ ${CONFORMANCE_NO_BUILD:-0} != 1 ]]; then
  timeout 300 npm run --silent build
fi
work=$(mktemp -d)
server_pid=
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ONBOARD_PORT=0 ONBOARD_DB="$work/onboard.db" ONBOARD_SIGNUPS_PER_HOUR=0 LOG_LEVEL=${LOG_LEVEL:-warn} \
  node dist/src/cli.js serve >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

url=
for _ in $(seq 300); do # up to 30 s
  url=$(sed -n 's/^ *MCP: \(http[^ ]*\/mcp\)$/\1/p' "$work/server.out" | head -n1)
  [[ -n $url ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "conformance: the server did not print its MCP URL" >&2
  cat "$work/server.out" "$work/server.err" >&2
  exit 1
fi
echo "conformance: server at $url"

# 3. The suite: every server scenario, judged against the committed baseline.
rm -rf "$results"
status=0
timeout 600 "$node22" "$suite" server --url "$url" --suite all \
  --expected-failures "$here/expected-failures.yml" -o "$results" || status=$?

stop_server
if ((status == 124)); then
  echo "conformance: the suite did not finish within 600 s" >&2
fi
if ((status != 0)); then
  echo "conformance: FAILED (exit $status); per-scenario checks are in $results/, server log follows" >&2
  tail -n 50 "$work/server.err" >&2
fi
exit "$status"
