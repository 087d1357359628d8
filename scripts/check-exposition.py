#!/usr/bin/env python3
"""Parses exposition files with the reference Python client (prometheus_client), a parser we
did not write, and fails if it rejects any file (each rejected file is named with the reason).

Usage: scripts/check-exposition.py [--openmetrics] [--repeated-series-in SUFFIX]... FILE...
       (- reads standard input)

Without --openmetrics the files are the text format 0.0.4 (golden .prom files, saved scrapes).
With it they are OpenMetrics 1.0 and go through prometheus_client's OpenMetrics parser, which is
strict where Prometheus is lenient: a counter family must be named without `_total`, the body
must end with `# EOF`, and neither a family nor a series may appear twice.

--repeated-series-in names a file (by the end of its path) known to repeat a series on purpose:
its repeats are dropped before the parse, so the rest of it is still checked, and the file must
hold at least one, so the exception cannot outlive its reason.
"""
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families


def read(path):
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def drop_repeated_series(text):
    """The text without the samples whose series (name and labels) an earlier line has, and
    how many were dropped."""
    seen = set()
    kept = []
    dropped = 0
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            series = line.rstrip("\n").rsplit(" ", 1)[0]
            if series in seen:
                dropped += 1
                continue
            seen.add(series)
        kept.append(line)
    return "".join(kept), dropped


def main(args):
    openmetrics = False
    repeated = []
    paths = []
    args = iter(args)
    for arg in args:
        if arg == "--openmetrics":
            openmetrics = True
        elif arg == "--repeated-series-in":
            repeated.append(next(args, ""))
        else:
            paths.append(arg)
    parse = openmetrics_families if openmetrics else text_families
    kind = "OpenMetrics" if openmetrics else "text"
    if not paths:
        print("check-exposition: no files given", file=sys.stderr)
        return 2
    samples = 0
    rejected = 0
    for path in paths:
        text = read(path)
        try:
            if any(suffix and path.endswith(suffix) for suffix in repeated):
                text, dropped = drop_repeated_series(text)
                if dropped == 0:
                    raise ValueError("named by --repeated-series-in but repeats no series")
            names = set()
            for family in parse(text):
                if family.name in names:
                    raise ValueError(f"family {family.name} appears twice")
                names.add(family.name)
                samples += len(family.samples)
        except Exception as e:  # the parsers raise ValueError and friends
            print(f"{path}: {e}", file=sys.stderr)
            rejected += 1
    if rejected:
        print(f"check-exposition: {rejected} of {len(paths)} files ({kind}) rejected", file=sys.stderr)
        return 1
    if samples == 0:
        print("check-exposition: the files hold no sample", file=sys.stderr)
        return 1
    print(f"check-exposition: {len(paths)} files ({kind}), {samples} samples parsed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
