#!/usr/bin/env bash
# Peer comparison: `twin load pub` against Mosquitto's own C client, `mosquitto_pub`,
# on the same broker, at the same total rate, QoS and message count.
#
#   benches/peer/run.sh                          # CLIENTS=100 RATE=10000 DURATION=20
#   CLIENTS=1000 RATE=10000 benches/peer/run.sh
#
# Needs /usr/sbin/mosquitto, mosquitto_pub and mosquitto_sub (Debian: mosquitto,
# mosquitto-clients), /usr/bin/time, python3, ss, and a release build of twin
# (`cargo build --release -p twin-tui`; $TWIN overrides the path). Everything runs on
# loopback, on a Mosquitto this script starts on a free port and stops again, and every
# load is bounded by its message count.
#
# What each run is:
# - twin:      one `twin load pub` process, CLIENTS sessions, RATE msg/s in total, QoS 1,
#              64-byte payloads, COUNT = RATE*DURATION/CLIENTS messages per session. Its
#              CPU includes its own in-process subscriber, which counts every message.
# - reference: CLIENTS `mosquitto_pub -l -q 1` processes (one session each), fed 64-byte
#              lines through one FIFO each by a paced generator (python3, the same open-
#              loop schedule twin uses: message m of the run is due at m/RATE s). Its CPU is
#              the sum over the mosquitto_pub processes; the generator's is shown apart.
# Both runs are counted outside the tool by `mosquitto_sub -C TOTAL` (the received
# count, msgs/s and latency columns come from it). So that the broker does the same work
# in both runs (every message delivered to two subscribers), the reference run also has
# a `twin load sub` on its topics, standing in for twin's in-process subscriber.
#
# Output: a table on stdout, also kept in benches/peer/results.md (RESULTS overrides), one
# section for each configuration (a new run replaces its configuration's section); the raw
# files (time outputs, JSON reports, CSV, a top log) in a temporary directory that is kept
# and named.
set -euo pipefail

CLIENTS=${CLIENTS:-100}
RATE=${RATE:-10000}
DURATION=${DURATION:-20}
# Niceness of the counting subscribers in both runs (e.g. -10, as root): with hundreds of
# publisher processes on few cores, a counter that waits for the scheduler holds the
# broker's delivery to its QoS 1 in-flight window.
COUNTER_NICE=${COUNTER_NICE:-0}
QOS=1
SIZE=64
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TWIN=${TWIN:-$root/target/release/twin}
RESULTS=${RESULTS:-$here/results.md}

die() { echo "run.sh: $*" >&2; exit 2; }
for bin in /usr/sbin/mosquitto mosquitto_pub mosquitto_sub /usr/bin/time python3 ss; do
  command -v "$bin" >/dev/null || die "$bin not found"
done
[[ -x $TWIN ]] || die "$TWIN not found: cargo build --release -p twin-tui, or set TWIN"
total=$((RATE * DURATION))
((total % CLIENTS == 0)) || die "RATE*DURATION ($total) must be a multiple of CLIENTS ($CLIENTS)"
count=$((total / CLIENTS))

