#!/usr/bin/env python3
"""Shares of a broker profile by component, from `perf report` text on standard input.

    perf record -F 1999 -g -p "$(pgrep -f -- '--state-dir X')" -o perf.data -- sleep 9 &
    python3 ../shared/bench/mqttbench.py handshake ... --mode mqtt -c 8 --duration 8 --tls 1.2
    perf report -i perf.data --no-children --sort dso,symbol --stdio -g none | python3 perf_shares.py

Kernel is every `[k]` frame; crypto is aws-lc's primitives; the allocator includes memmove.
"""
import re
import sys

RULES = [
    ("crypto (aws-lc)", r"aws_lc|ecp_nistz|curve25519|x25519|sha\d+_block|gcm_|bn_|beeu|bignum|aes_|p256"),
    ("allocator", r"malloc|free|_int_|realloc|memmove|memcpy|memset|unlink_chunk|consolidate"),
    ("rustls", r"rustls|webpki"),
    ("tokio", r"tokio|mio::"),
    ("iotmock", r"iotmock"),
]
shares = {name: 0.0 for name, _ in RULES}
shares.update({"kernel": 0.0, "other": 0.0})
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == "k" or dso.startswith("[kernel"):
        shares["kernel"] += pct
        continue
    name = next((n for n, p in RULES if re.search(p, sym)), "other")
    shares[name] += pct
print(" ".join(f"{k} {v:.1f}%" for k, v in shares.items()))
