#!/usr/bin/env bash
# GCP Cloud Audit Logs and Azure Activity log throughput (issue #6): parsing plus all detectors, in
# MB/s of decompressed input. Not part of `cargo test`; figures go to docs/PERFORMANCE.md.
#
#   bench/cloud.sh                  # ~200 MB of each (generated under /tmp if missing)
#   BENCH_MB=800 bench/cloud.sh     # the size of each set, in MB
#   BENCH_REPEAT=N bench/cloud.sh   # runs per measurement, best kept (default 3)
#
# gen_logs.py writes no GCP or Azure logs, so the sets are made here from the vendor-shaped
# fixtures in testdata/formats/ (the records of `gcp-audit/sink.jsonl` and
# `azure-activity/records.json`), repeated with shifted times (their callers, and so the set of
# identity and address pairs the detectors keep, stay those of the fixtures: state grows with
# distinct pairs, not with records), and
# laid out as the exports are: a Cloud Storage sink writes hourly JSON-lines objects
# (`cloudaudit.googleapis.com/activity/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json`), Azure diagnostic
# settings hourly `{"records":[…]}` blobs (`…/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`).
# Each set is scanned with all cores (wall time: MB/s) and with `--threads 1` (user CPU: the
# per-core cost, steadier than wall time on a shared machine).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
repeat="${BENCH_REPEAT:-3}"
size_mb="${BENCH_MB:-200}"
root="${BENCH_DIR:-/tmp}/credtrail-bench-cloud-v2-${size_mb}M"
log() { printf '%s\n' "$*" >&2; }

[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [[ ! -f "$root/.done" ]]; then
    log "generating $root"
    rm -rf "$root"
    python3 - "$repo" "$root" "$size_mb" <<'PY'
import json, os, random, sys, datetime
repo, root, size_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(7)
gcp = [json.loads(l) for l in open(f"{repo}/testdata/formats/gcp-audit/sink.jsonl") if l.strip()]
azure = json.load(open(f"{repo}/testdata/formats/azure-activity/records.json"))["records"]
start = datetime.datetime(2026, 9, 14, tzinfo=datetime.timezone.utc)

def write_set(name, templates, per_hour, emit):
    target = size_mb * 1_000_000
    written, hour, n = 0, 0, 0
    while written < target:
        t0 = start + datetime.timedelta(hours=hour)
        recs = []
        for i in range(per_hour):
            rec = json.loads(json.dumps(rng.choice(templates)))
            t = (t0 + datetime.timedelta(seconds=i * 3600 // per_hour)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            emit(rec, t)
            recs.append(rec)
            n += 1
        path, text = name(t0, recs)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        written += len(text)
        hour += 1
    print(f"{path.split('/')[3]}: {n} records, {written} bytes, {hour} files")

def gcp_emit(rec, t):
    rec["timestamp"] = rec["receiveTimestamp"] = t

def gcp_file(t0, recs):
    d = t0.strftime("%Y/%m/%d")
    h = t0.strftime("%H")
    return (f"{root}/gcp/cloudaudit.googleapis.com/activity/{d}/{h}:00:00_{h}:59:59_S0.json",
            "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs))

def azure_emit(rec, t):
    rec["time"] = t

def azure_file(t0, recs):
    p = t0.strftime("y=%Y/m=%m/d=%d/h=%H/m=00")
    return (f"{root}/azure/insights-activity-logs/resourceId=/SUBSCRIPTIONS/0B1F6471/{p}/PT1H.json",
            json.dumps({"records": recs}, separators=(",", ":")))

write_set(gcp_file, gcp, 4000, gcp_emit)
write_set(azure_file, azure, 1500, azure_emit)
PY
    touch "$root/.done"
fi

(cd "$repo" && cargo build --release --quiet --bin credtrail)
bin="$repo/target/release/credtrail"
work="$(mktemp -d /tmp/credtrail-cloud-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

measure() { # set threads -> "wall user rss bytes"
    local dir="$1" threads="$2" best="" user="" rss=0 bytes
    for _ in $(seq "$repeat"); do
        /usr/bin/time -f '%e %U %M' -o "$work/time" "$bin" scan "$dir" --format jsonl --no-progress \
            --threads "$threads" --quarantine "$work/q.jsonl" >"$work/out.jsonl" || [[ $? == 1 ]]
        # GNU time writes "Command exited with non-zero status 1" first when alerts were found.
        read -r wall u r < <(tail -1 "$work/time")
        if [[ -z "$best" ]] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; user=$u; fi
        ((r > rss)) && rss=$r
    done
    bytes=$(tail -1 "$work/out.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["inputs"]["bytes"])')
    echo "$best $user $((rss / 1024)) $bytes"
}

printf '| set | decompressed bytes | records | wall (s), 2 threads | MB/s | peak RSS (MB) | 1 thread: user CPU (s) | 1 thread: MB/s per CPU-second |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
for set in gcp azure; do
    read -r wall _ rss bytes < <(measure "$root/$set" "$(nproc)")
    records=$(tail -1 "$work/out.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"]["read"])')
    read -r _ user1 _ _ < <(measure "$root/$set" 1)
    awk -v s="$set" -v b="$bytes" -v r="$records" -v w="$wall" -v m="$rss" -v u="$user1" \
        'BEGIN{printf "| %s | %d | %d | %.2f | %.0f | %d | %.2f | %.0f |\n", s, b, r, w, b/w/1e6, m, u, b/u/1e6}'
done
