#!/usr/bin/python3
"""Checks a WEFT_TRACE timeline (weft-perf --trace, merged over ranks):
   - it is the Chrome trace event format Perfetto reads: a JSON array of
     events, each with name, ph, pid (and tid); "X" events with numeric ts and
     dur >= 0; "M" metadata naming processes and lanes;
   - every rank has a call span per call with its algorithm and bytes;
   - with --sites: the hierarchical allreduce's WAN transfers overlap its
     transfers inside the sites on some rank (the pipeline is visible).
usage: check_trace.py TRACE.json NRANKS [--sites] [--algo ALGO]"""
import json
import sys


def fail(msg):
    print("check_trace: " + msg)
    sys.exit(1)


def main():
    path, nranks = sys.argv[1], int(sys.argv[2])
    sites = "--sites" in sys.argv
    algo = sys.argv[sys.argv.index("--algo") + 1] if "--algo" in sys.argv else None
    with open(path) as f:
        events = json.load(f)
    if not isinstance(events, list) or not events:
        fail("not a non-empty JSON array")
    spans = {}
    named = set()
    for i, e in enumerate(events):
        for key in ("name", "ph", "pid"):
            if key not in e:
                fail("event %d has no %s: %r" % (i, key, e))
        if e["ph"] == "M":
            if e["name"] not in ("process_name", "process_sort_index", "thread_name"):
                fail("event %d: unknown metadata %r" % (i, e["name"]))
            if e["name"] == "thread_name":
                named.add((e["pid"], e["tid"]))
            continue
        if e["ph"] != "X":
            fail("event %d: phase %r (only X and M are written)" % (i, e["ph"]))
        for key in ("ts", "dur", "tid", "cat"):
            if key not in e:
                fail("event %d has no %s: %r" % (i, key, e))
        if not isinstance(e["ts"], (int, float)) or not isinstance(e["dur"], (int, float)) or e["dur"] < 0:
            fail("event %d: bad ts/dur %r" % (i, e))
        if (e["pid"], e["tid"]) not in named:
            fail("event %d: lane %d of rank %d has no name" % (i, e["tid"], e["pid"]))
        spans.setdefault(e["pid"], []).append(e)
    if sorted(spans) != list(range(nranks)):
        fail("ranks with spans: %s, expected 0..%d" % (sorted(spans), nranks - 1))
    overlap_ranks = 0
    for rank, ev in spans.items():
        calls = [e for e in ev if e["cat"] == "call"]
        if not calls:
            fail("rank %d: no call spans" % rank)
        for c in calls:
            a = c.get("args", {})
            if "algorithm" in a and ("bytes" not in a or "result" not in a):
                fail("rank %d: call span without bytes/result: %r" % (rank, c))
        if algo and not any(c.get("args", {}).get("algorithm") == algo for c in calls):
            fail("rank %d: no call ran %s: %s" % (rank, algo, sorted({c["args"].get("algorithm") for c in calls})))
        wan = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e["cat"] == "wan"]
        local = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e["cat"] == "net"]
        if any(a0 < b1 and b0 < a1 for a0, a1 in wan for b0, b1 in local):
            overlap_ranks += 1
    if sites and overlap_ranks == 0:
        fail("no rank's WAN transfers overlap its transfers inside the site")
    print("check_trace: %d events, %d ranks, WAN overlapping intra-site on %d rank(s): ok"
          % (len(events), nranks, overlap_ranks))


main()
