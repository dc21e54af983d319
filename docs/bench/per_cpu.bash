# Shared by the side-by-side scripts here (sourced): free ports, a process's CPU time, and
# `measure`, which runs `iotmock load` and writes one JSON line per run to $OUT with the
# mock's CPU seconds and the work done per broker CPU-second. Needs BIN and OUT set.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
TICKS=$(getconf CLK_TCK)

measure() { # LABEL ROUND PID SUBCOMMAND ARGS...
  local label="$1" round="$2" pid="$3" before after json; shift 3
  before=$(cpu "$pid")
  json=$("$BIN" load "$@" --json)
  after=$(cpu "$pid")
  python3 - "$label" "$round" "$json" "$before" "$after" "$TICKS" >> "$OUT" <<'PY'
import json, sys
label, rnd, r, before, after, ticks = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), *map(float, sys.argv[4:7])
cpu_s = (after - before) / ticks
print(json.dumps({"label": label, "round": rnd, "ok": r["ok"], "per_second": r["per_second"],
                  "broker_cpu_s": round(cpu_s, 2),
                  "per_broker_cpu_s": round(r["ok"] / cpu_s) if cpu_s else None,
                  "p50_ms": r["latency_ms"]["p50"], "p99_ms": r["latency_ms"]["p99"], "failures": r["failures"]}))
PY
  tail -n 1 "$OUT"
}
