#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# server mode) against `npm start`, once per protocol revision the server
# serves: 2026-07-28 (stateless, per-request _meta) and 2025-11-25 (the
# initialize handshake of 2025-era clients), each as
# `--suite all --spec-version REVISION` against the same server.
#
# The suite needs Node 22 or newer; it and a Node 22 binary come from the npm
# registry, pinned by conformance/package-lock.json, into conformance/node_modules
# (git-ignored). The project itself keeps running on the system Node.
#
# Each revision is judged against its own baseline,
# conformance/expected-failures-REVISION.yml (the suite's format cannot key an
# entry by revision). Exit status: 0 when every check of both runs passes or is
# listed there; non-zero on an unexpected failure (the suite counts a WARNING
# as one), on a listed check that now passes (the list is stale), or on a
# set-up error. Both revisions run even when the first one fails. Then the
# suite's authorization-server scenarios (`conformance authorization`: the
# metadata, and a whole authorization code grant, approved in Chromium by
# conformance/approve.mjs) run against the same server.
# Per-scenario checks are saved in conformance/results/REVISION/.
#
#   bash conformance/run.sh                  # builds dist/ first
#   CONFORMANCE_NO_BUILD=1 bash conformance/run.sh   # dist/ is already fresh
#   CONFORMANCE_VERBOSE=1 bash conformance/run.sh    # the suite prints each check as JSON
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

# Created here, not by the background job's redirection, so the first poll below never races it.
: >"$work/server.out"
: >"$work/server.err"
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

# 3. The suite: each revision's scenarios, judged against that revision's baseline.
revisions=(2026-07-28 2025-11-25)
suite_timeout=300 # seconds per revision; a scenario has 30 s of its own
verbose=()
if [[ ${CONFORMANCE_VERBOSE:-0} == 1 ]]; then verbose=(--verbose); fi
rm -rf "$results"
status=0
failed=()
for revision in "${revisions[@]}"; do
  baseline=$here/expected-failures-$revision.yml
  if [[ ! -f $baseline ]]; then
    echo "conformance: $baseline is missing" >&2
    exit 1
  fi
  echo
  echo "conformance: ===== protocol revision $revision ====="
  rev_status=0
  timeout -k 10 "$suite_timeout" "$node22" "$suite" server --url "$url" --suite all --spec-version "$revision" \
    --expected-failures "$baseline" -o "$results/$revision" "${verbose[@]}" || rev_status=$?
  if ((rev_status == 124)); then
    echo "conformance: the $revision run did not finish within $suite_timeout s" >&2
  fi
  if ((rev_status != 0)); then
    failed+=("$revision (exit $rev_status)")
    status=$rev_status
  fi
done

# 4. The authorization server's scenarios (`conformance authorization`): its
# metadata, and a whole authorization code grant with PKCE and the resource
# parameter, for a client registered here, whose consent conformance/approve.mjs
# gives in Chromium.
echo
echo "conformance: ===== authorization server ====="
issuer=${url%/mcp}
callback_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
client_id=$(curl -sf -X POST "$issuer/oauth/register" -H 'content-type: application/json' \
  -d "{\"client_name\":\"Conformance\",\"redirect_uris\":[\"http://127.0.0.1:$callback_port/callback\"],\"token_endpoint_auth_method\":\"none\",\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}" |
  node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).client_id))')
auth_out=$work/authorization.out
auth_status=0
timeout -k 10 120 "$node22" "$suite" authorization --url "$issuer" --client-id "$client_id" --resource "$url" -p "$callback_port" \
  -o "$results/authorization" "${verbose[@]}" >"$auth_out" 2>&1 &
auth_pid=$!
authorize=
for _ in $(seq 300); do # up to 30 s
  authorize=$(grep -m1 -o "$issuer/oauth/authorize?[^ ]*" "$auth_out" || true)
  [[ -n $authorize ]] && break
  kill -0 "$auth_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -n $authorize ]]; then
  node "$here/approve.mjs" "$authorize" || auth_status=$?
else
  echo "conformance: the authorization scenarios printed no authorization URL" >&2
  auth_status=1
fi
wait "$auth_pid" || auth_status=$?
cat "$auth_out"
# Its summary line decides: every check passed, none failed or warned.
if ! grep -qE '^Total: [1-9][0-9]* passed, 0 failed$' "$auth_out" && ((auth_status == 0)); then auth_status=1; fi
if ((auth_status != 0)); then
  failed+=("authorization server (exit $auth_status)")
  status=$auth_status
fi

stop_server
echo
if ((status != 0)); then
  printf -v failed_list '%s, ' "${failed[@]}"
  echo "conformance: FAILED for ${failed_list%, }; per-scenario checks are in $results/REVISION/, server log follows" >&2
  tail -n 50 "$work/server.err" >&2
else
  echo "conformance: passed for ${revisions[*]} (every failing check is in its revision's baseline) and for the authorization server"
fi
exit "$status"
