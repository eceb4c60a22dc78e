"""Prints the markdown table of a run of run.sh from the JSON reports of `ocpp load`.

Usage: python3 table.py RESULTS_DIR SERVER...
"""

import json
import platform
import sys
from pathlib import Path

LABELS = {
    "ours": "ours (ocpp csms)",
    "ours2": "ours, two threads (--threads 2)",
    "python": "Python ocpp 2.1.0",
    "node": "ocpp-rpc 2.2.1",
}


def load(results, name, test):
    try:
        return json.loads((results / f"{name}-{test}.json").read_text())
    except (OSError, ValueError):
        return None


def with_errors(report, text):
    errors = report["errors"]["total"]
    if errors:
        kinds = [
            f"{count} {kind.replace('_', ' ')}"
            for kind, count in report["errors"].items()
            if kind != "total" and count
        ]
        return f"{text} ({', '.join(kinds)})"
    return text


def round_trips(report):
    p50 = (report.get("latency_ms") or {}).get("p50")
    text = f"{report['round_trips_per_second']:,.0f}/s"
    if p50 is not None:
        text += f", p50 {p50:.3f} ms"
    return with_errors(report, text)


def cpu(report):
    us = (report.get("server") or {}).get("cpu_us_per_round_trip")
    if us is None:
        return with_errors(report, "-")
    return with_errors(report, f"{us:.2f} µs ({report['round_trips']:,} round trips)")


def rss(report):
    per = (report.get("server") or {}).get("rss_bytes_per_station")
    if per is None:
        return with_errors(report, "-")
    held = f"{report['booted']:,}/{report['stations']:,} held"
    return with_errors(report, f"{per / 1024:.1f} KiB ({held})")


def storm(report):
    seconds = report.get("boot_seconds")
    if seconds is None:
        return with_errors(report, "-")
    answered = f"{report['booted']:,}/{report['stations']:,} accepted"
    cpu = (report.get("server") or {}).get("cpu_seconds_boot")
    if cpu is not None:
        answered += f", server CPU {cpu:.2f} s"
    return with_errors(report, f"{seconds:.2f} s ({answered})")


def stations(results, servers, test):
    for name in servers:
        report = load(results, name, test)
        if report:
            return f"{report['stations']:,}"
    return "?"


def main():
    results = Path(sys.argv[1])
    servers = sys.argv[2:]
    rows = [
        ("round trips/s, 1 station (Heartbeat)", "rt1", round_trips),
        ("server CPU per round trip, 10 stations", "cpu", cpu),
        (f"server RSS per idle station, {stations(results, servers, 'idle-small')} stations",
         "idle-small", rss),
        (f"server RSS per idle station, {stations(results, servers, 'idle-large')} stations",
         "idle-large", rss),
        (f"boot storm, {stations(results, servers, 'storm-small')} stations: all answered after",
         "storm-small", storm),
        (f"boot storm, {stations(results, servers, 'storm-large')} stations: all answered after",
         "storm-large", storm),
    ]
    print("| | " + " | ".join(LABELS.get(s, s) for s in servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for label, test, cell in rows:
        cells = []
        for name in servers:
            report = load(results, name, test)
            cells.append(cell(report) if report else "failed")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print(f"Machine: {platform.machine()}, {platform.release()}, "
          f"{len(__import__('os').sched_getaffinity(0))} CPUs available to the run.")


if __name__ == "__main__":
    main()
