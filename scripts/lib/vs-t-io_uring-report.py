#!/usr/bin/env python3
"""Summarises the runs of scripts/vs-t-io_uring.sh (standard library only).

  vs-t-io_uring-report.py MANIFEST
  vs-t-io_uring-report.py --brief KIND PREFIX    one line about one run, for progress output

MANIFEST has one tab-separated line per run: round batch kind prefix (kind t, floor or rb) and
"# key<TAB>value" header lines. Per run:
  t:     PREFIX.out  t/io_uring's output: one "IOPS=..." line per second of the run
         PREFIX.perf `perf stat -I 1000 -x, -e task-clock`: the process's CPU in each second (optional)
  floor: PREFIX.out  go test's output for internal/ring's BenchmarkReadLoop at one batch: ns/op and cpu-ns/op
         of its last (longest) run
  rb:    PREFIX.json ringbench's result file (one sample, after a warm-up)
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


def floor_run(prefix):
    """(IOPS, CPU ns per op) of the ring floor's final benchmark run, or None."""
    try:
        out = open(prefix + ".out").read()
    except OSError:
        return None
    runs = re.findall(r"^BenchmarkReadLoop/\S+\s+\d+\s+([0-9.]+) ns/op.*?\s([0-9.]+) cpu-ns/op", out, re.M)
    if not runs:
        return None
    ns, cpu = (float(v) for v in runs[-1])
    return 1e9 / ns if ns > 0 else None, cpu or None


def rb_run(prefix):
    try:
        s = json.load(open(prefix + ".json"))["samples"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return s["ops_per_sec"], s["cpu"]["per_op_ns"] or None, s.get("residency")


RUNNERS = {"t": t_run, "floor": floor_run, "rb": rb_run}


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
        r = RUNNERS[sys.argv[2]](sys.argv[3]) if sys.argv[2] in RUNNERS else None
        print("no result" if r is None or r[0] is None else "%s IOPS, %s CPU ns/op" % (si(r[0]), num(r[1], "%.0f")))
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
            r = RUNNERS[kind](prefix)
            if r is not None and r[0] is None:
                r = None
            runs.setdefault(int(batch), {}).setdefault(int(rnd), {})[kind] = r
    print("== vs-t-io_uring: ringbench uring against fio's t/io_uring, 4 KiB random reads of one file in memory ==")
    for k in ("job", "rounds", "machine", "tools", "lock", "load"):
        if k in meta:
            print("%-8s %s" % (k + ":", meta[k]))
    print()
    has_floor = any("floor" in v for rs in runs.values() for v in rs.values())
    kinds = ["t", "floor", "rb"] if has_floor else ["t", "rb"]
    names = {"t": "t/io_uring", "floor": "floor", "rb": "ringbench"}
    header = ["batch"] + [names[k] + " IOPS" for k in kinds] + ["rb/t", "rb/t range"]
    if has_floor:
        header += ["floor/t", "rb/floor"]
    header += [names[k] + " CPU ns/op" for k in kinds] + ["rounds"]
    rows = [header]
    failed = 0

    def ratios(rs, a, b):
        return [v[a][0] / v[b][0] for v in rs if v.get(a) and v.get(b)]

    for b in sorted(runs):
        rs = list(runs[b].values())
        got = {k: [v.get(k) for v in rs] for k in kinds}
        failed += sum(1 for k in kinds for x in got[k] if x is None)
        rb_t = ratios(rs, "rb", "t")
        row = [str(b)] + [si(med([x[0] for x in got[k] if x])) for k in kinds]
        row += [num(med(rb_t), "%.3fx"), "%.2f-%.2f" % (min(rb_t), max(rb_t)) if rb_t else "n/a"]
        if has_floor:
            row += [num(med(ratios(rs, "floor", "t")), "%.3fx"), num(med(ratios(rs, "rb", "floor")), "%.3fx")]
        row += [num(med([x[1] for x in got[k] if x]), "%.0f") for k in kinds] + [str(len(rs))]
        rows.append(row)
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
    print()
    print("Medians over rounds; the ratios are medians of the per-round ratios (the runs of a round go back to back).")
    print("Window: t/io_uring's seconds after its first; ringbench's sample after a warm-up of the same second.")
    print("CPU ns/op: t/io_uring: perf stat task-clock of the process over those seconds / their ops; ringbench:")
    print("its in-sample process CPU / ops. Both include every thread of the process (t/io_uring: its submitter")
    print("and the main thread that prints once a second).")
    if has_floor:
        print("floor: internal/ring's BenchmarkReadLoop, t/io_uring's loop in Go on ringbench's ring without the")
        print("request loop's per-read bookkeeping (latency stamp and histogram, result checks, backend interface);")
        print("its last benchmark run, CPU ns/op its process CPU over that run. floor/t is the cost of Go and the")
        print("ring; rb/floor the cost of ringbench's harness.")
    if failed:
        print("%d run(s) gave no result: see the raw files (--keep)" % failed)
        sys.exit(1)


if __name__ == "__main__":
    main()
