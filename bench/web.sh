#!/usr/bin/env bash
# Web-log throughput (issue #3): access-log, load-balancer and WAF-log parsing plus detection, in
# MB/s of decompressed input, beside ripgrep counting the literal `169.254.169.254` in the same
# files in the same run (the floor a plain string search gives; it cannot see encoded forms).
# Not part of `cargo test`; figures go to docs/PERFORMANCE.md.
#
#   bench/web.sh                    # on /tmp/credtrail-bench-1G (generated if missing)
#   BENCH_REPEAT=N bench/web.sh     # runs per measurement, best kept (default 3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
repeat="${BENCH_REPEAT:-3}"
dir="${BENCH_DIR:-/tmp}/credtrail-bench-1G"
work="$(mktemp -d /tmp/credtrail-web-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log() { printf '%s\n' "$*" >&2; }

command -v rg >/dev/null || { apt-get update -qq && apt-get install -y -qq ripgrep >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
if [[ ! -f "$dir/LABELS.jsonl" ]]; then
    log "generating $dir"
    python3 "$repo/../shared/bench/gen_logs.py" "$dir" --size 1G >&2
fi
(cd "$repo" && cargo build --release --quiet --bin credtrail)
bin="$repo/target/release/credtrail"

# Best wall time of $repeat runs: prints "wall_seconds max_rss_kb user_seconds".
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
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }

cd "$dir"
declare -A sets
sets[access]="$(ls -d hosts/*/var/log/nginx | tr '\n' ' ')"
sets[alb]="$(ls -d aws/AWSLogs/*/elasticloadbalancing | tr '\n' ' ')"
sets[waf]="aws/waf"
printf '| logs | decompressed bytes | credtrail wall (s) | credtrail MB/s | user CPU (s) | peak RSS (MB) | rg wall (s) | rg MB/s | rg matches | credtrail / rg |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for name in access alb waf; do
    # shellcheck disable=SC2086
    read -r wall rss user < <(measure "$bin" scan ${sets[$name]} --format jsonl --no-progress --quarantine "$work/q.jsonl")
    summary=$(grep '"type":"summary"' "$work/best.out")
    bytes=$(sed -E 's/.*"inputs":\{"bytes":([0-9]+).*/\1/' <<<"$summary")
    # shellcheck disable=SC2086
    read -r rwall _ _ < <(measure rg -z -c --no-filename -F 169.254.169.254 ${sets[$name]})
    matches=$(awk '{ s += $1 } END { print s + 0 }' "$work/best.out")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$bytes" "$wall" "$(mbs "$bytes" "$wall")" \
        "$user" "$((rss / 1024))" "$rwall" "$(mbs "$bytes" "$rwall")" "$matches" \
        "$(awk -v c="$rwall" -v w="$wall" 'BEGIN { printf "%.2f", c / w }')"
done
printf '\nmachine: %s cores, %s; %s; credtrail %s; best of %s runs\n' "$(nproc)" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
    "$(git -C "$repo" rev-parse --short HEAD)" "$repeat"
