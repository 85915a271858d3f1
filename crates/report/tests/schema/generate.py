#!/usr/bin/env python3
"""Generates the JSON Schema that `tests/ocsf_schema.rs` validates credtrail's OCSF output against.

Source: the PyPI package `ocsf-json-schema` (MIT), which bundles the official OCSF schema
exports (Apache-2.0, downloaded by its author from the OCSF schema server's `/export/schema`)
and turns a class of that export into a JSON Schema (draft 2020-12) with every referenced
object embedded under `$defs`. See PROVENANCE.md for the exact commands.

Step 1 is the package's own output, unchanged. Step 2 (skipped with `--no-siblings`) adds one
rule the package does not encode but the OCSF dictionary does: an enum attribute's `sibling`
string (`severity` for `severity_id`, `status` for `status_id`, `type` for `type_id`, ...) must
be the caption of the id, unless the id is 99 (Other), where the sibling carries the source's
own value. Each rule is an `if`/`then` in an `allOf` on the object that holds the attribute.

Usage: generate.py [--version 1.3.0] [--class detection_finding] [--profile cloud ...]
                   [--no-siblings] [--output PATH]
"""

import argparse
import json
import sys
from pathlib import Path

from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
from ocsf_json_schema.utility import generate_object_name_slug

OTHER = "99"


def sibling_rules(attributes: dict, properties: dict) -> list:
    """if/then rules tying each enum id in `properties` to its sibling caption."""
    rules = []
    for name in sorted(attributes):
        attr = attributes[name]
        sibling = attr.get("sibling")
        enum = attr.get("enum")
        if not sibling or not enum or name not in properties or sibling not in properties:
            continue
        for value in sorted(enum, key=int):
            if value == OTHER:
                continue
            rules.append(
                {
                    "if": {"required": [name], "properties": {name: {"const": int(value)}}},
                    "then": {"properties": {sibling: {"const": enum[value]["caption"]}}},
                }
            )
    return rules


def add_sibling_rules(node: dict, attributes: dict) -> None:
    rules = sibling_rules(attributes, node.get("properties", {}))
    if rules:
        node.setdefault("allOf", []).extend(rules)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="1.3.0")
    parser.add_argument("--class", dest="class_name", default="detection_finding")
    parser.add_argument("--profile", action="append", default=None, help="default: cloud")
    parser.add_argument("--no-siblings", action="store_true")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    profiles = args.profile if args.profile is not None else ["cloud"]

    export = get_ocsf_schema(version=args.version)
    if export.get("version") != args.version:
        raise SystemExit(f"packaged export says version {export.get('version')!r}")

    schema = OcsfJsonSchemaEmbedded(export).get_class_schema(
        class_name=args.class_name, profiles=profiles
    )

    if not args.no_siblings:
        add_sibling_rules(schema, export["classes"][args.class_name]["attributes"])
        by_slug = {generate_object_name_slug(n): o for n, o in export["objects"].items()}
        for slug, node in schema.get("$defs", {}).items():
            add_sibling_rules(node, by_slug[slug]["attributes"])

    text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
