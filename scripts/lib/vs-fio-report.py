#!/usr/bin/env python3
"""Summarises the runs of scripts/vs-fio.sh (standard library only).

  vs-fio-report.py MANIFEST
  vs-fio-report.py --brief KIND PREFIX   one line about one run, for progress output

MANIFEST has one tab-separated line per run: mode section round label kind prefix, where mode is timed (the
tool ran bare: throughput, CPU) or counted (under perf stat: syscalls), section is small or many, kind is fio,
rb or loop, and prefix names the run's files:
  prefix.json  fio --output-format=json, ringbench's result file, or the JSON line of vs-fio-loop or of
               scripts/c/manyfile-uring (kind loop)
  prefix.perf  perf stat -x, output, events in the order of PERF_EVENTS (absent without perf)
  prefix.time  "real user sys" seconds of the whole process tree (bash time: includes io_uring threads)
  prefix.res   "before after" page-cache residency of the data set (fio and loop runs)
Header lines "# key<TAB>value" carry the settings printed at the top.
"""
import json
import statistics
import sys

# The order vs-fio.sh passes the events to perf stat.
PERF_EVENTS = ["syscalls", "enters", "enters_to_submit", "enters_wakeup", "enters_wait", "task_clock"]

SMALL = [  # (label, shown as, kind)
    ("fio-psync", "fio psync", "fio"),
    ("rb-epoll", "ringbench epoll", "rb"),
    ("fio-uring", "fio io_uring", "fio"),
    ("rb-uring", "ringbench uring", "rb"),
    ("fio-sqpoll", "fio io_uring sqpoll", "fio"),
    ("rb-sqpoll", "ringbench sqpoll", "rb"),
]
MANY = [("c-loop", "plain loop", "loop"), ("c-uring-chain", "liburing chain", "loop"), ("rb-mf-epoll", "ringbench epoll", "rb"),
        ("rb-mf-uring", "ringbench uring", "rb")]
MANY_PAIRS = [("rb-mf-epoll", "c-loop", "epoll / plain loop"), ("rb-mf-uring", "c-loop", "uring / plain loop"),
              ("rb-mf-uring", "c-uring-chain", "uring / liburing chain")]
PAIRS = [("rb-epoll", "fio-psync", "epoll / fio psync"), ("rb-uring", "fio-uring", "uring / fio io_uring"),
         ("rb-sqpoll", "fio-sqpoll", "sqpoll / fio sqpoll")]

# Goals from the issue.
GOAL_IOPS_RATIO = 1.0
GOAL_URING_SYSCALLS = 0.035
GOAL_SQPOLL_SUBMIT_ENTERS = 0.01
GOAL_MANYFILE_RATIO = 0.80
# Every job keeps at least one CPU busy; a timed run below this was stalled by other work on the machine.
STALLED_CPUS = 0.6


def read(path):
    """The text of path; "" when it cannot be read (a run that wrote no such file)."""
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def load_json(path):
    text = read(path)
    i = text.find("{")
    if i < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(text[i:])[0]
    except ValueError:
        return None


def parse_perf(path):
    text = read(path)
    vals = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split(",")
        try:
            vals.append(float(f[0]))
        except ValueError:  # <not counted>, <not supported>
            vals.append(None)
    if len(vals) != len(PERF_EVENTS):
        return None
    return dict(zip(PERF_EVENTS, vals))


