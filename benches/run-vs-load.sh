#!/bin/sh
# End-to-end messages per second of `twin run` at speed "max" (the twin path: sim, device
# sessions, broker, ingest, analytics, flow window), side by side with `twin load pub -q 1`
# (the lean load engine) on the same Mosquitto in the same run, and their ratio.
#
# Both send QoS 1 from 1,000 sessions through one default Mosquitto on a free loopback
# port: `twin run` the day-1000 fleet for SIM (default 2h: about 120,000 messages) as fast
# as its flow window lets it, then `twin load pub` the same number of messages (120 a
# session, 90-byte payloads like the twins') offered at RATE, by default the rate `twin
# run` achieved. The load engine is open-loop (it measures the broker), so past what the
# broker queues for its counting subscriber it loses messages; `twin run` holds instead.
#
# Usage: benches/run-vs-load.sh [SIM] [RATE]    (from the repository root, after
#        cargo build --release -p twin-tui)
set -eu
SIM=${1:-2h}
RATE=${2:-}
TWIN=${TWIN:-target/release/twin}
OUT=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mosquitto -p "$PORT" >"$OUT/mosquitto.log" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; rm -rf "$OUT"' EXIT
python3 - "$PORT" <<'EOF'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("mosquitto did not start")
EOF
URL="mqtt://127.0.0.1:$PORT"

"$TWIN" run scenarios/examples/day-1000.toml --duration "$SIM" --broker "$URL" \
    --quiet --json "$OUT/run.json"
MSGS=$(python3 -c "import json; print(json.load(open('$OUT/run.json'))['messages']['sent'] // 1000)")
if [ -z "$RATE" ]; then
    RATE=$(python3 -c "
import json; r = json.load(open('$OUT/run.json'))
print(int(r['messages']['received'] * r['flow']['speed_achieved'] / r['sim_seconds']))")
fi
"$TWIN" load pub --broker "$URL" -c 1000 -q 1 -s 90 --rate "$RATE" --count "$MSGS" \
    --duration 10m --quiet --json "$OUT/load.json"

python3 - "$OUT/run.json" "$OUT/load.json" <<'EOF'
import json, sys
run, load = (json.load(open(p)) for p in sys.argv[1:3])
rm, lm = run["messages"], load["messages"]
# The sim's own span (first step to last) and the load's publishing span.
run_s = run["sim_seconds"] / run["flow"]["speed_achieved"]
run_rate = rm["received"] / run_s
load_rate = load["received_per_s"]
print(f"twin run  (speed max, day-1000, {run['sim_seconds']:.0f} sim s): "
      f"{rm['received']} received of {rm['sent']} in {run_s:.2f} s = {run_rate:,.0f} msg/s; "
      f"lost {rm['lost']}, dropped at source {rm['dropped_at_source']}, alerts {len(run['alerts'])}")
print(f"twin load pub -q 1 (1000 sessions, offered {load['messages']['sent']} messages): "
      f"{lm['received']} received = {load_rate:,.0f} msg/s; lost {lm['lost']}; "
      f"cpu {load['cpu_seconds']:.2f} s")
print(f"ratio run / load: {run_rate / load_rate:.2f}")
EOF
