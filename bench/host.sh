#!/usr/bin/env bash
# Host-telemetry throughput (issue #4): auditd parsing plus the host detectors, in MB/s of
# decompressed input and events/s, on the generated 1G set, beside ripgrep counting the literal
# `A9FEA9FE` (169.254.169.254 in a SOCKADDR) in the same files in the same run (the floor a
# string search gives). Not part of `cargo test`; figures go to docs/PERFORMANCE.md.
#
#   bench/host.sh                    # on /tmp/credtrail-bench-1G (generated if missing)
#   BENCH_REPEAT=N bench/host.sh     # runs per measurement, best kept (default 3)
#   BENCH_COPIES=N bench/host.sh     # copies of the audit logs in `audit xN` (default 8)
#
# The 1G set's audit logs are small (about 60 MB in 14 files), so `audit xN` scans N copies of
# them, each copy in its own `hosts/<instance>/…` tree, to show the rate once start-up is paid.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
repeat="${BENCH_REPEAT:-3}"
copies="${BENCH_COPIES:-8}"
data_root="${BENCH_DIR:-/tmp}"
dir="$data_root/credtrail-bench-1G"
work="$(mktemp -d /tmp/credtrail-host-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

command -v rg >/dev/null || { apt-get update -qq && apt-get install -y -qq ripgrep >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
if [[ ! -f "$dir/LABELS.jsonl" ]]; then
    rm -rf "$dir"
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
per() { awk -v b="$1" -v s="$2" -v d="$3" 'BEGIN { printf "%.0f", b / s / d }'; }

many="$work/audit-x$copies"
for ((k = 1; k <= copies; k++)); do
    for d in "$dir"/hosts/*/var/log/audit; do
        rel="${d#"$dir"/}"
        mkdir -p "$many/$k/$rel"
        cp "$d"/* "$many/$k/$rel/"
    done
done

printf '| logs | decompressed bytes | events | credtrail wall (s) | MB/s | events/s | user CPU (s) | peak RSS (MB) | 1 thread: user CPU (s) | 1 thread: MB/s per CPU-second | rg wall (s) | rg MB/s | credtrail / rg |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
row() {
    local name=$1
    shift
    local wall rss user wall1 user1 rwall bytes events summary
    read -r wall rss user < <(measure "$bin" scan "$@" --format jsonl --no-progress --quarantine "$work/q.jsonl")
    summary=$(grep '"type":"summary"' "$work/best.out")
    bytes=$(sed -E 's/.*"inputs":\{"bytes":([0-9]+).*/\1/' <<<"$summary")
    events=$(sed -E 's/.*"events":([0-9]+).*/\1/' <<<"$summary")
    read -r wall1 _ user1 < <(measure "$bin" scan "$@" --format jsonl --no-progress --threads 1 -o /dev/null --quarantine "$work/q.jsonl")
    read -r rwall _ _ < <(measure rg -c --no-filename -F A9FEA9FE "$@")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$bytes" "$events" "$wall" \
        "$(per "$bytes" "$wall" 1e6)" "$(per "$events" "$wall" 1)" "$user" "$((rss / 1024))" "$user1" \
        "$(per "$bytes" "$user1" 1e6)" "$rwall" "$(per "$bytes" "$rwall" 1e6)" \
        "$(awk -v c="$rwall" -v w="$wall" 'BEGIN { printf "%.2f", c / w }')"
}
cd "$dir"
# shellcheck disable=SC2046
row "audit (1G set)" $(ls -d hosts/*/var/log/audit)
row "audit x$copies" "$many"
dirty=""
[[ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]] && dirty=" (working tree with uncommitted changes)"
printf '\nmachine: %s cores, %s; %s; credtrail %s%s; best of %s runs\n' "$(nproc)" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
    "$(git -C "$repo" rev-parse --short HEAD)" "$dirty" "$repeat"
