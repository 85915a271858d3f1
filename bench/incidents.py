#!/usr/bin/env python3
"""Grouping precision on a generated set (issue #5): follows each labelled record of
LABELS.jsonl to the alerts that cite it and then to their incidents, and prints the table of
docs/INCIDENTS.md.

    credtrail scan DIR --format jsonl --no-progress > scan.jsonl
    bench/incidents.py DIR scan.jsonl

"labelled" counts a scenario instance's records that name a rule, "recall" the share of them in
an incident, "incidents" how many incidents they are spread over (1 is the goal), "shared with"
the other attack scenario instances whose labelled records sit in one of those incidents (none
is the goal). Exit status 1 when an instance is split, shared or a look-alike is escalated.
"""

import collections
import json
import os
import sys


def load_scan(path):
    alerts, incidents = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            if record.get("type") == "alert":
                alerts.append(record)
            elif record.get("type") == "incident":
                incidents.append(record)
    return alerts, incidents


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, scan = sys.argv[1], sys.argv[2]
    root = os.path.abspath(root)
    alerts, incidents = load_scan(scan)
    incident_of_alert = {a: i["id"] for i in incidents for a in i["alerts"]}
    decision = {i["id"]: i["escalation"]["decision"] for i in incidents}
    incidents_of_record = collections.defaultdict(set)
    for alert in alerts:
        incident = incident_of_alert.get(alert["id"])
        if incident is None:
            continue
        for e in alert["evidence"]:
            source = os.path.relpath(e["source"], root) if os.path.isabs(e["source"]) else e["source"]
            incidents_of_record[(source, e["index"])].add(incident)

    labelled = collections.Counter()
    found = collections.Counter()
    spread = collections.defaultdict(set)
    benign_escalated = []
    with open(os.path.join(root, "LABELS.jsonl"), encoding="utf-8") as f:
        for line in f:
            label = json.loads(line)
            key = (label["source"], label["index"])
            where = incidents_of_record.get(key, set())
            scenario = label["scenario"]
            if label["kind"] == "benign_lookalike":
                if any(decision[i] == "escalate_t2" for i in where):
                    benign_escalated.append(f"{scenario} {key[0]}#{key[1]}")
                continue
            if label["expected_rule"] is None:
                continue
            labelled[scenario] += 1
            if where:
                found[scenario] += 1
            spread[scenario] |= where

    scenarios_of_incident = collections.defaultdict(set)
    for scenario, where in spread.items():
        for i in where:
            scenarios_of_incident[i].add(scenario)

    bad = bool(benign_escalated)
    print("| scenario | labelled | recall | incidents | shared with | decision |")
    print("|---|---:|---:|---:|---|---|")
    for scenario in sorted(labelled):
        where = spread[scenario]
        shared = sorted(set().union(*(scenarios_of_incident[i] for i in where)) - {scenario}) if where else []
        decisions = sorted({decision[i] for i in where})
        recall = 100.0 * found[scenario] / labelled[scenario]
        bad |= len(where) != 1 or bool(shared) or found[scenario] != labelled[scenario]
        print(
            f"| {scenario} | {labelled[scenario]} | {recall:.0f} % | {len(where)} | "
            f"{', '.join(shared) or '-'} | {', '.join(decisions) or '-'} |"
        )
    counts = collections.Counter(decision.values())
    print()
    print(
        f"{len(incidents)} incidents ("
        + ", ".join(f"{counts[d]} {d}" for d in ("escalate_t2", "monitor", "close_benign"))
        + f"); look-alike records in an escalate_t2 incident: {len(benign_escalated)}"
    )
    for b in benign_escalated:
        print(f"  escalated look-alike: {b}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
