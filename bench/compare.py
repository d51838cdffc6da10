#!/usr/bin/env python3
"""Runs uvactor-bench and its Node.js twin (bench/node/bench.js) side by side and prints, per workload, the
median of several interleaved runs (C, node, C, node...), the ratio "how many times better uvactor is", the
C-only references run with some rows (the floors of pingpong, ring, spawn and the streams, the one-producer
throughput beside every fanin row, and what bounds each stream; see REFERENCES), and whether each target of the issues
is met (issue 17's are ratios to a reference run beside the row, in the same run).

    bench/compare.py --bench BUILD/bench/uvactor-bench [-r REPS] [-n WORKLOAD=N] [--node-n WORKLOAD=N] [WORKLOAD...]

Each run is a fresh process. Timings on a shared machine are noisy: read the medians and the min..max spread,
not one run. Python 3 standard library only.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_BENCH = os.path.join(HERE, "node", "bench.js")
NODE_TPOOL = os.path.join(HERE, "node", "tpool.js")  # the piscina twin of the task pool's workloads
PISCINA = "piscina@4"
RESULT_RE = re.compile(
    r"^RESULT peer=(\S+) workload=(\S+) n=(\d+) value=(\S+) unit=(\S+)$", re.M)

KIB = 1024
MIB = 1 << 20

# The rows of the table: name -> (the workload both tools run, extra arguments, the C-only references run
# with it, each right after the C tool, with the same arguments).
# bigmsg-transfer-1k is bigmsg-transfer at 1 KiB, for the target that compares per-message costs by size;
# it uses more messages than the 1 MiB run because 1000 messages of 1 KiB take well under a millisecond.
ROWS = {
    "pingpong": ("pingpong", [], ["floor-pingpong", "loopfloor-pingpong"]),
    "throughput": ("throughput", [], ["onecore-throughput", "floor-throughput"]),
    "fanin": ("fanin", [], ["throughput", "floor-fanin", "floor-throughput"]),
    "fanin-4": ("fanin", ["-a", "4"], ["throughput", "floor-fanin", "floor-throughput"]),
    "fanin-8": ("fanin", ["-a", "8"], ["throughput", "floor-fanin", "floor-throughput"]),
    "fanin-ports": ("fanin-ports", [], ["throughput", "floor-fanin-ports", "floor-throughput"]),
    "fanin-ports-4": ("fanin-ports", ["-a", "4"], ["throughput", "floor-fanin-ports", "floor-throughput"]),
    "fanin-ports-8": ("fanin-ports", ["-a", "8"], ["throughput", "floor-fanin-ports", "floor-throughput"]),
    "spawn": ("spawn", [], ["floor-spawn"]),
    "bigmsg": ("bigmsg", [], ["memcpy-bigmsg"]),
    "bigmsg-transfer": ("bigmsg-transfer", [], ["stamps-bigmsg-transfer"]),
    "bigmsg-transfer-1k": ("bigmsg-transfer", ["-s", str(KIB), "-n", "10000"], ["stamps-bigmsg-transfer"]),
    "ring": ("ring", [], ["floor-ring", "loopfloor-ring"]),
    "ring-256": ("ring", ["-a", "256"], ["floor-ring", "loopfloor-ring"]),
    "call": ("call", [], ["pingpong"]),
    "call-inflight": ("call-inflight", [], []),
    "idle-rss": ("idle-rss", ["-a", "100"], []),
    "tpool-empty": ("tpool-empty", [], ["queuework-empty"]),
    "tpool-cpu": ("tpool-cpu", [], []),
    "tpool-bytes": ("tpool-bytes", [], ["queuework-bytes"]),
    "tpool-bytes-1k": ("tpool-bytes", ["-s", str(KIB)], ["queuework-bytes"]),
    "restart": ("restart", [], ["spawn"]),
}
# Rows whose twin is piscina (bench/node/tpool.js) rather than worker_threads.
TPOOL_ROWS = {"tpool-empty", "tpool-cpu", "tpool-bytes", "tpool-bytes-1k"}
# Rows Node has no twin for: only the C tool and its references run (Node's workers have no supervisors; a
# Node port cannot be shared, so its fanin is fanin-ports' shape, run at 2 producers; 256 Node workers would
# take two gigabytes and seconds to boot on every run).
C_ONLY = {"restart", "fanin-4", "fanin-8", "fanin-ports-4", "fanin-ports-8", "ring-256"}
# The fanin rows: (row, producers, shape), for the targets against the one-producer throughput beside them.
FANIN_ROWS = [("fanin", 2, "shared port"), ("fanin-4", 4, "shared port"), ("fanin-8", 8, "shared port"),
              ("fanin-ports", 2, "a port each"), ("fanin-ports-4", 4, "a port each"),
              ("fanin-ports-8", 8, "a port each")]
DEFAULT_ROWS = list(ROWS)

# What a reference is (its table label, the label of its ratio). The floor passes a token through eventfds
# with blocking read()s, which nothing that sleeps between messages can beat; the loop floor passes it the
# same way through a libuv loop per thread, which is what any design built on libuv loops pays per wakeup.
# The pingpong and ring targets are against the floor. The others show what bounds a stream: one core
# doing both sides of throughput, the copy alone for bigmsg, the stamp checks alone for bigmsg-transfer;
# and the streams' floors, the same streams in plain C (a mutex-guarded list, an eventfd wake, msgpack-c),
# whose own ratios (floor-throughput to one core, floor-fanin to floor-throughput) the targets show beside
# uvactor's: a gap the floor has too is the design's and the machine's.
REFERENCES = {
    "floor": ("floor (eventfd threads)", "uvactor/floor"),
    "floor-spawn": ("floor (pthread_create, eventfd ready, pthread_join)", "uvactor/floor"),
    "floor-throughput": ("plain-C floor, one producer (floor-throughput)", "uvactor/floor-throughput"),
    "floor-fanin": ("plain-C floor, one mutex list for all producers (floor-fanin)", "uvactor/floor-fanin"),
    "floor-fanin-ports": ("plain-C floor, a mutex list per producer (floor-fanin-ports)",
                          "uvactor/floor-fanin-ports"),
    "loopfloor": ("loop floor (libuv loops on eventfds)", "uvactor/loopfloor"),
    "onecore": ("one core (posts and receives on one thread)", "uvactor/onecore"),
    "throughput": ("one producer (throughput, same run)", "uvactor/throughput"),
    "memcpy": ("memcpy alone", "uvactor/memcpy"),
    "stamps": ("stamp checks alone (no messages)", "uvactor/stamps"),
    "pingpong": ("pingpong (plain round trips on the same ports)", "call/pingpong"),
    "queuework": ("libuv uv_queue_work (same threads, no messages)", "uvactor/queuework"),
    "spawn": ("spawn, its reference (spawn, ready, join)", "restart/spawn"),
}


def reference_kind(ref):
    """floor-pingpong -> floor: the peer its RESULT line names."""
    return ref.split("-", 1)[0]


def reference_labels(ref):
    """(table label, ratio label) of a reference: its own entry, or its kind's."""
    return REFERENCES.get(ref) or REFERENCES[reference_kind(ref)]