# Every session, broker end included, needs a descriptor; 1000 mosquitto_pub are 1000
# processes.
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/twin-peer.XXXXXX)
clk_tck=$(getconf CLK_TCK)
pids=()
broker_pid=
# Stop whatever this script started that still runs (its own background jobs).
cleanup() {
  local running
  running=$(jobs -pr)
  # shellcheck disable=SC2086
  [[ -n $running ]] && kill $running 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT

# CPU seconds (user + system) of one process so far.
cpu_of() { awk -v t="$clk_tck" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }
# Busy CPU seconds of the whole machine so far (all but idle and iowait), to see whether
# anything else ran during a run: this VM is shared.
machine_cpu() { awk -v t="$clk_tck" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / t }' /proc/stat; }
# Sum of the user + system seconds in /usr/bin/time -f '%U %S ...' outputs.
time_cpu() { cat "$@" | awk '/^Command/ { next } { u += $1; s += $2 } END { printf "%.2f", u + s }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Established connections to the broker port (broker side).
established() { ss -Htn state established "( sport = :$port )" | wc -l; }
wait_established() { # N, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (($(established) >= $1)) && return 0
    sleep 0.1
  done
  echo "run.sh: only $(established) of $1 sessions connected after $2 s" >&2
  return 1
}
# Sum of Pss (kB) over the processes whose ids are listed in $1.
pss_of() {
  local p total=0 kb
  for p in $1; do
    kb=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
# What the external counter saw: "count msgs/s p50 p99" (ms, from the intended send
# time in the payload to its arrival). Lines are "receive-time payload": twin's payload in
# hex (-F '%U %x'; intended µs at bytes 16..24, little-endian), the reference's as text
# (-F '%U %p'; "client seq intended-unix-seconds ...").
sub_stats() { # file twin|ref
  python3 - "$1" "$2" <<'EOF'
import sys
path, kind = sys.argv[1], sys.argv[2]
recv, lat = [], []
for line in open(path, errors="replace"):
    f = line.split()
    if len(f) < 2:
        continue
    t = float(f[0])
    if kind == "twin":
        intended = int.from_bytes(bytes.fromhex(f[1][32:48]), "little") / 1e6
    else:
        intended = float(f[3])
    recv.append(t)
    lat.append((t - intended) * 1000)
n = len(recv)
rate = (n - 1) / (max(recv) - min(recv)) if n > 1 else 0
lat.sort()
q = lambda p: lat[min(n - 1, int(p * n))] if n else float("nan")
print(f"{n} {rate:.0f} {q(0.5):.2f} {q(0.99):.1f}")
EOF
}

# --- the broker -------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 1000000
max_connections -1
log_dest stderr
log_type error
log_type warning
EOF
/usr/sbin/mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
broker_pid=$!
for _ in $(seq 50); do ss -Hltn "( sport = :$port )" | grep -q . && break; sleep 0.1; done
ss -Hltn "( sport = :$port )" | grep -q . || die "mosquitto did not start: $(cat "$work/mosquitto.log")"
url=mqtt://127.0.0.1:$port
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
sub_timeout=$((DURATION + 60))
# A second-by-second process list, to name whatever else used the CPU during the runs.
top -b -d 1 -w 250 >"$work/top.log" 2>/dev/null &
top_pid=$!
echo "broker $url (pid $broker_pid), $CLIENTS clients, $RATE msg/s, $count msgs each, $total in all, QoS $QOS, $SIZE B; raw files in $work" >&2

# --- twin load pub ----------------------------------------------------------------
/usr/bin/time -f '%U %S' -o "$work/twin.sub.time" \
  nice -n "$COUNTER_NICE" mosquitto_sub -h 127.0.0.1 -p "$port" -q "$QOS" -t 'peer/twin/+' -C "$total" -W "$sub_timeout" \
  -F '%U %x' >"$work/twin.sub" 2>"$work/twin.sub.err" &
sub_pid=$!
pids+=("$sub_pid")
wait_established 1 10
sleep 0.5 # its SUBSCRIBE
b0=$(cpu_of "$broker_pid") m0=$(machine_cpu) t0=$(date +%T)
/usr/bin/time -v -o "$work/twin.time" "$TWIN" load pub --broker "$url" -c "$CLIENTS" --rate "$RATE" \
  --count "$count" --duration "$((DURATION + 30))s" -q "$QOS" -s "$SIZE" \
  -t "peer/twin/%i" --json "$work/twin.json" --quiet --csv "$work/twin.csv" \
  >"$work/twin.out" 2>"$work/twin.err" &
twin_time_pid=$!
sleep 0.2
twin_pid=$(pgrep -P "$twin_time_pid" || true)
(sleep $((DURATION / 2 + 2)) && pss_of "$twin_pid" >"$work/twin.pss") &
pids+=("$!")
wait "$twin_time_pid" || echo "twin exited with $?" >&2
b1=$(cpu_of "$broker_pid") m1=$(machine_cpu) t1=$(date +%T)
wait "$sub_pid" || echo "mosquitto_sub (twin run) exited with $? (timeout: fewer than $total messages)" >&2
twin_broker_cpu=$(minus "$b0" "$b1")
twin_machine_cpu=$(minus "$m0" "$m1")
twin_t0=$t0 twin_t1=$t1

# --- reference: mosquitto_pub -l --------------------------------------------------
mkdir "$work/fifo" "$work/ref.time"
for ((i = 0; i < CLIENTS; i++)); do mkfifo "$work/fifo/$i"; done
/usr/bin/time -f '%U %S' -o "$work/ref.sub.time" \
  nice -n "$COUNTER_NICE" mosquitto_sub -h 127.0.0.1 -p "$port" -q "$QOS" -t 'peer/ref/+' -C "$total" -W "$sub_timeout" \
  -F '%U %p' >"$work/ref.sub" 2>"$work/ref.sub.err" &
sub_pid=$!
/usr/bin/time -f '%U %S' -o "$work/ref-twin-sub.time" \
  nice -n "$COUNTER_NICE" "$TWIN" load sub --broker "$url" -t 'peer/ref/+' -q "$QOS" --count "$total" \
  --duration "${sub_timeout}s" --json "$work/ref-twin-sub.json" --quiet >"$work/ref-twin-sub.out" 2>&1 &
tsub_pid=$!
pids+=("$sub_pid" "$tsub_pid")
sleep 0.2
tsub_child=$(pgrep -P "$tsub_pid" || true)
wait_established 2 10
sleep 0.5
b0=$(cpu_of "$broker_pid") m0=$(machine_cpu) t0=$(date +%T)
# The generator opens every FIFO (which lets each reader's shell exec), waits for "go",
# then writes message m of the run, to FIFO m % CLIENTS, at m / RATE seconds: the same
# open-loop schedule as twin's, 1 ms granularity.
cat >"$work/gen.py" <<'EOF'
import os, sys, time
fifo_dir, clients, rate, count, size, go = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
fds = [os.open(f"{fifo_dir}/{i}", os.O_WRONLY) for i in range(clients)]
while not os.path.exists(go):
    time.sleep(0.01)
total, m, t0, t0_unix = clients * count, 0, time.monotonic(), time.time()
while m < total:
    due = min(total, int((time.monotonic() - t0) * rate) + 1)
    while m < due:
        i, k = m % clients, m // clients
        line = f"{i:06d} {k:010d} {t0_unix + m / rate:.6f} ".encode()
        os.write(fds[i], line + b"." * (size - len(line)) + b"\n")
        m += 1
    time.sleep(0.001)
for fd in fds:
    os.close(fd)
EOF
ref_start=$(date +%s.%N)
for ((i = 0; i < CLIENTS; i++)); do
  /usr/bin/time -f '%e %U %S %M %x' -o "$work/ref.time/$i" \
    mosquitto_pub -h 127.0.0.1 -p "$port" -q "$QOS" -t "peer/ref/$i" -i "peerref-$$-$i" -l \
    <"$work/fifo/$i" 2>>"$work/ref.err" &
  pids+=("$!")
done
/usr/bin/time -f '%e %U %S %M' -o "$work/gen.time" \
  python3 "$work/gen.py" "$work/fifo" "$CLIENTS" "$RATE" "$count" "$SIZE" "$work/go" &
gen_pid=$!
pids+=("$gen_pid")
wait_established $((CLIENTS + 2)) 60
connect_s=$(awk -v a="$ref_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
touch "$work/go"
(sleep $((DURATION / 2)) && pss_of "$(pgrep -f "^mosquitto_pub .* -i peerref-$$-" | tr '\n' ' ')" >"$work/ref.pss") &
pids+=("$!")
wait "$gen_pid" || echo "the generator exited with $?" >&2
for p in "${pids[@]}"; do
  [[ $p == "$sub_pid" || $p == "$tsub_pid" ]] && continue
  wait "$p" 2>/dev/null || true
done
b1=$(cpu_of "$broker_pid") m1=$(machine_cpu) t1=$(date +%T)
wait "$sub_pid" || echo "mosquitto_sub (reference run) exited with $? (timeout: fewer than $total messages)" >&2
wait "$tsub_pid" || echo "twin load sub (reference run) exited with $?" >&2
ref_broker_cpu=$(minus "$b0" "$b1")
ref_machine_cpu=$(minus "$m0" "$m1")
ref_t0=$t0 ref_t1=$t1

kill "$top_pid" 2>/dev/null || true
# Processes other than this bench's own seen above 10 % of a core in a sample between
# two times (HH:MM:SS).
others() {
  awk -v mine=" $broker_pid $twin_pid $tsub_child " -v from="$1" -v to="$2" '
  /^top - / { t = $3 }
  /^ *[0-9]+ / && $9 + 0 >= 10 && t >= from && t <= to {
    cmd = $12
    if (cmd ~ /^(mosquitto_sub|mosquitto_pub|python3|time|top|bash|pgrep|sleep)$/) next
    if (index(mine, " " $1 " ")) next
    n[cmd]++; if ($9 + 0 > peak[cmd]) peak[cmd] = $9 + 0
  }
  END { for (c in n) { printf "%s%s (%d s, up to %.0f%%)", sep, c, n[c], peak[c]; sep = ", " } }' "$work/top.log"
}
twin_others=$(others "$twin_t0" "$twin_t1")
ref_others=$(others "$ref_t0" "$ref_t1")
# --- the table --------------------------------------------------------------------
read -r twin_recv twin_rate twin_p50 twin_p99 < <(sub_stats "$work/twin.sub" twin)
read -r ref_recv ref_rate ref_p50 ref_p99 < <(sub_stats "$work/ref.sub" ref)
tv() { awk -F': ' -v k="$1" '$1 ~ k { print $2 }' "$work/twin.time" | head -1; }
twin_cpu=$(awk -v u="$(tv 'User time')" -v s="$(tv 'System time')" 'BEGIN { printf "%.2f", u + s }')
twin_rss=$(tv 'Maximum resident set size')
twin_sent=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["messages"]["sent"])' "$work/twin.json")
twin_self=$(
  python3 - "$work/twin.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m, l, i = r["messages"], r["latency_ms"] or {}, r["latency_intended_ms"] or {}
print(f"{m['received']} received by its own subscriber, {m['lost']} lost, {m['duplicates']} duplicates;"
      f" latency p50 {l.get('p50')} p99 {l.get('p99')} ms (from the intended send: p99 {i.get('p99')} ms);"
      f" schedule lag max {r['schedule_lag_max_ms']} ms; generator_behind {str(r['generator_behind']).lower()}")
EOF
)
# Per process: elapsed user sys maxrss_kB exit_status (a line "Command exited ..." first
# when the status is not 0).
read -r ref_cpu ref_rss ref_failed < <(cat "$work"/ref.time/* | awk '
  /^Command/ { next }
  NF == 5 { u += $2; s += $3; r += $4; if ($5 != 0) f++; n++ }
  END { printf "%.2f %d %d\n", u + s, r, f + 0 }')
ref_done=$(cat "$work"/ref.time/* | awk 'NF == 5 { n++ } END { print n + 0 }')
read -r gen_cpu < <(awk 'NF == 4 { printf "%.2f\n", $2 + $3 }' "$work/gen.time")
ref_tsub=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["messages"]["received"])' "$work/ref-twin-sub.json" 2>/dev/null || echo "?")
per100k() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? c * 100000 / n : 0) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
per_session() { awk -v k="$1" -v n="$CLIENTS" 'BEGIN { printf "%.0f KiB", k / n }'; }
twin_pss=$(cat "$work/twin.pss" 2>/dev/null || echo 0)
ref_pss=$(cat "$work/ref.pss" 2>/dev/null || echo 0)

{
  echo "$CLIENTS clients, $RATE msg/s in total, $count messages each ($total), QoS $QOS, $SIZE-byte payloads, counters at nice $COUNTER_NICE, Mosquitto $(/usr/sbin/mosquitto -h 2>/dev/null | head -1 | awk '{ print $3 }') on loopback, $(nproc) cores, $(date -u +%Y-%m-%d), $TWIN built $(date -u -r "$TWIN" +'%Y-%m-%d %H:%M') UTC (tree at $(git -C "$root" describe --always --dirty 2>/dev/null || echo "?") when run), load average before the runs $load_before."
  echo
  echo "| tool | sent | received | msgs/s | tool CPU s | CPU s per 100k msgs | peak RSS | RSS per session | broker CPU s | latency p50 / p99 |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  echo "| twin load pub (1 process) | $twin_sent | $twin_recv | $twin_rate | $twin_cpu | $(per100k "$twin_cpu" "$twin_sent") | $(mib "$twin_rss") | $(per_session "$twin_rss") | $twin_broker_cpu | $twin_p50 / $twin_p99 ms |"
  echo "| mosquitto_pub -l ($CLIENTS processes) | $total | $ref_recv | $ref_rate | $ref_cpu | $(per100k "$ref_cpu" "$total") | $(mib "$ref_rss") (sum) | $(per_session "$ref_rss") | $ref_broker_cpu | $ref_p50 / $ref_p99 ms |"
  echo
  echo "- sent: twin's report (\`messages.sent\`, messages its client accepted); for mosquitto_pub, the lines fed to it (each process publishes every line before it exits: $ref_done of $CLIENTS exited, $ref_failed with a non-zero status)."
  echo "- received and msgs/s: an external \`mosquitto_sub -C $total -q $QOS\`, msgs/s between its first and last message; latency from the intended send time written in each payload (twin's header; the generator's schedule for mosquitto_pub) to its arrival there, so both tools are timed alike."
  echo "- twin: $twin_self."
  echo "- twin's CPU includes its in-process subscriber; the reference run's second subscriber (\`twin load sub\`, $ref_tsub received) is not counted in its CPU."
  echo "- mosquitto_pub's pacing generator (python3, not counted above) used $gen_cpu s CPU; the $CLIENTS processes took ${connect_s} s to start and connect before the schedule began."
  twin_ours=$(awk -v a="$twin_cpu" -v b="$twin_broker_cpu" -v c="$(time_cpu "$work/twin.sub.time")" 'BEGIN { printf "%.2f", a + b + c }')
  ref_ours=$(awk -v a="$ref_cpu" -v b="$ref_broker_cpu" -v c="$gen_cpu" -v d="$(time_cpu "$work/ref.sub.time" "$work/ref-twin-sub.time")" 'BEGIN { printf "%.2f", a + b + c + d }')
  echo "- Machine busy CPU while each run published (all processes and the kernel's softirq work, from /proc/stat): twin run $twin_machine_cpu s, of which the tool, broker and counter processes $twin_ours s; reference run $ref_machine_cpu s, of which theirs $ref_ours s. A large gap means something else ran on the machine. Other processes above 10 % of a core in a 1-s sample: twin run ${twin_others:-none}; reference run ${ref_others:-none}."
  echo "- Pss sampled mid-run (shared pages split between processes): twin $(mib "$twin_pss"), the mosquitto_pub processes $(mib "$ref_pss") ($(per_session "$ref_pss") per session). Peak RSS of the mosquitto_pub processes is a sum, shared libraries counted in each."
} | tee "$work/results.md"
# results.md keeps the latest run of each configuration, one section each.
python3 - "$RESULTS" "$work/results.md" "## $CLIENTS clients, $RATE msg/s, $DURATION s" <<'EOF'
import os, re, sys
path, new, title = sys.argv[1], open(sys.argv[2]).read().strip(), sys.argv[3]
text = open(path).read() if os.path.exists(path) else "# Peer comparison: twin load pub and mosquitto_pub\n\nWritten by benches/peer/run.sh.\n"
head, *parts = re.split(r"(?m)^(?=## )", text)
sections = {p.splitlines()[0]: p.strip() for p in parts}
sections[title] = f"{title}\n\n{new}"
open(path, "w").write(head.rstrip() + "\n\n" + "\n\n".join(sections[k] for k in sorted(sections, key=lambda k: [int(x) for x in re.findall(r"\d+", k)])) + "\n")
EOF
echo "raw files: $work; table in $RESULTS" >&2
