#!/bin/sh
# Run the reliability tests (real Mosquitto processes) and print the README's
# Reliability table from the rows they write.
set -eu
cd "$(dirname "$0")/.."
dir=target/tmp/reliability
rm -rf "$dir"
TWIN_TEST_MOSQUITTO=1 cargo test --workspace --test it -- reliability >&2
python3 - "$dir" <<'PY'
import json, pathlib, sys
rows = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
pair = lambda d: f"{d['reported']} / {d['counted']}" + ("" if d["reported"] == d["counted"] else " **MISMATCH**")
print("| fault | QoS | sent | received (reported / counted) | lost (reported / counted) | duplicated (reported / counted) | dropped at source | re-sent | recovery |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    rec = "" if r["recovery_s"] is None else f"{r['recovery_s']:.2f} s"
    print(f"| {r['fault']} | {r['qos']} | {r['sent']} | {pair(r['received'])} | {pair(r['lost'])} | {pair(r['duplicated'])} | {r['dropped_at_source']} | {r['retransmitted']} | {rec} |")
PY
