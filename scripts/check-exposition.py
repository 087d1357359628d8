#!/usr/bin/env python3
"""Parses exposition files with the reference Python client (prometheus_client), a parser we
did not write, and fails on the first file it rejects.

Usage: scripts/check-exposition.py FILE...   (golden .prom files, saved scrapes)
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main(paths):
    if not paths:
        print("check-exposition: no files given", file=sys.stderr)
        return 2
    samples = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            names = set()
            for family in text_string_to_metric_families(text):
                if family.name in names:
                    raise ValueError(f"family {family.name} appears twice")
                names.add(family.name)
                samples += len(family.samples)
        except Exception as e:  # the parser raises ValueError and friends
            print(f"{path}: {e}", file=sys.stderr)
            return 1
    if samples == 0:
        print("check-exposition: the files hold no sample", file=sys.stderr)
        return 1
    print(f"check-exposition: {len(paths)} files, {samples} samples parsed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
