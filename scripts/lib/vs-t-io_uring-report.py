#!/usr/bin/env python3
"""Summarises the runs of scripts/vs-t-io_uring.sh (standard library only).

  vs-t-io_uring-report.py MANIFEST
  vs-t-io_uring-report.py --brief KIND PREFIX    one line about one run, for progress output

MANIFEST has one tab-separated line per run: round batch kind prefix (kind t or rb) and "# key<TAB>value"
header lines. Per run:
  t:  PREFIX.out  t/io_uring's output: one "IOPS=..." line per second of the run
      PREFIX.perf `perf stat -I 1000 -x, -e task-clock`: the process's CPU in each second (optional)
  rb: PREFIX.json ringbench's result file (one sample, after a warm-up)
The window is the same for both: t/io_uring's first second is left out (ringbench spends it in --warmup),
the rest is its measured window. t/io_uring IOPS = its ops over the window / seconds; CPU per op = perf's
task-clock over the same seconds / those ops (perf's intervals and t/io_uring's seconds both count from
its start, a few ms apart). ringbench: its own sample: ops_per_sec and in-sample process CPU per op.
"""
import json
import re
import statistics
import sys

UNIT = {"": 1, "K": 1e3, "M": 1e6}


def t_run(prefix):
    """(IOPS, CPU ns per op or None, seconds used) of a t/io_uring run, or None."""
    try:
        out = open(prefix + ".out").read()
    except OSError:
        return None
    per_sec = [float(v) * UNIT[u] for v, u in re.findall(r"^IOPS=([0-9.]+)([KM]?),", out, re.M)]
    if len(per_sec) < 2:
        return None
    window = per_sec[1:]
    ops = sum(window)
    cpu = None
    try:
        ms = []
        for line in open(prefix + ".perf"):
            f = line.strip().split(",")
            if len(f) > 3 and f[3] == "task-clock":
                try:
                    ms.append(float(f[1]))
                except ValueError:  # "<not counted>": the task did not run in that interval
                    ms.append(0.0)
        if len(ms) >= len(per_sec):
            cpu = sum(ms[1:len(per_sec)]) * 1e6 / ops
    except OSError:
        pass
    return ops / len(window), cpu, len(window)


def rb_run(prefix):
    try:
        s = json.load(open(prefix + ".json"))["samples"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return s["ops_per_sec"], s["cpu"]["per_op_ns"] or None, s.get("residency")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def si(v):
    if v is None:
        return "n/a"
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if v >= div:
            return "%.2f%s" % (v / div, unit) if v / div < 100 else "%.0f%s" % (v / div, unit)
    return "%.0f" % v


def num(v, fmt):
    return "n/a" if v is None else fmt % v


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--brief":
        r = t_run(sys.argv[3]) if sys.argv[2] == "t" else rb_run(sys.argv[3])
        print("no result" if r is None else "%s IOPS, %s CPU ns/op" % (si(r[0]), num(r[1], "%.0f")))
        return
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    meta, runs = {}, {}
    for line in open(sys.argv[1]):
        line = line.rstrip("\n")
        if line.startswith("# "):
            k, _, v = line[2:].partition("\t")
            meta[k] = v
        elif line:
            rnd, batch, kind, prefix = line.split("\t")
            r = t_run(prefix) if kind == "t" else rb_run(prefix)
            runs.setdefault(int(batch), {}).setdefault(int(rnd), {})[kind] = r
    print("== vs-t-io_uring: ringbench uring against fio's t/io_uring, 4 KiB random reads of one file in memory ==")
    for k in ("job", "rounds", "machine", "tools", "lock", "load"):
        if k in meta:
            print("%-8s %s" % (k + ":", meta[k]))
    print()
    rows = [["batch", "t/io_uring IOPS", "ringbench IOPS", "ratio rb/t", "ratio range", "t CPU ns/op", "rb CPU ns/op",
             "CPU ratio", "pairs"]]
    failed = 0
    for b in sorted(runs):
        t = [v.get("t") for v in runs[b].values()]
        rb = [v.get("rb") for v in runs[b].values()]
        failed += sum(1 for x in t + rb if x is None)
        ratios = [v["rb"][0] / v["t"][0] for v in runs[b].values() if v.get("rb") and v.get("t")]
        t_iops, rb_iops = med([x[0] for x in t if x]), med([x[0] for x in rb if x])
        t_cpu, rb_cpu = med([x[1] for x in t if x]), med([x[1] for x in rb if x])
        rows.append([str(b), si(t_iops), si(rb_iops), num(med(ratios), "%.3fx"),
                     "%.2f-%.2f" % (min(ratios), max(ratios)) if ratios else "n/a",
                     num(t_cpu, "%.0f"), num(rb_cpu, "%.0f"),
                     num(rb_cpu / t_cpu if rb_cpu and t_cpu else None, "%.2fx"), str(len(ratios))])
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
    print()
    print("Medians over rounds; ratio rb/t: median of the per-round ratios (each pair ran back to back).")
    print("Window: t/io_uring's seconds after its first; ringbench's sample after a warm-up of the same second.")
    print("CPU ns/op: t/io_uring: perf stat task-clock of the process over those seconds / their ops; ringbench:")
    print("its in-sample process CPU / ops. Both include every thread of the process (t/io_uring: its submitter")
    print("and the main thread that prints once a second).")
    if failed:
        print("%d run(s) gave no result: see the raw files (--keep)" % failed)
        sys.exit(1)


if __name__ == "__main__":
    main()
