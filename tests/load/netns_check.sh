#!/usr/bin/env bash
# The multi-machine load run simulated here (docs/load/netns.sh: the Kubernetes Job's args, each
# worker in a network namespace of its own): 3 workers, every handshake ok, the merge exactly
# the sum of the workers, and each worker's traffic on its own link. Needs root (CAP_NET_ADMIN).
# Usage: tests/load/netns_check.sh path/to/iotmock
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$(mktemp -d -t iotmock-netns-check.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
bash "$ROOT/docs/load/netns.sh" --bin "$1" --results "$OUT" --workers 3 \
  --set --duration=4s --set --rate=600 --set --devices=12 --set --concurrency=16
python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
merged = json.loads((out / "merged.json").read_text())
parts = [json.loads((out / f"worker-{i}.summary.json").read_text()) for i in range(3)]
assert merged["workers"] == 3, merged
assert merged["failures"] == {} and all(p["failures"] == {} for p in parts), (merged, parts)
assert merged["ok"] == sum(p["ok"] for p in parts) == merged["samples"], (merged, parts)
assert all(p["ok"] > 0 for p in parts), parts
links = [json.loads(line)[0] for line in (out / "links.jsonl").read_text().splitlines()]
assert len(links) == 3, links
received = [l["stats64"]["rx"]["bytes"] for l in links]
assert all(b > 100_000 for b in received), f"each worker on its own link: {received}"
print(f"PASS  3 workers in their own namespaces: {merged['ok']} handshakes = "
      f"{' + '.join(str(p['ok']) for p in parts)}, none failed; bytes per link {received}")
PY
