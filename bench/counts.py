#!/usr/bin/env python3
"""Counts what a workload of uvactor-bench costs per message (or hop) besides its time: system calls (futex
waits and wakes, the eventfd writes and reads of wakeups, epoll_wait), how often its threads sleep, are
preempted and are woken, the CPU time its threads take, its peak RSS and its page faults; per thread role
too (the threads are named: sink, producer, ring, floor, loopfloor; main's thread keeps the program's name).

    bench/counts.py --bench BUILD/bench/uvactor-bench [-r REPS] [--roles] [SPEC...]

A SPEC is a workload with its arguments, as one word: "fanin:-a 4" (default: the fanin, ring and floor
shapes of issue 17). Each repetition runs every SPEC twice, interleaved with the others: once plainly
(its RESULT, CPU time, peak RSS and page faults, from wait4()), once under `perf record -c 1` on the
tracepoints below (every event recorded, read back with `perf script`). The table gives the medians of
REPS repetitions, with the load average beside. The counts include what the workload does before and
after its clock (spawning its actors: a few hundred calls), which over 10^5 or more messages is noise.

Needs perf with tracepoint access (root, or kernel.perf_event_paranoid <= -1). Python 3 standard library.
"""

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from compare import RESULT_RE  # noqa: E402

# The rings run 50000 hops: every hop is about ten events, and perf keeps up with half a million.
DEFAULT_SPECS = [
    "throughput", "onecore-throughput",
    "fanin:-a 2", "fanin:-a 4", "fanin-ports:-a 2", "fanin-ports:-a 4",
    "throughput:-q 1000", "fanin:-a 2 -q 1000", "fanin:-a 4 -q 1000", "fanin-ports:-a 4 -q 1000",
    "ring:-n 50000", "ring:-n 50000 -S 0", "loopfloor-ring:-n 50000", "floor-ring:-n 50000",
    "ring:-a 256 -n 50000", "loopfloor-ring:-a 256 -n 50000", "floor-ring:-a 256 -n 50000",
]
EVENTS = ["syscalls:sys_enter_futex", "syscalls:sys_enter_write", "syscalls:sys_enter_read",
          "syscalls:sys_enter_epoll_wait", "sched:sched_switch", "sched:sched_wakeup"]
FUTEX_WAIT = {0, 9}  # FUTEX_WAIT, FUTEX_WAIT_BITSET (with FUTEX_PRIVATE_FLAG and the clock flag masked off)
FUTEX_WAKE = {1, 10}  # FUTEX_WAKE, FUTEX_WAKE_BITSET
# The columns, per message: (key, heading).
COLUMNS = [("futex_wait", "futex wait"), ("futex_wake", "futex wake"), ("write", "write"), ("read", "read"),
           ("epoll_wait", "epoll_wait"), ("sleep", "sleeps"), ("preempted", "preempted"),
           ("woken", "wakeups")]
LINE_RE = re.compile(r"^\s*(.+?)\s+(\d+)\s+(\S+):\s*(.*)$")
# The roles, by thread name; the main thread keeps the program's name.
ROLES = {"sink": "sink", "producer": "producer", "ring": "ring", "floor": "floor", "loopfloor": "loopfloor",
         "uvactor-bench": "main", "lt-uvactor-bench": "main"}


def parse_spec(spec):
    workload, _, args = spec.partition(":")
    return workload, args.split()


def real_program(path):
    """(program, environment) that runs path: a libtool wrapper script (what an uninstalled build has) is
    replaced by the program it would exec, with the library path it would set, so that the counts and the
    peak RSS are the program's, not a shell's and its sed's."""
    env = dict(os.environ)
    try:
        with open(path, "rb") as f:
            text = f.read(65536).decode("latin-1")
    except OSError:
        return path, env
    real = os.path.join(os.path.dirname(path), ".libs", os.path.basename(path))
    m = re.search(r'LD_LIBRARY_PATH="([^:"$]+)', text)
    if not text.startswith("#!") or "libtool" not in text or not os.path.isfile(real) or not m:
        return path, env
    env["LD_LIBRARY_PATH"] = m.group(1) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return real, env


