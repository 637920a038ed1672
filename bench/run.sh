#!/usr/bin/env bash
# Load benchmarks of ykc-bridge: builds Release, starts a private Mosquitto on a free loopback port
# (stock settings toward the bridge, receive-maximum 20; only max_queued_messages is raised so
# the measuring subscriber is not dropped), the bridge, the load (ykc_bench_load / ykc-sim) and
# a measuring subscriber, and prints one table. Everything it starts is stopped on exit.
#
#   bench/run.sh [all|window|ceiling|latency|piles10k|storm|command|codec|breakdown]...
#   (breakdown, not in all: direct publisher with the bridge's extra work added step by step)
#
# Environment: RUNS (default 3; figures are medians), DURATION (s of measurement per uplink run,
# default 10), PILES (TCP piles of the uplink load, default 50), LAT_RATE (frames/s for latency;
# default half the QoS 1 ceiling measured by `ceiling` in the same invocation, else measured),
# BIG_PILES (default 10000), BUILD_DIR (default build-bench), KEEP=1 keeps the work folder,
# PERF_DATA=file records the bridge with `perf record ${PERF_ARGS:--g}` during piles10k's measurement.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
PILES=${PILES:-50}
BIG_PILES=${BIG_PILES:-10000}
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(all)
if [ "${scenarios[0]}" = all ]; then scenarios=(window ceiling latency piles10k storm command codec); fi
for s in "${scenarios[@]}"; do
  case $s in window|ceiling|latency|piles10k|storm|command|codec|breakdown) ;; *) echo "unknown scenario $s" >&2; exit 2 ;; esac
done

# ---- build --------------------------------------------------------------------------------------
log=$(mktemp /tmp/ykc-bench-build.XXXXXX)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
         -DYKC_BUILD_TESTS=OFF -DYKC_BUILD_BENCH=ON &&
       cmake --build "$build" --target ykc-bridge ykc-sim ykc_bench_load ykc_bench_paho_sync -j"$(nproc)"; } >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
bridge_bin=${BRIDGE_BIN:-$build/bridge/ykc-bridge}  # BRIDGE_BIN: another build of the bridge (experiments)
read -r -a bridge_extra <<<"${BRIDGE_ARGS:-}"          # BRIDGE_ARGS: more arguments for every bridge, e.g. --set k=v
sim_bin=$build/tools/ykc-sim
load_bin=$build/bench/ykc_bench_load
sync_bin=$build/bench/ykc_bench_paho_sync

# 10,000 piles need ~10,000 descriptors in the bridge: raise the soft limit to the hard one
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/ykc-bench.XXXXXX)
chmod 755 "$work"
results=$work/results.tsv
: >"$results"
pids=()