class Run:
    def __init__(self, mode, section, rnd, label, kind, prefix):
        self.mode, self.section, self.round, self.label, self.kind, self.prefix = mode, section, int(rnd), label, kind, prefix
        # cpu_ns: whole run (the compared figure); cpu_ns_in: the tool's own in-window figure (reference only)
        self.ops = self.rate = self.cpu_ns = self.cpu_ns_in = None
        self.own_sys = self.own_backend_sys = self.own_enters = None
        self.residency = None
        self.warnings = []
        self.error = None
        self.perf = parse_perf(prefix + ".perf")
        t = read(prefix + ".time")
        self.time = [float(x) for x in t.split()[:3]] if t and len(t.split()) >= 3 else None
        j = load_json(prefix + ".json")
        if j is None:
            self.error = "no result (see %s.err)" % prefix
            return
        if kind == "fio":
            job = j["jobs"][0]
            if job.get("error"):
                self.error = "fio error %s" % job["error"]
            rd = job["read"]
            self.ops, self.rate = rd["total_ios"], rd["iops"]
            # fio's own figure: getrusage(RUSAGE_THREAD) of the job thread over the job's runtime; it misses
            # io_uring's kernel threads (the SQPOLL poll thread among them).
            if self.ops and job.get("job_runtime"):
                self.cpu_ns_in = (job.get("usr_cpu", 0) + job.get("sys_cpu", 0)) / 100 * job["job_runtime"] * 1e6 / self.ops
        elif kind == "loop":
            self.ops, self.rate, self.cpu_ns_in = j["files"], j["files_per_sec"], j.get("cpu_ns_per_file")
            self.impl = j.get("impl", "c")
        else:
            ss = j.get("samples") or []
            if not ss:
                self.error = "ringbench wrote no sample"
                return
            s = ss[0]
            self.ops, self.rate = s["ops"], s["ops_per_sec"]
            self.cpu_ns_in = s["cpu"]["per_op_ns"] or None
            sc = s.get("syscalls") or {}
            if sc.get("available"):
                self.own_sys = sc.get("per_op")
                if sc.get("backend"):
                    self.own_backend_sys = sc["backend"].get("per_op")
            if s.get("enters_per_op", -1) >= 0:
                self.own_enters = s["enters_per_op"]
            r = s.get("residency")
            if r:
                self.residency = min(r["before"], r["after"])
            # Result schema 1: strings; 2: {"kind", "text"}.
            self.warnings = [w.get("text", "") if isinstance(w, dict) else w for w in s.get("warnings") or []]
        # CPU per op, the same window for every tool: user+sys of the whole run (bash time: the process tree,
        # io_uring kernel threads included) / ops of the whole run. ringbench runs with --warmup 0 --count 1,
        # so its one sample holds every op it did.
        if self.time and self.ops:
            self.cpu_ns = (self.time[1] + self.time[2]) * 1e9 / self.ops
        if self.mode == "counted":
            # perf's tracepoints slow every syscall: throughput and CPU come from the timed runs only.
            self.rate = self.cpu_ns = self.cpu_ns_in = None
        if kind != "rb":
            r = read(prefix + ".res")
            if r and r.split():
                self.residency = min(float(x) for x in r.split())

    def utilisation(self):
        """CPUs busy during a timed run (user+sys over wall time, start-up included), or None."""
        if self.mode != "timed" or self.error:
            return None
        if self.time and self.time[0] > 0:
            return (self.time[1] + self.time[2]) / self.time[0]
        return None

    def stalled(self):
        u = self.utilisation()
        return u is not None and u < STALLED_CPUS

    def per_op(self, ev):
        if not self.perf or not self.ops or self.perf.get(ev) is None:
            return None
        return self.perf[ev] / self.ops

    def syscalls(self):
        """Syscalls per op in steady state: ringbench's own in-sample count (every thread of the process,
        start-up and data-set checks excluded); for fio and the loop, perf over the whole run."""
        if self.kind == "rb":
            return self.own_sys
        return self.per_op("syscalls")

    def submit_enters(self):
        # With SQPOLL the kernel ignores to_submit: only an enter that wakes the poll thread submits.
        return self.per_op("enters_wakeup" if "sqpoll" in self.label else "enters_to_submit")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rng(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def job_rows(runs, jobs, figures, name=lambda label, name, rs: name):
    """A table row for each job (label, shown as, kind) of jobs that has runs among runs: its name (as name
    gives it), its throughput (median, min-max), the median of each (figure of a run, format) of figures, its
    CPU per op (whole run, in-window) and its residency. Throughput and CPU leave stalled runs out."""
    rows = []
    for label, shown, _ in jobs:
        rs = [r for r in runs if r.label == label]
        if not rs:
            continue
        ok = [r for r in rs if not r.stalled()]
        lo, hi = rng([r.rate for r in ok])
        rows.append([name(label, shown, rs), si(med([r.rate for r in ok])), "%s-%s" % (si(lo), si(hi))] +
                    [num(med([figure(r) for r in rs]), fmt) for figure, fmt in figures] +
                    [num(med([r.cpu_ns for r in ok]), "%.0f"), num(med([r.cpu_ns_in for r in ok]), "%.0f"),
                     pct(min([r.residency for r in rs if r.residency is not None], default=None))])
    return rows


def loop_name(label, name, rs):
    """The name of a job in the many-file table: the plain loop's says which language it was built in."""
    if label != "c-loop":
        return name
    return name + " (%s)" % ("C" if getattr(rs[0], "impl", "c") == "c" else "Go, no cc")


def cpu_ratio(runs, a, b):
    """"   CPU/op ratio" of the unstalled runs labelled a to those labelled b, or "" where either has none."""
    cpu_a = med([r.cpu_ns for r in runs if r.label == a and not r.stalled()])
    cpu_b = med([r.cpu_ns for r in runs if r.label == b and not r.stalled()])
    return "" if not cpu_a or not cpu_b else "   CPU/op ratio %.2fx" % (cpu_a / cpu_b)


def si(v):
    if v is None:
        return "n/a"
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return "%.1f%s" % (v / div, unit) if v / div < 100 else "%.0f%s" % (v / div, unit)
    return "%.0f" % v


def num(v, fmt="%.3f"):
    return "n/a" if v is None else fmt % v


def pct(v):
    return "n/a" if v is None else "%.0f%%" % (v * 100)


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = []
    for r in [header] + rows:
        out.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def paired(runs, a, b):
    """Ratios a/b of the runs of one round (they ran back to back), over all rounds."""
    by = {}
    for r in runs:
        if r.mode == "timed":
            by.setdefault(r.round, {})[r.label] = r
    out = []
    for rnd in sorted(by):
        x, y = by[rnd].get(a), by[rnd].get(b)
        if x and y and x.rate and y.rate and not x.stalled() and not y.stalled():
            out.append(x.rate / y.rate)
    return out


def fmt_ratio(rs):
    if not rs:
        return "n/a"
    lo, hi = rng(rs)
    return "%.3fx  [%.2f - %.2f, %d pairs]" % (med(rs), lo, hi, len(rs))


def brief(kind, prefix):
    r = Run("-", "-", 0, "-", kind, prefix)
    if r.error:
        return r.error
    parts = ["%s %s/s" % (si(r.rate), "files" if kind == "loop" or "-many-" in prefix else "ops")]
    if r.syscalls() is not None:
        parts.append("%.3f syscalls/op" % r.syscalls())
    if r.cpu_ns:
        parts.append("%.0f CPU ns/op" % r.cpu_ns)
    if r.residency is not None:
        parts.append("resident %s" % pct(r.residency))
    return ", ".join(parts)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--brief":
        print(brief(sys.argv[2], sys.argv[3]))
        return
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    runs, meta = [], {}
    with open(sys.argv[1]) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("# "):
                k, _, v = line[2:].partition("\t")
                meta[k] = v
                continue
            runs.append(Run(*line.split("\t")))
    errors = [r for r in runs if r.error]
    good = [r for r in runs if not r.error]

    print("== vs-fio: ringbench against fio and a plain loop, on the same data files ==")
    for k in ("job", "rounds", "machine", "tools", "load", "lock", "note"):
        if k in meta:
            print("%-8s %s" % (k + ":", meta[k]))
    print()

    goals = []  # (met: True/False/None, text)
    small = [r for r in good if r.section == "small"]
    if small:
        print("Small file: 4 KiB random reads, medians of %s interleaved timed rounds" % meta.get("nrounds", "?"))
        rows = job_rows(small, SMALL, [
            (Run.syscalls, "%.4f"), (lambda r: r.per_op("syscalls"), "%.4f"), (lambda r: r.per_op("enters"), "%.4f"),
            (Run.submit_enters, "%.4f"), (lambda r: r.per_op("enters_wait"), "%.4f")])
        print(table(rows, ["job", "IOPS", "min-max", "syscalls/op", "whole-run/op", "enters/op", "submit-enters/op",
                           "wait-enters/op", "CPU ns/op", "in-window", "resident"]))
        own = []
        for label, name, kind in SMALL:
            rs = [r for r in small if r.label == label and kind == "rb"]
            if rs:
                own.append("%s %s" % (label[3:], num(med([r.own_backend_sys for r in rs]), "%.4f")))
        if own:
            print("  ringbench's I/O thread alone, syscalls/op: " + ", ".join(own))
        print()
        print("Ratios of IOPS, ringbench / fio (median of per-round pairs; each pair ran back to back):")
        for a, b, text in PAIRS:
            print("  %-22s %s%s" % (text, fmt_ratio(paired(small, a, b)), cpu_ratio(small, a, b)))
        print()

        for a, b, text in PAIRS[:2]:
            rs = paired(small, a, b)
            m = med(rs)
            goals.append((None if m is None else m >= GOAL_IOPS_RATIO,
                          "IOPS %s >= %.2fx: %s" % (text, GOAL_IOPS_RATIO, "n/a" if m is None else "%.3fx" % m)))
        goals.append(("info", "stretch: fio's peak tool t/io_uring reaches about 1.5x fio's IOPS here (notes); it is not in "
                            "Debian's fio package and is not run"))
        rs = paired(small, "rb-sqpoll", "fio-sqpoll")
        m = med(rs)
        goals.append(("info", "IOPS sqpoll / fio sqpoll: %s (not a goal: fio's sqpoll job busy-polls the CQ and fights its "
                              "poll thread for the CPUs, so its IOPS swing widely; with no spare core neither figure is stable)" % (
                                  "n/a" if m is None else "%.3fx [%.2f - %.2f]" % ((m,) + rng(rs)))))
        u = med([r.syscalls() for r in small if r.label == "rb-uring"])
        whole = med([r.per_op("syscalls") for r in small if r.label == "rb-uring"])
        fio_u = med([r.syscalls() for r in small if r.label == "fio-uring"])
        goals.append((None if u is None else u <= GOAL_URING_SYSCALLS,
                      "uring syscalls/op <= %.3f: %s (whole run under perf %s; fio io_uring %s)" % (
                          GOAL_URING_SYSCALLS, num(u, "%.4f"), num(whole, "%.4f"), num(fio_u, "%.4f"))))
        s = med([r.submit_enters() for r in small if r.label == "rb-sqpoll"])
        w = med([r.per_op("enters_wait") for r in small if r.label == "rb-sqpoll"])
        goals.append((None if s is None else s <= GOAL_SQPOLL_SUBMIT_ENTERS,
                      "sqpoll submit-side io_uring_enter/op <= %.2f: %s (waits for completions apart: %s/op)" % (
                          GOAL_SQPOLL_SUBMIT_ENTERS, num(s, "%.4f"), num(w, "%.4f"))))

    many = [r for r in good if r.section == "many"]
    if many:
        print("Many files: open + read whole + close, medians of %s interleaved timed rounds" % meta.get("nrounds", "?"))
        rows = job_rows(many, MANY, [(Run.syscalls, "%.3f"), (lambda r: r.per_op("syscalls"), "%.3f")], name=loop_name)
        print(table(rows, ["job", "files/s", "min-max", "syscalls/op", "whole-run/op", "CPU ns/op", "in-window", "resident"]))
        print()
        print("Ratios of files/s (median of per-round pairs):")
        for a, b, text in MANY_PAIRS:
            if any(r.label == b for r in many):
                print("  %-24s %s%s" % (text, fmt_ratio(paired(many, a, b)), cpu_ratio(many, a, b)))
        print()
        m = med(paired(many, "rb-mf-epoll", "c-loop"))
        goals.append((None if m is None else m >= GOAL_MANYFILE_RATIO,
                      "many-file epoll >= %.0f%% of the plain loop: %s" % (
                          GOAL_MANYFILE_RATIO * 100, "n/a" if m is None else "%.1f%%" % (m * 100))))

    # Every job here keeps at least one CPU busy; a run that did not was stalled by something else.
    stalled = [r for r in good if r.stalled()]
    if stalled:
        print("Left out of medians and ratios: runs that kept less than %.1f CPUs busy (stalled by other work on the" % STALLED_CPUS)
        print("machine; their throughput is not the tool's):")
        for r in stalled:
            print("  round %d %s: %s, %.2f CPUs" % (r.round, r.label, si(r.rate), r.utilisation()))
        print()
    warns = sorted({w for r in good for w in r.warnings})
    if warns:
        print("ringbench warnings:")
        for w in warns:
            print("  " + w)
        print()
    print("Goals (a benchmark: a MISS is reported, not an error):")
    for met, text in goals:
        print("  %-4s  %s" % ({True: "PASS", False: "MISS", None: "n/a", "info": "info"}[met], text))
    if errors:
        print()
        print("Failed runs:")
        for r in errors:
            print("  round %d %s: %s" % (r.round, r.label, r.error))
    print()
    print("Notes: throughput varies up to 2x between runs on a shared machine; compare the pairs, and syscalls and CPU")
    print("  per op, which are steady. IOPS, CPU and residency come from the timed rounds, where every tool ran bare")
    print("  (ringbench counts its own syscalls in every sample, at a cost per syscall that stays in its figures);")
    print("  perf-based columns come from the counted rounds, run under perf stat afterwards.")
    print("  syscalls/op: fio and the plain loop: perf stat over the whole run / ops; ringbench: its own count over the")
    print("  sample, every thread of the process (start-up, data-set checks and --mlock excluded).")
    print("  whole-run/op, enters/op: perf stat over the whole process, start-up included, / ops.")
    print("  submit-enters: io_uring_enter with to_submit > 0 (sqpoll: with IORING_ENTER_SQ_WAKEUP, since the kernel")
    print("  ignores to_submit there); wait-enters: with IORING_ENTER_GETEVENTS and min_complete > 0.")
    print("  CPU ns/op: the same window for every tool: user+sys of its whole run (bash time of the process tree,")
    print("  io_uring kernel threads and SQPOLL included, start-up included) / ops of its whole run (ringbench runs")
    print("  with --warmup 0 --count 1: its one sample is all its I/O). CPU/op ratios use it. Start-up weighs more")
    print("  on ringbench (data-set checks, --mlock, residency checks: most on many-file) than on fio or the loops.")
    print("  in-window: each tool's own figure over its measured window, for reference, not compared: ringbench's")
    print("  in-sample process CPU (SQPOLL thread included); fio's usr_cpu+sys_cpu (RUSAGE_THREAD of the job")
    print("  thread: misses io_uring kernel threads, so fio sqpoll's is far too low); the C loops' own rusage.")
    sys.exit(1 if errors and not good else 0)


if __name__ == "__main__":
    main()
