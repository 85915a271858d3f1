#!/usr/bin/env bash
# Throughput and memory benchmark: credtrail against DuckDB on the same CloudTrail files, in the
# same run. Not part of `cargo test`; results and commands are recorded in docs/PERFORMANCE.md.
#
#   bench/run.sh                 # 1 GB generated set (/tmp/credtrail-bench-1G)
#   BENCH_4G=1 bench/run.sh      # and the 4 GB set (/tmp/credtrail-bench-4G, ~2 min to generate)
#
# Environment:
#   BENCH_REPEAT=N   runs per measurement, best wall time kept (default 3: the machines are shared)
#   BENCH_DUCKDB=0   skip DuckDB
#   BENCH_DIR=DIR    where data sets are generated (default /tmp)
#
# Throughput is decompressed CloudTrail bytes (the scan summary's `inputs.bytes`, checked to be
# CloudTrail only) divided by end-to-end wall time, start-up included. Peak RSS is
# `/usr/bin/time -v`'s maximum resident set size.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
gen="$repo/../shared/bench/gen_logs.py"
repeat="${BENCH_REPEAT:-3}"
data_root="${BENCH_DIR:-/tmp}"
venv="${BENCH_VENV:-/tmp/credtrail-bench-venv}"
work="$(mktemp -d /tmp/credtrail-bench-run.XXXXXX)"
trap 'rm -rf "$work"' EXIT

log() { printf '%s\n' "$*" >&2; }

# --- tools ---------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && apt-get install -y -qq time >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq time >/dev/null
    fi
fi
if [[ "${BENCH_DUCKDB:-1}" != 0 ]] && ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    log "installing duckdb into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q duckdb
fi

log "building credtrail (release)"
(cd "$repo" && cargo build --release --quiet --bin credtrail)
bin="$repo/target/release/credtrail"

# --- data ----------------------------------------------------------------------------------
sizes=(1G)
[[ "${BENCH_4G:-0}" == 1 ]] && sizes+=(4G)
for size in "${sizes[@]}"; do
    dir="$data_root/credtrail-bench-$size"
    if [[ ! -f "$dir/LABELS.jsonl" ]]; then
        log "generating $dir (python3 gen_logs.py --size $size)"
        rm -rf "$dir"
        python3 "$gen" "$dir" --size "$size" >&2
    fi
done

# --- measuring -----------------------------------------------------------------------------
# Runs "$@" $repeat times under /usr/bin/time -v; prints "best_wall_seconds max_rss_kb
# user_seconds_of_best" and leaves the best run's stdout in $work/best.out.
measure() {
    local best="" rss=0 user="" i wall r u
    for ((i = 0; i < repeat; i++)); do
        /usr/bin/time -v -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time" |
            awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
        r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
        u=$(awk -F': ' '/User time/ {print $2}' "$work/time")
        ((r > rss)) && rss=$r
        if [[ -z "$best" ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall user=$u
            cp "$work/out" "$work/best.out"
        fi
    done
    echo "$best $rss $user"
}

duck_version() { "$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)'; }

rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.3f", b / s / 1e9 }'; }

cat >"$work/duck.py" <<'EOF'
import sys, time, duckdb
glob = sys.argv[1]
sql = f"""
SELECT r.userIdentity.arn AS arn, count(DISTINCT r.sourceIPAddress) AS n_ips,
       list(DISTINCT r.sourceIPAddress) AS ips
FROM (SELECT unnest(Records) AS r
      FROM read_json('{glob}', maximum_object_size=268435456))
WHERE r.userIdentity.type = 'AssumedRole' AND r.userIdentity.arn LIKE '%/i-%'
GROUP BY ALL HAVING n_ips > 1 ORDER BY n_ips DESC;
"""
con = duckdb.connect()
con.execute(f"SET threads TO {sys.argv[2]}")
rows = con.execute(sql).fetchall()
print(f"rows={len(rows)}")
EOF

rows=()
ratios=()
for size in "${sizes[@]}"; do
    dir="$data_root/credtrail-bench-$size"
    cd "$dir/aws"
    ct_dirs=(AWSLogs/*/CloudTrail)
    threads=$(nproc)

    log "[$size] credtrail scan, $threads threads"
    read -r wall rss user < <(measure "$bin" scan "${ct_dirs[@]}" --format jsonl --no-progress \
        --quarantine "$work/quarantine.jsonl")
    summary=$(grep '"type":"summary"' "$work/best.out")
    bytes=$(sed -E 's/.*"inputs":\{"bytes":([0-9]+).*/\1/' <<<"$summary")
    formats=$(sed -E 's/.*"formats":(\{[^}]*\}).*/\1/' <<<"$summary")
    if [[ ! "$formats" =~ ^\{\"cloudtrail\":[0-9]+\}$ ]]; then
        log "error: the scanned files are not CloudTrail only: formats=$formats"
        exit 1
    fi
    rows+=("$size|credtrail, $threads threads|$bytes|$wall|$(rate "$bytes" "$wall")|$((rss / 1024))|$user")

    log "[$size] credtrail scan, 1 thread"
    read -r wall1 rss1 user1 < <(measure "$bin" scan "${ct_dirs[@]}" --format jsonl --no-progress \
        --threads 1 -o /dev/null --quarantine "$work/quarantine.jsonl")
    rows+=("$size|credtrail, 1 thread|$bytes|$wall1|$(rate "$bytes" "$wall1")|$((rss1 / 1024))|$user1")

    if [[ "${BENCH_DUCKDB:-1}" != 0 ]]; then
        log "[$size] DuckDB read_json + group-by, $threads threads"
        read -r dwall drss duser < <(measure "$venv/bin/python" "$work/duck.py" \
            'AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz' "$threads")
        log "[$size] DuckDB: $(cat "$work/best.out")"
        rows+=("$size|DuckDB $(duck_version), $threads threads|$bytes|$dwall|$(rate "$bytes" "$dwall")|$((drss / 1024))|$duser")
        ratios+=("$size: DuckDB takes $(awk -v d="$dwall" -v c="$wall" 'BEGIN { printf "%.1f", d / c }')× credtrail's wall time ($threads threads each)")
    fi
done

printf '\n| set | tool | decompressed CloudTrail bytes | best wall (s) | GB/s | peak RSS (MB) | user CPU (s) |\n'
printf '|---|---|---:|---:|---:|---:|---:|\n'
for row in "${rows[@]}"; do
    IFS='|' read -r set tool bytes wall gbs rss user <<<"$row"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$set" "$tool" "$bytes" "$wall" "$gbs" "$rss" "$user"
done
printf '\n'
for r in "${ratios[@]}"; do printf '%s\n' "$r"; done
revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "unknown revision")
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    revision="$revision + uncommitted changes"
fi
printf 'machine: %s cores, %s, %s GB; %s; credtrail %s; best of %s runs\n' "$(nproc)" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
    "$revision" "$repeat"
