# scripts/lib/bench.sh - shell helpers for the benchmark scripts (sourced, not run): a one-shard
# broker on 127.0.0.1 pinned to a CPU, started fresh and stopped within bounded waits, its CPU
# time, dropping the page cache, one bounded sb-bench run pinned to the load CPU.
# The sourcing script sets bench_work (its temporary directory, removed by its EXIT trap) and
# calls bench_broker_stop from that trap. Functions return 0 on success.
# shellcheck shell=bash
: "${bench_work:?scripts/lib/bench.sh: set bench_work before sourcing}"

bench_broker_pid=
# Below the ephemeral range (32768-60999), so no client socket holds a listening port.
bench_port=${bench_port:-$((21000 + RANDOM % 10000))}
bench_server_cpu=${bench_server_cpu:-1}
bench_load_cpu=${bench_load_cpu:-0}

# bench_broker_start BUILD DATA_DIR: BUILD's broker with one shard on bench_server_cpu, data in
# DATA_DIR, listening on the next port pair (bench_port: main port, bench_port+1: shard), with
# the settings in BENCH_BROKER_ARGS (e.g. "--wal-dsync-bytes 0", for A/B runs). Waits
# up to bench_start_wait_s (60: recovery of a large data directory) for an answer to a raw
# round trip; a broker that exits first (its port taken) is retried on the next pair, 10 times.
bench_broker_start() {
    local build=$1 data=$2 tries
    for tries in $(seq 10); do
        bench_port=$((bench_port + 2))
        mkdir -p "$data"
        taskset -c "$bench_server_cpu" "$build/broker/streambus" --data-dir "$data" \
            --listen "127.0.0.1:$bench_port" --cores 1 --log-level warn ${BENCH_BROKER_ARGS:-} \
            >>"$bench_work/broker.log" 2>&1 &
        bench_broker_pid=$!
        for _ in $(seq $((${bench_start_wait_s:-60} * 10))); do
            if "$build/bench/bench_broker" rtt "$bench_port" 1 >/dev/null 2>&1; then return 0; fi
            kill -0 "$bench_broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$bench_broker_pid" 2>/dev/null; then tries=0; fi # Up but not answering.
        bench_broker_stop
        [ "$tries" -gt 0 ] || break
    done
    echo "$(basename "$0"): broker did not start (log: $bench_work/broker.log)" >&2
    return 1
}

# bench_broker_stop: SIGTERM, up to 10 s for a clean stop, then SIGKILL.
bench_broker_stop() {
    [ -n "$bench_broker_pid" ] || return 0
    kill -TERM "$bench_broker_pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$bench_broker_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$bench_broker_pid" 2>/dev/null || true
    wait "$bench_broker_pid" 2>/dev/null || true
    bench_broker_pid=
}

# bench_cpu_ticks PID: its utime + stime in clock ticks (/proc/PID/stat, after the name).
bench_cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# bench_drop_caches: writes back and drops the page cache (needs root; warns otherwise).
bench_drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null ||
        echo "$(basename "$0"): cannot drop the page cache (not root)" >&2
}

# bench_sb BUILD OUT MODE ARGS...: one sb-bench run on bench_load_cpu against the broker on
# bench_port, at most bench_timeout_s (900) seconds; JSON in OUT.json, output in OUT.txt.
# Returns sb-bench's status (1: errors or lost/duplicated/out-of-order; 124: timed out).
bench_sb() {
    local build=$1 out=$2 mode=$3 status=0
    shift 3
    timeout "${bench_timeout_s:-900}" taskset -c "$bench_load_cpu" "$build/bench/sb-bench" \
        "$mode" -b "127.0.0.1:$bench_port" --quiet --json "$out.json" "$@" >"$out.txt" 2>&1 ||
        status=$?
    [ "$status" = 0 ] || echo "$(basename "$0"): $(basename "$out") exited $status" >&2
    return "$status"
}