stop_pid() {  # TERM, up to 5 s, then KILL; only processes this script started
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    kill -TERM "$pid" 2>/dev/null || true  # Mosquitto can miss a TERM sent right after start
  done
  kill -KILL "$pid" 2>/dev/null || true
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" -gt 128 ] && [ "$rc" != 143 ] && [ "$rc" != 137 ]; then
    echo "!! process $pid ($(basename "$(cat "$work/cmd.$pid" 2>/dev/null || echo ?)")) ended with signal $((rc - 128)) after SIGTERM;" \
      "core dumps (if any): $(ls "$work"/run.*/core* 2>/dev/null | tr '\n' ' ')" >&2
  fi
}
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  pids=()
}
cleanup() {
  stop_all
  if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime + stime
# utime + stime of each of a process's threads, summed by thread name: "name ticks" lines
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done 2>/dev/null | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
# the CPU % of one core each thread name used between two thread_ticks listings ($1, $2) over $3 s
thread_pct() {
  awk -v s="$3" -v hz="$(getconf CLK_TCK)" 'NR == FNR {a[$1] = $2; next} {printf "%s%s %.1f%%", sep, $1, ($2 - a[$1]) / hz / s * 100; sep = ", "}' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
LOAD_ARGS=()  # extra ykc_bench_load arguments of uplink runs (diagnostics)
port_free() { ! ss -Htan "( sport = :$1 or dport = :$1 )" | grep -q .; }
free_port() {  # a port nobody uses, outside the ephemeral range (never 1883 / 8768)
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 10000))
    port_free "$p" && { echo "$p"; return 0; }
  done
  echo "no free port" >&2; return 1
}
wait_port() {  # up to 10 s
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

broker_port=""; bridge_port=""; bridge_pid=""; run_dir=""
start_broker() {
  broker_port=$(free_port)
  run_dir=$(mktemp -d "$work/run.XXXXXX"); chmod 777 "$run_dir"
  # stock Mosquitto except max_queued_messages (0 = unlimited) for the measuring subscriber
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n' "$broker_port" >"$run_dir/mosquitto.conf"
  mosquitto -c "$run_dir/mosquitto.conf" >"$run_dir/mosquitto.log" 2>&1 &
  pids+=($!); broker_pid=$!
  wait_port "$broker_port"
}
start_bridge() {  # extra arguments: --set key=value ...
  bridge_port=$(free_port)
  cat >"$run_dir/bridge.yaml" <<EOF
mqtt:
  client_id: ykc-bench-$$-$RANDOM
  persistence_dir: $run_dir/persist
limits:
  max_connections: 12000
logging:
  level: warn
EOF
  # in its run folder with core dumps on: a crash leaves run.*/core (reported when it is stopped)
  (cd "$run_dir" && ulimit -c unlimited 2>/dev/null
   exec "$bridge_bin" run -c "$run_dir/bridge.yaml" --listen "127.0.0.1:$bridge_port" --mqtt-url "tcp://127.0.0.1:$broker_port" \
     --log-level warn "$@" "${bridge_extra[@]}") >"$run_dir/bridge.log" 2>&1 &
  pids+=($!); bridge_pid=$!
  echo "$bridge_bin" >"$work/cmd.$bridge_pid"
  wait_port "$bridge_port"
  sleep 0.5  # MQTT connect and the command subscription
}
load() { "$load_bin" "$@" --broker "tcp://127.0.0.1:$broker_port" --id "bench-$$-$RANDOM"; }
load_sync() { "$sync_bin" "$@" --broker "tcp://127.0.0.1:$broker_port" --id "bench-$$-$RANDOM"; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
m() { printf '%s\n' "$@" | median; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
row() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$results"; }
say() { echo "[$(date +%T) load $(loadavg)] $*" >&2; }

# one uplink run on a fresh broker (and bridge for --via bridge); sets $line to the tool's line
# (no command substitution: what it starts stays in this shell's list for the EXIT trap)
line=""
uplink_run() {  # via qos mqtt_version rate extra-bridge-args...
  local via=$1 qos=$2 ver=$3 rate=$4; shift 4
  start_broker
  local args=(uplink --via "$via" --qos "$qos" --mqtt-version "$ver" --rate "$rate" --piles "$PILES" --duration "$DURATION" --warmup 2 --drain 10)
  if [ "$via" = bridge ]; then
    start_bridge --set mqtt.qos="$qos" --set mqtt.version="$([ "$ver" = 5 ] && echo 5 || echo 3.1.1)" "$@"
    args+=(--bridge "127.0.0.1:$bridge_port")
  fi
  load "${args[@]}" "${LOAD_ARGS[@]}" >"$run_dir/load.out" 2>>"$run_dir/load.err" || true
  line=$(tail -n1 "$run_dir/load.out")
  # CPU time of the broker and the bridge over the whole run, per frame sent
  local n; n=$(field sent "$line"); n=${n:-0}
  local hz; hz=$(getconf CLK_TCK)
  line+=" broker_cpu_us_per_frame=$(awk -v t="$(cpu_ticks "$broker_pid")" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}')"
  if [ "$via" = bridge ]; then
    line+=" bridge_cpu_us_per_frame=$(awk -v t="$(cpu_ticks "$bridge_pid")" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}')"
  fi
  if [ "$via" = bridge ]; then grep -E 'error|critical' "$run_dir/bridge.log" | head -3 >&2 || true; fi
  stop_all
}

# ---- window: the MQTT 5 in-flight stall of Paho C 1.3.12 ----------------------------------------
scenario_window() {
  local load0; load0=$(loadavg)
  for cfg in "5 16" "5 1000" "3 16"; do
    set -- $cfg
    local rates=()
    for r in $(seq 1 "$RUNS"); do
      uplink_run bridge 1 "$1" 0 --set mqtt.inflight_window="$2"
      say "window mqtt=$1 inflight_window=$2 run $r: $line"
      rates+=("$(field rate "$line")")
    done
    row window "MQTT $([ "$1" = 5 ] && echo 5 || echo 3.1.1), mqtt.inflight_window=$2, QoS 1" \
      "$(printf '%s\n' "${rates[@]}" | median) frames/s" "runs: ${rates[*]}" "-" "load $load0"
  done
}

# ---- ceiling: bridge vs direct publish, QoS 1 and 0 ---------------------------------------------
ceiling_qos1=""
scenario_ceiling() {
  local load0; load0=$(loadavg)
  for qos in 1 0; do
    local d=() b=()
    for r in $(seq 1 "$RUNS"); do  # interleaved, so both see the same machine
      uplink_run direct "$qos" 5 0; say "ceiling direct qos=$qos run $r: $line"; d+=("$(field rate "$line")")
      uplink_run bridge "$qos" 5 0; say "ceiling bridge qos=$qos run $r: $line"; b+=("$(field rate "$line")")
    done
    local md mb ratio
    md=$(printf '%s\n' "${d[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
    ratio=$(awk -v a="$mb" -v b="$md" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    [ "$qos" = 1 ] && ceiling_qos1=$mb
    row ceiling "QoS $qos: bridge $mb / direct $md frames/s" "ratio $ratio" "bridge: ${b[*]}; direct: ${d[*]}" \
      "$(awk -v r="$ratio" 'BEGIN {print (r >= 0.9 ? "target >= 0.9: met" : "target >= 0.9: MISSED")}')" "load $load0"
  done
}

# ---- breakdown: what separates the bridge from the direct publisher (QoS 1, window-limited) -----
scenario_breakdown() {
  local load0; load0=$(loadavg)
  local cases=(
    "direct|direct, 1 message per frame (the ceiling's reference)|"
    "direct|direct + retained gun state (2 messages per frame, like the bridge)|--direct-state"
    "direct|direct + gun state + Paho file persistence (like the bridge)|--direct-state --direct-persist @"
    "bridge|bridge, MQTT 5, mqtt.inflight_window=16 (default)|"
    "bridge|bridge, MQTT 5, mqtt.persistence_dir on tmpfs (/dev/shm)|--set mqtt.persistence_dir=@shm"
    "bridge|bridge, MQTT 5, mqtt.inflight_window=20 (= receive-maximum)|--set mqtt.inflight_window=20"
    "bridge3|bridge, MQTT 3.1.1, mqtt.inflight_window=200|--set mqtt.inflight_window=200"
  )
  local c via what extra shm
  shm=$(mktemp -d /dev/shm/ykc-bench.XXXXXX)
  for c in "${cases[@]}"; do
    IFS='|' read -r via what extra <<<"$c"
    local rates=() bcpu=() kcpu=() r
    for r in $(seq 1 "$RUNS"); do
      LOAD_ARGS=()
      case $via in
        direct)
          local a; for a in $extra; do [ "$a" = @ ] && a=$work/direct-persist-$r-$RANDOM; LOAD_ARGS+=("$a"); done
          uplink_run direct 1 5 0 ;;
        bridge) # shellcheck disable=SC2086
          uplink_run bridge 1 5 0 ${extra//@shm/$shm/p$r-$RANDOM} ;;
        bridge3) # shellcheck disable=SC2086
          uplink_run bridge 1 3 0 $extra ;;
      esac
      LOAD_ARGS=()
      say "breakdown $what run $r: $line"
      rates+=("$(field rate "$line")"); kcpu+=("$(field broker_cpu_us_per_frame "$line")"); bcpu+=("$(field bridge_cpu_us_per_frame "$line")")
    done
    rm -rf "${shm:?}"/*
    row breakdown "$what" "$(m "${rates[@]}") frames/s" "runs: ${rates[*]}; CPU us/frame broker $(m "${kcpu[@]}")$([ "$via" = direct ] || echo ", bridge $(m "${bcpu[@]}")")" "-" "load $load0"
  done
  rm -rf "$shm"
}

# ---- latency: at half the ceiling, bridge minus direct ------------------------------------------
scenario_latency() {
  local load0; load0=$(loadavg)
  local rate=${LAT_RATE:-}
  if [ -z "$rate" ]; then
    if [ -z "$ceiling_qos1" ]; then
      uplink_run bridge 1 5 0; say "latency: ceiling probe: $line"; ceiling_qos1=$(field rate "$line")
    fi
    rate=$(awk -v c="$ceiling_qos1" 'BEGIN {printf "%d", c / 2}')
  fi
  local bp50=() bp99=() bmax=() dp50=() dp99=() dmax=()
  for r in $(seq 1 "$RUNS"); do
    uplink_run direct 1 5 "$rate"; say "latency direct run $r: $line"
    dp50+=("$(field p50_us "$line")"); dp99+=("$(field p99_us "$line")"); dmax+=("$(field max_us "$line")")
    uplink_run bridge 1 5 "$rate"; say "latency bridge run $r: $line"
    bp50+=("$(field p50_us "$line")"); bp99+=("$(field p99_us "$line")"); bmax+=("$(field max_us "$line")")
  done
  local b50 b99 bm d50 d99 dm
  b50=$(m "${bp50[@]}"); b99=$(m "${bp99[@]}"); bm=$(m "${bmax[@]}"); d50=$(m "${dp50[@]}"); d99=$(m "${dp99[@]}"); dm=$(m "${dmax[@]}")
  local added99; added99=$(awk -v a="$b99" -v b="$d99" 'BEGIN {printf "%.0f", a - b}')
  row latency "QoS 1 at $rate frames/s: bridge p50/p99/max $b50/$b99/$bm us, direct $d50/$d99/$dm us" \
    "added p50 $(awk -v a="$b50" -v b="$d50" 'BEGIN {printf "%.0f", a - b}') us, p99 $added99 us, max $(awk -v a="$bm" -v b="$dm" 'BEGIN {printf "%.0f", a - b}') us" \
    "bridge p99: ${bp99[*]}; direct p99: ${dp99[*]}" \
    "$(awk -v a="$added99" 'BEGIN {print (a < 5000 ? "target p99 < 5 ms: met" : "target p99 < 5 ms: MISSED")}')" "load $load0"
}

# ---- piles: ykc-sim processes over 127.0.0.x ------------------------------------------------------
sim_pids=()
start_sims() {  # total_piles processes connect_rate extra...
  local total=$1 procs=$2 rate=$3; shift 3
  local per=$(((total + procs - 1) / procs)) k start n
  sim_pids=()
  for ((k = 0; k < procs; k++)); do
    n=$(( total - k * per < per ? total - k * per : per ))
    start=$((32010200000001 + k * per))
    "$sim_bin" --port "$bridge_port" --piles "$n" --guns 2 --pile-start "$start" \
      --source-address "127.0.0.$((2 + 10 * k))-$((11 + 10 * k))" --connect-rate "$rate" --reconnect-min 1 --reconnect-max 5 \
      --duration 600 --quiet --stats 0 --no-stdin "$@" >"$run_dir/sim$k.log" 2>&1 &
    pids+=($!); sim_pids+=($!)
  done
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

scenario_piles10k() {
  local load0; load0=$(loadavg)
  local idle=() loaded=() per=() cpu=() floor=() floor_sync=() pacing=() threads=() hz; hz=$(getconf CLK_TCK)
  # what the piles send: a heartbeat per gun every 10 s, real-time data per gun every 15 s
  local hb_rate=$((BIG_PILES * 2 / 10)) rt_rate=$((BIG_PILES * 2 / 15))
  for r in $(seq 1 "$RUNS"); do
    start_broker
    start_bridge
    sleep 2
    local rss0; rss0=$(rss_kb "$bridge_pid")
    load watch --piles "$BIG_PILES" --timeout 120 >"$run_dir/watch.out" 2>/dev/null &
    local wpid=$!; pids+=("$wpid")
    for _ in $(seq 1 100); do grep -q ready "$run_dir/watch.out" && break; sleep 0.1; done
    start_sims "$BIG_PILES" 4 1000 --heartbeat 10 --realtime-idle 15
    wait "$wpid" || true
    say "piles10k run $r: $(tail -n1 "$run_dir/watch.out")"
    sleep 15  # past the login wave: steady heartbeats and real-time data
    local t0 c0 t1 c1 rss1
    local th0 th1
    t0=$(date +%s.%N); c0=$(cpu_ticks "$bridge_pid"); th0=$(thread_ticks "$bridge_pid")
    if [ -n "${PERF_DATA:-}" ]; then perf record -q ${PERF_ARGS:--g} -p "$bridge_pid" -o "$PERF_DATA.$r" -- sleep 30 2>/dev/null; else sleep 30; fi
    t1=$(date +%s.%N); c1=$(cpu_ticks "$bridge_pid"); th1=$(thread_ticks "$bridge_pid")
    rss1=$(rss_kb "$bridge_pid")
    local pct; pct=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz / (e - s) * 100}')
    local kb; kb=$(awk -v a="$rss0" -v b="$rss1" -v n="$BIG_PILES" 'BEGIN {printf "%.2f", (b - a) / n}')
    say "piles10k run $r: idle RSS ${rss0} kB, loaded ${rss1} kB, ${kb} kB/pile, CPU ${pct}% (load $(loadavg))"
    threads+=("$(thread_pct "$th0" "$th1" "$(awk -v s="$t0" -v e="$t1" 'BEGIN {print e - s}')")")
    say "piles10k run $r: bridge CPU by thread: ${threads[-1]}"
    idle+=("$rss0"); loaded+=("$rss1"); per+=("$kb"); cpu+=("$pct")
    stop_all
    # the floor: a bare Paho client publishing what the bridge published here (heartbeats at QoS 0,
    # realtime at QoS 1, one message at a time), on a fresh broker with nothing else running; the
    # two kinds in two runs (mixed, Paho C's QoS 1 acknowledgements fall behind the window). Three
    # clients each: Paho C++ as the bridge uses it, Paho C's synchronous client (no hand-off to a
    # send thread: the cheapest Paho there is), and the paced loop without publishing (its own cost,
    # included in both).
    local fl=0 fs=0 fp=0 kind client out
    for kind in "--qos0-rate $hb_rate" "--rate $rt_rate"; do
      for client in "load paho" "load_sync" "load_sync --pacing-only"; do
        start_broker
        # shellcheck disable=SC2086
        $client --piles "$BIG_PILES" $kind --duration 15 >"$run_dir/paho.out" 2>>"$run_dir/load.err" || true
        out=$(tail -n1 "$run_dir/paho.out")
        say "piles10k run $r: bare Paho ($client), $kind: $out"
        case $client in
          "load paho") fl=$(awk -v a="$fl" -v b="$(field cpu_pct "$out")" 'BEGIN {printf "%.1f", a + b}') ;;
          load_sync) fs=$(awk -v a="$fs" -v b="$(field cpu_pct "$out")" 'BEGIN {printf "%.1f", a + b}') ;;
          *) fp=$(awk -v a="$fp" -v b="$(field cpu_pct "$out")" 'BEGIN {printf "%.1f", a + b}') ;;
        esac
        stop_all
      done
    done
    floor+=("$fl"); floor_sync+=("$fs"); pacing+=("$fp")
  done
  local mper mcpu
  mper=$(printf '%s\n' "${per[@]}" | median); mcpu=$(printf '%s\n' "${cpu[@]}" | median)
  row piles10k "$BIG_PILES piles x 2 guns, heartbeat 10 s, realtime 15 s: bridge RSS idle $(printf '%s\n' "${idle[@]}" | median) kB, loaded $(printf '%s\n' "${loaded[@]}" | median) kB" \
    "$mper kB/pile, CPU $mcpu % of one core (bare Paho publishing the same messages: C++ as the bridge $(m "${floor[@]}") %, C synchronous $(m "${floor_sync[@]}") %, of which the paced loop itself $(m "${pacing[@]}") %)" \
    "kB/pile: ${per[*]}; CPU %: ${cpu[*]}; Paho C++ alone %: ${floor[*]}; Paho C synchronous %: ${floor_sync[*]}; paced loop %: ${pacing[*]}; bridge threads: $(IFS='|'; echo "${threads[*]}" | sed 's/|/; /g')" \
    "$(awk -v k="$mper" -v c="$mcpu" 'BEGIN {print ((k <= 10 ? "<= 10 KB/pile: met" : "<= 10 KB/pile: MISSED") ", " (c < 15 ? "< 15 %: met" : "< 15 %: MISSED"))}')" "load $load0"
}

scenario_storm() {
  local load0; load0=$(loadavg)
  for mode in all connected; do
    local times=()
    for r in $(seq 1 "$RUNS"); do
      start_broker
      start_bridge --set mqtt.commands="$mode"
      load watch --piles "$BIG_PILES" --timeout 120 >"$run_dir/watch.out" 2>/dev/null &
      local wpid=$!; pids+=("$wpid")
      for _ in $(seq 1 100); do grep -q ready "$run_dir/watch.out" && break; sleep 0.1; done
      local t0; t0=$(date +%s%3N)
      start_sims "$BIG_PILES" 4 0
      wait "$wpid" || true
      local out; out=$(tail -n1 "$run_dir/watch.out")
      local last online; last=$(field last_ms "$out"); online=$(field online "$out")
      local s; s=$(awk -v a="$t0" -v b="$last" -v n="$online" -v want="$BIG_PILES" 'BEGIN {if (n == want && b > 0) printf "%.2f", (b - a) / 1000; else print "inf"}')
      say "storm commands=$mode run $r: $out -> $s s"
      times+=("$s")
      stop_all
    done
    local med; med=$(m "${times[@]}")
    row storm "$BIG_PILES piles x 2 guns at once, mqtt.commands=$mode: all online" "$med s" "runs: ${times[*]}" \
      "$(awk -v t="$med" 'BEGIN {print (t < 10 ? "target < 10 s: met" : "target < 10 s: MISSED")}')" "load $load0"
  done
}

scenario_command() {
  local load0; load0=$(loadavg)
  local p50=() p99=() mx=() st=""
  for r in $(seq 1 "$RUNS"); do
    start_broker
    start_bridge
    load watch --piles 1000 --timeout 60 >"$run_dir/watch.out" 2>/dev/null &
    local wpid=$!; pids+=("$wpid")
    for _ in $(seq 1 100); do grep -q ready "$run_dir/watch.out" && break; sleep 0.1; done
    start_sims 1000 2 1000 --heartbeat 10 --realtime-idle 15
    wait "$wpid" || true
    local out; out=$(load command --piles 1000 --rate 100 --duration 20 --drain 35 2>>"$run_dir/load.err" || true)
    say "command run $r: $out"
    p50+=("$(field p50_us "$out")"); p99+=("$(field p99_us "$out")"); mx+=("$(field max_us "$out")"); st="$(field statuses "$out") $st"
    stop_all
  done
  row command "remote_stop at 100/s over 1000 piles (2 ykc-sim), answered: $st" \
    "p50 $(m "${p50[@]}") us, p99 $(m "${p99[@]}") us, max $(m "${mx[@]}") us" "p99: ${p99[*]}" "-" "load $load0"
}

scenario_codec() {
  local load0; load0=$(loadavg)
  local all=() fps r
  for r in $(seq 1 "$RUNS"); do
    "$root/bench/codec/run.sh" --filter "0x13 realtime / decode" >"$work/codec.out" 2>&1 || true
    # | workload | measurement | frames/rep | best s | frames/s | ...
    fps=$(grep -E '^\| 0x13 realtime +\| decode -> JSON' "$work/codec.out" | head -n1 | awk -F'|' '{gsub(/[ ,]/, "", $6); print $6}')
    say "codec run $r: ${fps:-?} frames/s"
    all+=("${fps:-0}")
  done
  fps=$(m "${all[@]}")
  row codec "0x13 decode -> JSON text, one core (bench/codec/run.sh, best of 3 reps per run)" "${fps:-?} frames/s" "runs: ${all[*]}" \
    "$(awk -v f="${fps:-0}" 'BEGIN {print (f >= 1000000 ? "target >= 1 M/s: met" : "target >= 1 M/s: MISSED")}')" "load $load0"
}

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo ?)
git -C "$root" diff --quiet HEAD -- bridge protocol tools 2>/dev/null || commit+=" (bridge/protocol/tools modified in the working tree)"
echo "== bench/run.sh ${scenarios[*]}: $(date -Is), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
  "commit $commit, RUNS=$RUNS, load $(loadavg)" >&2
for s in "${scenarios[@]}"; do "scenario_$s"; done

echo
echo "ykc-bridge load benchmarks — $(date -Is) — $(nproc) cores $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) — commit $commit — medians of $RUNS runs"
{ printf 'scenario\tcase\tresult\truns\ttarget\tload avg at start\n'; cat "$results"; } | column -t -s $'\t'