def run_plain(cmd, env):
    """Runs cmd; returns (n, value, unit, cpu seconds, peak RSS KiB, minor faults) from its RESULT line and
    GNU time, which forks it from a small process: a child forked from this script would count the script's
    own RSS as its peak (the kernel keeps the largest RSS a process had, before its exec too)."""
    with tempfile.NamedTemporaryFile(mode="w+") as usage:
        proc = subprocess.run(["/usr/bin/time", "-o", usage.name, "-f", "%M %U %S %R"] + cmd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            sys.exit("counts: %s exited %d\n%s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
        maxrss, utime, stime, minflt = usage.read().split()[-4:]
    res = RESULT_RE.findall(proc.stdout)
    if not res:
        sys.exit("counts: no RESULT line from %s" % " ".join(cmd))
    _, _, n, value, unit = res[0]
    # The streams also say how many cores their sink and their producers had (<workload>-sink-cpu ...).
    cores = {line[1].rsplit("-", 2)[-2]: float(line[3]) for line in res[1:] if line[4] == "cores"}
    return int(n), float(value), unit, float(utime) + float(stime), int(maxrss), int(minflt), cores


def run_traced(cmd, env):
    """Runs cmd under perf record; returns the counts of the process's threads (by key), and by role."""
    with tempfile.TemporaryDirectory(prefix="uvactor-counts-") as tmp:
        data = os.path.join(tmp, "perf.data")
        proc = subprocess.run(["perf", "record", "-c", "1", "-m", "2048", "-o", data, "-e", ",".join(EVENTS),
                               "--"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            sys.exit("counts: perf record %s exited %d\n%s" % (" ".join(cmd), proc.returncode, proc.stderr))
        # Events perf could not keep up with are lost, and the counts would be short: say so, loudly.
        if re.search(r"lost \d+ chunks|LOST", proc.stderr):
            sys.stderr.write("counts: WARNING: perf lost events for %s (use a smaller -n):\n%s\n" % (
                " ".join(cmd), proc.stderr.strip()))
        script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,event,trace"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    events = []
    comm_of = {}
    for line in script.splitlines():
        m = LINE_RE.match(line)
        if not m:
            continue
        comm, tid, event, trace = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        comm_of[tid] = comm  # a thread names itself after it starts: its last name is its role
        events.append((tid, event, trace))
    ours = set(tid for tid, comm in comm_of.items() if comm in ROLES)
    total = collections.Counter()
    by_role = collections.defaultdict(collections.Counter)
    for tid, event, trace in events:
        if tid not in ours:
            continue
        keys = []
        if event == "syscalls:sys_enter_futex":
            op = int(re.search(r"op: (0x[0-9a-f]+)", trace).group(1), 16) & 0x7f
            keys.append("futex_wait" if op in FUTEX_WAIT else "futex_wake" if op in FUTEX_WAKE else "futex_other")
        elif event == "syscalls:sys_enter_write":
            keys.append("write")
        elif event == "syscalls:sys_enter_read":
            keys.append("read")
        elif event == "syscalls:sys_enter_epoll_wait":
            keys.append("epoll_wait")
        elif event == "sched:sched_switch":
            m = re.search(r"prev_pid=(\d+) .*prev_state=(\S+)", trace)
            if m and int(m.group(1)) == tid:
                keys.append("preempted" if m.group(2).startswith("R") else "sleep")
        elif event == "sched:sched_wakeup":
            m = re.search(r"pid=(\d+)", trace)
            target = int(m.group(1)) if m else -1
            if target in ours:  # one of ours woken (by whichever thread), counted for the woken one
                total["woken"] += 1
                by_role[ROLES[comm_of[target]]]["woken"] += 1
            continue
        for key in keys:
            total[key] += 1
            by_role[ROLES[comm_of[tid]]][key] += 1
    return total, by_role


def fmt(v, digits=3):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return "%.0f" % v
    return "%.*g" % (digits, v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="*", metavar="SPEC", help="workload[:arguments] (default: %s)" %
                    " ".join("'%s'" % s for s in DEFAULT_SPECS))
    ap.add_argument("--bench", default=os.environ.get("UVACTOR_BENCH", "bench/uvactor-bench"))
    ap.add_argument("-r", "--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--roles", action="store_true", help="also print the counts per thread role")
    opts = ap.parse_args()
    specs = opts.specs or DEFAULT_SPECS

    if not os.path.isfile("/usr/bin/time"):
        sys.exit("counts: needs GNU time as /usr/bin/time (Debian: time)")
    program, env = real_program(opts.bench)
    plain = collections.defaultdict(list)
    traced = collections.defaultdict(list)
    loads = []
    for rep in range(opts.reps):
        for spec in specs:
            workload, args = parse_spec(spec)
            cmd = [program] + args + [workload]
            sys.stderr.write("counts: run %d/%d %s\n" % (rep + 1, opts.reps, spec))
            loads.append(os.getloadavg()[0])
            plain[spec].append(run_plain(cmd, env))
            traced[spec].append(run_traced(cmd, env))

    print("uvactor-bench counts per message (per hop for ring): medians of %d interleaved runs; load average "
          "(1 min) %.1f..%.1f during the runs" % (opts.reps, min(loads), max(loads)))
    print()
    print("| workload | n | value (spread) | CPU us/msg | cores: sink, producers | " +
          " | ".join(h for _, h in COLUMNS) + " | peak RSS MiB | faults/1000 msg |")
    print("|---|---|---|---|---|" + "---|" * len(COLUMNS) + "---|---|")
    for spec in specs:
        runs = plain[spec]
        n = runs[0][0]
        vals = [r[1] for r in runs]
        row = ["%s (%s)" % (fmt(statistics.median(vals)), "%s..%s" % (fmt(min(vals)), fmt(max(vals)))),
               fmt(statistics.median(r[3] for r in runs) * 1e6 / n)]
        if "sink" in runs[0][6]:
            row.append("%s, %s" % tuple(fmt(statistics.median(r[6][k] for r in runs), 2)
                                        for k in ("sink", "producers")))
        else:
            row.append("-")
        for key, _ in COLUMNS:
            row.append(fmt(statistics.median(t[0][key] for t in traced[spec]) / n))
        row.append(fmt(statistics.median(r[4] for r in runs) / 1024.0))
        row.append(fmt(statistics.median(r[5] for r in runs) * 1000.0 / n))
        print("| %s %s | %d | %s |" % (parse_spec(spec)[0], " ".join(parse_spec(spec)[1]), n, " | ".join(row)))
    if opts.roles:
        print()
        print("Per thread role, per message (medians):")
        print()
        print("| workload | role | " + " | ".join(h for _, h in COLUMNS) + " |")
        print("|---|---|" + "---|" * len(COLUMNS))
        for spec in specs:
            n = plain[spec][0][0]
            roles = sorted(set(role for t in traced[spec] for role in t[1]))
            for role in roles:
                row = [fmt(statistics.median(t[1][role][key] for t in traced[spec]) / n) for key, _ in COLUMNS]
                print("| %s %s | %s | %s |" % (parse_spec(spec)[0], " ".join(parse_spec(spec)[1]), role,
                                              " | ".join(row)))


if __name__ == "__main__":
    main()
