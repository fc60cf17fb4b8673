#!/bin/sh
# The same fleet with a session per device and behind gateways, side by side on the same
# broker in the same run: day-1000 as shipped (1,000 sessions), then day-1000 with each
# room's nine devices behind a room hub and each bed's two probes behind a bed hub (150
# gateway sessions; the file is made from day-1000.toml here, so both are the same
# fleet, seed and readings). Each runs for SIM (default 24h) at speed "max" on a default
# Mosquitto started on a free loopback port, then on the embedded broker; the script
# prints each run's figures and the ratio of their wall times.
#
# Usage: benches/sessions-vs-gateways.sh [SIM]    (from the repository root, after
#        cargo build --release -p twin-tui)
set -eu
SIM=${1:-24h}
TWIN=${TWIN:-target/release/twin}
OUT=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mosquitto -p "$PORT" >"$OUT/mosquitto.log" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; rm -rf "$OUT"' EXIT
python3 - scenarios/examples/day-1000.toml "$OUT/day-1000-hubs.toml" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
groups = open(src).read().split("[[devices]]")
out = [groups[0].replace('name = "day-1000"', 'name = "day-1000-hubs"')]
for g in groups[1:]:
    hub = "bed-hub-{n}" if "soil-" in g else "hub-{n}"
    out.append(g.rstrip() + f'\ngateway = "{hub}"\ndevices_per_gateway = 1\n\n')
open(dst, "w").write("[[devices]]".join(out))
PY
python3 - "$PORT" <<'PY'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("mosquitto did not start")
PY
for broker in "--broker mqtt://127.0.0.1:$PORT" ""; do
    for f in scenarios/examples/day-1000.toml "$OUT/day-1000-hubs.toml"; do
        name=$(basename "$f" .toml)
        # shellcheck disable=SC2086
        "$TWIN" run "$f" --duration "$SIM" $broker --quiet --json "$OUT/$name.json"
    done
    python3 - "$OUT" "${broker:-embedded}" <<'PY'
import json, sys
out, broker = sys.argv[1], sys.argv[2]
walls = []
for name in ["day-1000", "day-1000-hubs"]:
    r = json.load(open(f"{out}/{name}.json"))
    m, f, l = r["messages"], r["flow"], r["latency_ms"]
    walls.append(r["wall_seconds"])
    print(f"{broker:>30} {name:<14} sessions {r['sessions']['opened']:>5}  sent {m['sent']}"
          f"  lost {m['lost']}  dropped {m['dropped_at_source']}  alerts {len(r['alerts'])}"
          f"  wall {r['wall_seconds']:.1f} s  {m['received'] / r['wall_seconds']:.0f} msg/s"
          f"  p50 {l['p50']:.1f} ms  p99 {l['p99']:.1f} ms")
print(f"{broker:>30} gateways / own sessions, wall time: {walls[1] / walls[0]:.2f}")
PY
done