# A Node worker takes ~30 ms to boot on a small machine: 200 of them, five times, is most of a run.
DEFAULT_NODE_N = {"spawn": 50, "tpool-empty": 50000, "tpool-bytes": 1000, "tpool-bytes-1k": 1000}

HIGHER_IS_BETTER = {"msg/s", "GB/s", "calls/s", "tasks/s", "x"}


def run(cmd, timeout, env=None, may_fail=False):
    """One run; its first RESULT line, with the values of the others (the latency lines of tpool-empty)
    by workload in "extra". may_fail: a run that exits non-zero returns {"error": its stderr} instead of
    stopping everything (sweep.py's points beyond what the machine's limits allow)."""
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired:
        sys.exit("compare: timed out: %s" % " ".join(cmd))
    if proc.returncode != 0 and may_fail:
        return {"error": proc.stderr.strip()}
    if proc.returncode != 0:
        sys.exit("compare: %s exited %d\n%s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    results = RESULT_RE.findall(proc.stdout)
    if len(results) < 1:
        sys.exit("compare: expected a RESULT line from %s, got:\n%s" % (" ".join(cmd), proc.stdout))
    peer, workload, n, value, unit = results[0]
    return {"peer": peer, "workload": workload, "n": int(n), "value": float(value), "unit": unit,
            "line": results[0], "lines": results, "extra": {r[1]: float(r[3]) for r in results[1:]}}


def piscina_env(folder):
    """Installs piscina with npm into folder (once) and returns an environment whose NODE_PATH finds it.
    piscina is never a dependency of uvactor: only this comparison uses it."""
    modules = os.path.join(folder, "node_modules")
    if not os.path.isdir(os.path.join(modules, "piscina")):
        os.makedirs(folder, exist_ok=True)
        sys.stderr.write("compare: installing %s into %s\n" % (PISCINA, folder))
        proc = subprocess.run(["npm", "install", "--prefix", folder, "--no-audit", "--no-fund", "--no-save",
                               PISCINA], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            sys.exit("compare: npm install %s failed:\n%s" % (PISCINA, proc.stdout))
    env = dict(os.environ)
    env["NODE_PATH"] = modules
    return env


def args_with(base, n):
    """base arguments with -n replaced by n when n is given."""
    out = []
    skip = False
    for i, a in enumerate(base):
        if skip:
            skip = False
            continue
        if a == "-n" and n is not None:
            skip = True
            continue
        out.append(a)
    if n is not None:
        out += ["-n", str(n)]
    return out


def parse_overrides(items, what):
    out = {}
    for item in items or []:
        m = re.match(r"^([\w-]+)=(\d+)$", item)
        if not m:
            sys.exit("compare: %s wants WORKLOAD=N, not %r" % (what, item))
        out[m.group(1)] = int(m.group(2))
    return out


def sh(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              shell=True).stdout.strip()
    except OSError:
        return ""


def machine_lines(node):
    model = sh("lscpu | sed -n 's/^Model name: *//p'")
    top = os.path.dirname(HERE)
    dirty = sh("git -C %s status --porcelain -uno -- serialize channel actors include 'bench/*.[ch]'" % top)
    lines = [
        "date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit: %s%s" % (sh("git -C %s log -1 --format='%%h %%s'" % top) or "?",
                          " (+ uncommitted changes to the library or bench/*.[ch])" if dirty else ""),
        "cpu: %s, %s cpus" % (model or platform.processor() or "?", os.cpu_count()),
        "kernel: %s" % platform.release(),
        "load average at the start: %s (other work on the machine skews timings)" % (
            " ".join("%.2f" % x for x in os.getloadavg())),
        "libuv: %s, msgpack-c: %s, node: %s" % (sh("pkg-config --modversion libuv") or "?",
                                                sh("pkg-config --modversion msgpack") or "?",
                                                sh("%s --version" % node) or "?"),
    ]
    return lines


def fmt(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6:
        return "%.2fM" % (v / 1e6)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    if a >= 1:
        return "%.3f" % v
    return "%.3g" % v


def spread(vals):
    return "%s..%s" % (fmt(min(vals)), fmt(max(vals)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", nargs="*", metavar="WORKLOAD",
                    help="rows to run (default: all): %s" % " ".join(DEFAULT_ROWS))
    ap.add_argument("--bench", default=os.environ.get("UVACTOR_BENCH", "bench/uvactor-bench"),
                    help="the uvactor-bench program (default $UVACTOR_BENCH or ./bench/uvactor-bench)")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"), help="the node program")
    ap.add_argument("-r", "--reps", type=int, default=5, help="runs per tool and workload (default 5)")
    ap.add_argument("-n", action="append", metavar="WORKLOAD=N", help="-n for both tools for one workload")
    ap.add_argument("--node-n", action="append", metavar="WORKLOAD=N",
                    help="-n for node only (default spawn=%d; the C tool keeps its own)" %
                    DEFAULT_NODE_N["spawn"])
    ap.add_argument("--idle-actors", type=int, default=100,
                    help="idle actors / workers for idle-rss, both tools (default 100)")
    ap.add_argument("--spin", type=int, default=None, metavar="USEC",
                    help="uvactor-bench -S USEC for pingpong and ring: loops spin up to USEC before sleeping "
                    "(0: never; default: the library's own; node has no such knob)")
    ap.add_argument("--raw", metavar="FILE", help="also write every RESULT line to FILE")
    ap.add_argument("--piscina-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "uvactor-piscina"),
                    help="scratch folder piscina is installed into with npm for the tpool rows")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run before giving up")
    opts = ap.parse_args()

    rows = opts.rows or DEFAULT_ROWS
    for r in rows:
        if r not in ROWS:
            ap.error("unknown workload %r (have: %s)" % (r, " ".join(DEFAULT_ROWS)))
    if not (os.path.isfile(opts.bench) and os.access(opts.bench, os.X_OK)):
        sys.exit("compare: no uvactor-bench at %r: build it and pass --bench or set UVACTOR_BENCH" % opts.bench)
    if shutil.which(opts.node) is None:
        sys.exit("compare: no node program %r" % opts.node)
    both_n = parse_overrides(opts.n, "-n")
    node_n = dict(DEFAULT_NODE_N)
    node_n.update(parse_overrides(opts.node_n, "--node-n"))

    machine = machine_lines(opts.node)
    tpool_env = piscina_env(opts.piscina_dir) if any(r in TPOOL_ROWS for r in rows) else None
    raw = open(opts.raw, "w") if opts.raw else None
    meas = {}
    for row in rows:
        workload, extra, refs = ROWS[row]
        extra = list(extra)
        if row == "idle-rss":
            extra = ["-a", str(opts.idle_actors)]
        c_args = args_with(extra, both_n.get(row))
        if opts.spin is not None and workload in ("pingpong", "ring"):
            c_args += ["-S", str(opts.spin)]
        n_args = args_with(extra, node_n.get(row, both_n.get(row)))
        m = meas[row] = {"c": [], "node": []}
        m.update({ref: [] for ref in refs})
        for rep in range(opts.reps):
            if sys.stderr.isatty():
                sys.stderr.write("\rcompare: %-20s run %d/%d " % (row, rep + 1, opts.reps))
                sys.stderr.flush()
            steps = [("c", [opts.bench] + c_args + [workload])]
            for ref in refs:
                steps.append((ref, [opts.bench] + args_with(extra, both_n.get(row)) + [ref]))
            if row not in C_ONLY:
                twin = NODE_TPOOL if row in TPOOL_ROWS else NODE_BENCH
                steps.append(("node", [opts.node, twin] + n_args + [workload]))
            for key, cmd in steps:
                res = run(cmd, opts.timeout, tpool_env if key == "node" and row in TPOOL_ROWS else None)
                m[key].append(res)
                if raw:
                    for line in res["lines"]:
                        raw.write("RESULT peer=%s workload=%s n=%s value=%s unit=%s row=%s\n" % (line + (row,)))
                    raw.flush()
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 60 + "\r")
    if raw:
        raw.close()

    def med(row, key):
        vals = [r["value"] for r in meas[row][key]]
        return statistics.median(vals) if vals else None

    # The comparison table (Markdown, so it can go into docs as it is).
    print("uvactor-bench vs node worker_threads: median of %d interleaved runs per tool" % opts.reps)
    for line in machine:
        print("  " + line)
    print("  uvactor spin before sleeping (-S): %s" % ("%d us in pingpong and ring" % opts.spin
                                                     if opts.spin is not None else "the library's default"))
    print()
    print("| workload | n (uvactor / node) | uvactor | node | unit | uvactor better by | uvactor spread | node spread |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = {}
    producers = dict((r, p) for r, p, _ in FANIN_ROWS)

    def n_label(row, cn, nn):
        ns = str(cn) if cn == nn else "%d / %d" % (cn, nn)
        if row == "idle-rss":
            ns = "%d actors" % cn if cn == nn else "%d / %d actors" % (cn, nn)
        if row in producers:
            ns += " (%d producers)" % producers[row]
        if row == "ring-256":
            ns += " (256 actors)"
        if row in ("bigmsg-transfer-1k", "tpool-bytes-1k"):
            ns += " (1 KiB)"
        elif row in ("bigmsg", "bigmsg-transfer", "tpool-bytes"):
            ns += " (1 MiB)"
        return ns

    for row in rows:
        m = meas[row]
        unit = m["c"][0]["unit"]
        if row in C_ONLY:
            print("| %s | %s | %s | - | %s | - | %s | - |" % (
                row, n_label(row, m["c"][0]["n"], m["c"][0]["n"]), fmt(med(row, "c")), unit,
                spread([r["value"] for r in m["c"]])))
            continue
        cv, nv = med(row, "c"), med(row, "node")
        if unit in HIGHER_IS_BETTER:
            ratio = cv / nv
        else:
            ratio = nv / cv
        ratios[row] = ratio
        ns = n_label(row, m["c"][0]["n"], m["node"][0]["n"])
        print("| %s | %s | %s | %s | %s | %.2fx | %s | %s |" % (
            row, ns, fmt(cv), fmt(nv), unit, ratio,
            spread([r["value"] for r in m["c"]]), spread([r["value"] for r in m["node"]])))
    floor_ratio = {}
    ref_ratio = {}
    for row in rows:
        for ref in ROWS[row][2]:
            label, ratio_label = reference_labels(ref)
            fm = meas[row][ref]
            fv = med(row, ref)
            ratio = med(row, "c") / fv
            if reference_kind(ref) == "floor":
                floor_ratio[row] = ratio
            ref_ratio[(row, reference_kind(ref))] = ratio
            ref_ratio[(row, ref)] = ratio
            print("| %s %s | %d | %s | - | %s | %s = %.2fx | %s | - |" % (
                row, label, fm[0]["n"], fmt(fv), fm[0]["unit"], ratio_label, ratio,
                spread([r["value"] for r in fm])))
    # The latency lines of tpool-empty (microseconds from submit to callback, WINDOW tasks in flight).
    if "tpool-empty" in rows:
        m = meas["tpool-empty"]
        for q in ("p50", "p99"):
            name = "tpool-empty-" + q
            for key, label in (("c", "uvactor"), ("queuework-empty", "uv_queue_work"), ("node", "piscina")):
                vals = [r["extra"][name] for r in m[key] if name in r["extra"]]
                if vals:
                    print("| tpool-empty latency %s, %s | %d | %s | - | us | - | %s | - |" % (
                        q, label, m[key][0]["n"], fmt(statistics.median(vals)), spread(vals)))
    # What an idle actor holds beside its memory (uvactor's idle-rss prints them after its RSS).
    if "idle-rss" in rows:
        m = meas["idle-rss"]
        for name, what in (("idle-fds", "descriptors"), ("idle-maps", "mappings")):
            vals = [r["extra"][name] for r in m["c"] if name in r["extra"]]
            if vals:
                print("| idle-rss %s per actor, uvactor | %d actors | %s | - | %s | - | %s | - |" % (
                    what, m["c"][0]["n"], fmt(statistics.median(vals)), what, spread(vals)))
    print()
    if "spawn" in rows and meas["spawn"]["c"][0]["n"] != meas["spawn"]["node"][0]["n"]:
        print("spawn: node runs fewer spawns (n above) because each Node worker takes tens of milliseconds to"
              " boot; the value is per spawn either way.")
        print()

    # The targets of the issue.
    def per_msg_us(row, key="c"):
        size = MIB if row == "bigmsg-transfer" else KIB
        return size / (med(row, key) * 1e9) * 1e6

    targets = []
    if "throughput" in rows:
        targets.append(("throughput >= 15x node", ratios["throughput"], ratios["throughput"] >= 15,
                        "%.1fx" % ratios["throughput"]))
    if "fanin" in rows:
        targets.append(("fanin >= 15x node", ratios["fanin"], ratios["fanin"] >= 15, "%.1fx" % ratios["fanin"]))
    if "pingpong" in floor_ratio:
        targets.append(("pingpong within 1.2x the floor", floor_ratio["pingpong"],
                        floor_ratio["pingpong"] <= 1.2, "%.2fx" % floor_ratio["pingpong"]))
    if "ring" in floor_ratio:
        targets.append(("ring within 1.2x the floor", floor_ratio["ring"], floor_ratio["ring"] <= 1.2,
                        "%.2fx" % floor_ratio["ring"]))
    if "spawn" in rows:
        targets.append(("spawn >= 300x faster than node", ratios["spawn"], ratios["spawn"] >= 300,
                        "%.0fx" % ratios["spawn"]))
    if "bigmsg" in rows:
        targets.append(("bigmsg >= 5x node", ratios["bigmsg"], ratios["bigmsg"] >= 5, "%.1fx" % ratios["bigmsg"]))
    if "bigmsg-transfer" in rows and "bigmsg-transfer-1k" in rows:
        big, small = per_msg_us("bigmsg-transfer"), per_msg_us("bigmsg-transfer-1k")
        r = max(big, small) / min(big, small)
        stamps = "stamps-bigmsg-transfer"
        targets.append(("bigmsg-transfer per message, 1 MiB vs 1 KiB, within 1.5x", r, r <= 1.5,
                        "%.2f us vs %.2f us = %.1fx (stamp checks alone: %.3f us vs %.3f us)" % (
                            big, small, r, per_msg_us("bigmsg-transfer", stamps),
                            per_msg_us("bigmsg-transfer-1k", stamps))))
    if ("call", "pingpong") in ref_ratio:
        r = ref_ratio[("call", "pingpong")]
        targets.append(("call within 1.2x a pingpong round trip", r, r <= 1.2, "%.2fx" % r))
    if "call-inflight" in rows:
        targets.append(("call-inflight >= 10x node", ratios["call-inflight"], ratios["call-inflight"] >= 10,
                        "%.1fx" % ratios["call-inflight"]))
    if "restart" in rows:
        r = med("restart", "c") / med("restart", "spawn")
        targets.append(("restart <= 2x spawn", r, r <= 2, "%.1f us vs %.1f us = %.2fx" % (
            med("restart", "c"), med("restart", "spawn"), r)))
    if "tpool-empty" in rows:
        qw = med("tpool-empty", "queuework-empty") / med("tpool-empty", "c")
        targets.append(("tpool-empty >= 20x piscina", ratios["tpool-empty"], ratios["tpool-empty"] >= 20,
                        "%.1fx" % ratios["tpool-empty"]))
        targets.append(("tpool-empty within 2x of uv_queue_work", qw, qw <= 2,
                        "uv_queue_work does %.2fx uvactor's tasks/s" % qw))
    if "tpool-cpu" in rows:
        cores = os.cpu_count() or 1
        sp = med("tpool-cpu", "c")
        targets.append(("tpool-cpu speed-up >= 0.9 x cores", sp, sp >= 0.9 * cores,
                        "%.2fx on %d cores (%.2f per core)" % (sp, cores, sp / cores)))
    if "tpool-bytes" in rows and "tpool-bytes-1k" in rows:
        big, small = 1e6 / med("tpool-bytes", "c"), 1e6 / med("tpool-bytes-1k", "c")
        r = max(big, small) / min(big, small)
        qbig = 1e6 / med("tpool-bytes", "queuework-bytes")
        qsmall = 1e6 / med("tpool-bytes-1k", "queuework-bytes")
        targets.append(("tpool-bytes per task, 1 MiB vs 1 KiB, within 1.5x", r, r <= 1.5,
                        "%.2f us vs %.2f us = %.1fx (uv_queue_work, the same buffers: %.2f us vs %.2f us)" % (
                            big, small, r, qbig, qsmall)))
    if "idle-rss" in rows:
        targets.append(("idle actor <= 1/50 of an idle node worker's RSS", ratios["idle-rss"],
                        ratios["idle-rss"] >= 50, "%.1f vs %.0f KiB = 1/%.0f" % (
                            med("idle-rss", "c"), med("idle-rss", "node"), ratios["idle-rss"])))
    # Issue 17's targets: each against a reference the tool runs beside it, in the same run.
    def floor_note(row, ref, base):
        """The floor's own ratio for a target: the floor's ref to base (both run beside row), or ''."""
        if ref not in meas[row] or base not in meas[row]:
            return ""
        return " (%s %.2fx)" % (ref, med(row, ref) / med(row, base))

    for row, count, shape in FANIN_ROWS:
        if (row, "throughput") in ref_ratio:
            r = ref_ratio[(row, "throughput")]
            floor = "floor-fanin-ports" if row.startswith("fanin-ports") else "floor-fanin"
            targets.append(("fanin, %s, %d producers >= 0.8x one producer" % (shape, count), r, r >= 0.8,
                            "%s vs %s msg/s = %.2fx%s" % (fmt(med(row, "c")), fmt(med(row, "throughput")), r,
                                                         floor_note(row, floor, "floor-throughput"))))
    for row, count in (("ring", 32), ("ring-256", 256)):
        if (row, "loopfloor") in ref_ratio:
            r = ref_ratio[(row, "loopfloor")]
            targets.append(("ring, %d actors, <= 1.15x the loop floor" % count, r, r <= 1.15,
                            "%.2f vs %.2f us/hop = %.2fx" % (med(row, "c"), med(row, "loopfloor-ring"), r)))
    if ("throughput", "onecore") in ref_ratio:
        r = ref_ratio[("throughput", "onecore")]
        targets.append(("throughput >= 1.2x one core", r, r >= 1.2, "%s vs %s msg/s = %.2fx%s" % (
            fmt(med("throughput", "c")), fmt(med("throughput", "onecore-throughput")), r,
            floor_note("throughput", "floor-throughput", "onecore-throughput"))))
    if ("spawn", "floor-spawn") in ref_ratio:
        r = ref_ratio[("spawn", "floor-spawn")]
        targets.append(("spawn <= 0.5x a bare thread's spawn, ready, join", r, r <= 0.5, "%.1f vs %.1f us = %.2fx" % (
            med("spawn", "c"), med("spawn", "floor-spawn"), r)))
    if targets:
        print("| target | measured | status |")
        print("|---|---|---|")
        for name, _, ok, text in targets:
            print("| %s | %s | %s |" % (name, text, "MET" if ok else "NOT MET"))


if __name__ == "__main__":
    main()
