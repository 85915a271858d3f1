#!/usr/bin/env bash
# Per-core comparison of two credtrail binaries on the web-log sets of bench/web.sh (issue #3):
# `--threads 1` runs of both, interleaved (so that other load on a shared machine hits both
# alike), least user CPU of $BENCH_REPEAT each, beside ripgrep counting the literal
# `169.254.169.254` in the same files in the same run (best wall of 3). Figures go to
# docs/PERFORMANCE.md.
#
#   bench/web-compare.sh OLD_BINARY NEW_BINARY
#   BENCH_REPEAT=N BENCH_COPIES=N BENCH_DIR=/tmp bench/web-compare.sh …
set -euo pipefail

old="$1" new="$2"
repeat="${BENCH_REPEAT:-7}"
copies="${BENCH_COPIES:-8}"
data_root="${BENCH_DIR:-/tmp}"
set_dir="$data_root/credtrail-bench-1G"
work="$(mktemp -d /tmp/credtrail-web-compare.XXXXXX)"
trap 'rm -rf "$work"' EXIT

[[ -f "$set_dir/LABELS.jsonl" ]] || { echo "run bench/web.sh first: it generates $set_dir" >&2; exit 2; }
command -v rg >/dev/null || { apt-get update -qq && apt-get install -y -qq ripgrep >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

# The 1G set's access logs, $copies times, each copy under its own directory (as bench/web.sh).
many="$work/access-x$copies"
for ((k = 1; k <= copies; k++)); do
    for d in "$set_dir"/hosts/*/var/log/nginx; do
        rel="${d#"$set_dir"/}"
        mkdir -p "$many/$k/$rel"
        cp "$d"/* "$many/$k/$rel/"
    done
done
mkdir -p "$work/empty"

user_of() {
    /usr/bin/time -f "%U" -o "$work/time" "$1" scan "${@:2}" --threads 1 --format jsonl --no-progress \
        -o /dev/null --quarantine "$work/q.jsonl" >/dev/null 2>&1 || true
    tail -1 "$work/time"
}
lower() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "-" }'; }

printf '| set | decompressed bytes | old: user CPU (s) | new: user CPU (s) | old: MB/s per CPU-second | new: MB/s per CPU-second | rg wall (s) | rg MB/s |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
row() {
    local name=$1
    shift
    local best_old="" best_new="" u i bytes rbest="" w
    for ((i = 0; i < repeat; i++)); do
        u=$(user_of "$old" "$@")
        if [[ -z "$best_old" ]] || lower "$u" "$best_old"; then best_old=$u; fi
        u=$(user_of "$new" "$@")
        if [[ -z "$best_new" ]] || lower "$u" "$best_new"; then best_new=$u; fi
    done
    # A scan that raises alerts exits 1.
    "$new" scan "$@" --threads 1 --format jsonl --no-progress -o "$work/out.jsonl" --quarantine "$work/q.jsonl" \
        2>/dev/null || true
    bytes=$(grep '"type":"summary"' "$work/out.jsonl" | sed -E 's/.*"inputs":\{"bytes":([0-9]+).*/\1/')
    for ((i = 0; i < 3; i++)); do
        /usr/bin/time -f "%e" -o "$work/time" rg -z -c --no-filename -F 169.254.169.254 "$@" >/dev/null 2>&1 || true
        w=$(tail -1 "$work/time")
        if [[ -z "$rbest" ]] || lower "$w" "$rbest"; then rbest=$w; fi
    done
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$bytes" "$best_old" "$best_new" \
        "$(mbs "$bytes" "$best_old")" "$(mbs "$bytes" "$best_new")" "$rbest" "$(mbs "$bytes" "$rbest")"
}
cd "$set_dir"
# shellcheck disable=SC2046
row "1G access" $(ls -d hosts/*/var/log/nginx)
row "1G access x$copies" "$many"
# shellcheck disable=SC2046
row "1G alb" $(ls -d aws/AWSLogs/*/elasticloadbalancing)
row "1G waf" aws/waf
printf '\nstart-up (empty directory), user CPU: old %s s, new %s s\n' "$(user_of "$old" "$work/empty")" \
    "$(user_of "$new" "$work/empty")"
printf 'machine: %s cores, %s; %s; load average %s; best of %s interleaved runs\n' "$(nproc)" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$repeat"
