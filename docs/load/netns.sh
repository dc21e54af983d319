#!/usr/bin/env bash
# The Kubernetes Indexed Job of k8s-load-job.yaml, run on one Linux machine as separate machines
# would run it: the mock in a network namespace of its own (the `iotmock` Service: 10.77.0.1,
# ports 4580 and 8883), and each worker in its own namespace with its own address (10.77.0.<10+i>)
# on a veth pair to the mock's bridge. Each worker runs the manifest's container `args` and env
# as they are (`iotmock load ...` with JOB_COMPLETION_INDEX and IOTMOCK_LOAD_SHARDS; the host
# name `iotmock` resolves to the mock through /etc/netns/<ns>/hosts), writing to a results
# directory instead of the volume; then the merge pod's command adds their logs up. The
# namespaces, links and hosts files are removed afterwards, whatever happened.
#
# Usage (root, or CAP_NET_ADMIN + CAP_SYS_ADMIN):
#   docs/load/netns.sh [--bin PATH] [--results DIR] [--workers N] [--manifest FILE] [--set --flag=value]...
# --workers defaults to the manifest's IOTMOCK_LOAD_SHARDS; each --set replaces the manifest's
# argument of that flag (or adds it), e.g. --set --duration=5s --set --rate=1000.
# The merged summary is DIR/merged.json, each worker's DIR/worker-<i>.summary.json, and what each
# worker's link carried DIR/links.jsonl (`ip -s -j link` of the mock's end, one line a worker).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="$HERE/../../target/release/iotmock"
RESULTS=""
MANIFEST="$HERE/k8s-load-job.yaml"
WORKERS=""
SETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --results) RESULTS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --manifest) MANIFEST="$2"; shift 2 ;;
    --set) SETS+=("$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
[ -x "$BIN" ] || { echo "no iotmock binary at $BIN (cargo build --release, or --bin)" >&2; exit 2; }
RESULTS="${RESULTS:-$(mktemp -d -t iotmock-netns.XXXXXX)}"
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
# The merge reads every worker log in the directory: an earlier run's would be added in.
if compgen -G "$RESULTS/worker-*" > /dev/null; then
  echo "$RESULTS already holds worker results: give an empty or new --results directory" >&2; exit 2
fi

# The worker container's args and its shard count, read from the manifest.
mapfile -t ARGS < <(awk '/^ *args:/{on=1; next} on && /^ *- /{sub(/^ *- */, ""); sub(/ +#.*/, ""); print; next} on{exit}' "$MANIFEST")
SHARDS="$(awk '/name: IOTMOCK_LOAD_SHARDS/{getline; gsub(/[^0-9]/, ""); print; exit}' "$MANIFEST")"
WORKERS="${WORKERS:-$SHARDS}"
[ "${#ARGS[@]}" -gt 0 ] && [ -n "$WORKERS" ] || { echo "no worker args or shard count in $MANIFEST" >&2; exit 2; }
# One address each in 10.77.0.10-209.
[[ "$WORKERS" =~ ^[0-9]+$ ]] && [ "$WORKERS" -ge 1 ] && [ "$WORKERS" -le 200 ] \
  || { echo "--workers must be 1 to 200, not $WORKERS" >&2; exit 2; }
for s in "${SETS[@]}"; do
  flag="${s%%=*}" replaced=0
  for i in "${!ARGS[@]}"; do
    if [ "${ARGS[$i]%%=*}" = "$flag" ]; then ARGS[$i]="$s"; replaced=1; fi
  done
  [ $replaced = 1 ] || ARGS+=("$s")
done
for i in "${!ARGS[@]}"; do
  [ "${ARGS[$i]%%=*}" = "--out" ] && ARGS[$i]="--out=$RESULTS"
done

TAG="iotm$$"
MOCK_NS="$TAG-mock"
MOCK=""
STATE="$(mktemp -d -t iotmock-netns-state.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}" $MOCK; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$STATE"
  for ns in $(ip netns list | awk '{print $1}' | grep "^$TAG-"); do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

ip netns add "$MOCK_NS"
ip -n "$MOCK_NS" link set lo up
ip -n "$MOCK_NS" link add br0 type bridge
ip -n "$MOCK_NS" addr add 10.77.0.1/24 dev br0
ip -n "$MOCK_NS" link set br0 up
for i in $(seq 0 $((WORKERS - 1))); do
  ns="$TAG-w$i"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "iotm$i" netns "$ns" type veth peer name "p$i" netns "$MOCK_NS"
  ip -n "$ns" link set "iotm$i" name eth0
  ip -n "$ns" addr add "10.77.0.$((10 + i))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$MOCK_NS" link set "p$i" master br0 up
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n10.77.0.1 iotmock\n' > "/etc/netns/$ns/hosts"
done

# The mock, as the `iotmock` Service's pod runs it.
IOTMOCK_ENDPOINT_HOST=iotmock ip netns exec "$MOCK_NS" "$BIN" serve \
  --api-addr 10.77.0.1:4580 --mqtt-addr 10.77.0.1:8883 --port-443-addr off --https-addr off \
  --state-dir "$STATE" \
  > "$RESULTS/mock.log" 2>&1 &
MOCK=$!
ready=0
for _ in $(seq 200); do
  if ip netns exec "$TAG-w0" "$BIN" health --endpoint-url http://iotmock:4580 > /dev/null 2>&1; then ready=1; break; fi
  kill -0 "$MOCK" 2>/dev/null || break
  sleep 0.1
done
[ $ready = 1 ] || { tail -n 20 "$RESULTS/mock.log"; echo "FAILED: the mock did not become healthy" >&2; exit 1; }

echo "workers: $WORKERS, each: iotmock ${ARGS[*]}"
for i in $(seq 0 $((WORKERS - 1))); do
  ip netns exec "$TAG-w$i" env JOB_COMPLETION_INDEX="$i" IOTMOCK_LOAD_SHARDS="$WORKERS" \
    "$BIN" "${ARGS[@]}" --json "$RESULTS/worker-$i.summary.json" > "$RESULTS/worker-$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "worker $i exited with $?"; tail -n 5 "$RESULTS/worker-$i.log"; failed=1; }
done
# What each worker's link to the mock carried (bytes the mock received from it, and sent).
for i in $(seq 0 $((WORKERS - 1))); do
  ip -n "$MOCK_NS" -s -j link show "p$i"
done > "$RESULTS/links.jsonl"
# The merge pod's command.
"$BIN" load merge "$RESULTS" --report "$RESULTS/report" --json "$RESULTS/merged.json"
echo "results: $RESULTS (merged.json, report/report.html, worker-<i>.json)"
exit $failed
