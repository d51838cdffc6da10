#!/usr/bin/env python3
"""The scaling sweeps of BENCH.md: how cost grows with message size, producers, ring length and idle actors.
Each sweep runs uvactor-bench (and the Node twin, bench/node/bench.js, where it has the workload), writes the
medians to a .dat file and plots it with gnuplot (bench/plots/*.gp) into an SVG.

    bench/sweep.py --bench BUILD/bench/uvactor-bench [-r REPS] [-o DATADIR] [--svg-dir DIR] [SWEEP...]

By default the data go to docs/bench-data/ and the plots to docs/bench-*.svg in the source tree, which is
what docs/benchmarks.md shows: a new run replaces the recorded one.

Sweeps: payload (bigmsg and bigmsg-transfer, 16 B .. 1 MiB), fanin (1..8 producers, both shapes, with the
one-producer throughput of the same run, and the plain-C floors of all three), ring (2..10000 actors, with the eventfd floor and the loop floor),
idle (RSS, descriptors and mappings per idle actor, 1..10000 actors), tpool (tpool-bytes 1 KiB .. 1 MiB
with uv_queue_work and piscina; tpool-cpu's speed-up for 1 .. CPUs workers, with piscina's). Points of the
ring and idle sweeps that the machine's limits refuse (RLIMIT_NOFILE: an actor holds 4 descriptors) are
written as '?', with the limit met in a comment of the .dat. Python 3 standard library only (piscina is
installed with npm into a scratch folder, as compare.py does). Remote: remote-bigmsg against raw
libzmq's zmq-bigmsg, 1 KiB .. 1 MiB, over tcp:// and ipc://.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from compare import NODE_BENCH, NODE_TPOOL, machine_lines, piscina_env, run  # noqa: E402

PLOTS = os.path.join(HERE, "plots")
DOCS = os.path.join(os.path.dirname(HERE), "docs")

SIZES = [16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]
PRODUCERS = [1, 2, 3, 4, 5, 6, 7, 8]
RING = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 10000]
IDLE = [1, 3, 10, 30, 100, 300, 1000, 2000, 3000, 5000, 10000]
# Descriptors an idle actor holds (uvactor-bench idle-fds): its loop's epoll, libuv's signal pipe (2) and
# async eventfd, which uvactor's wakeup writes too. The sweeps add the most actors RLIMIT_NOFILE allows as a
# point.
FDS_PER_ACTOR = 4
FDS_SPARE = 32  # the tool's own descriptors, and libuv's process-wide signal pipe


def most_actors():
    """The most actors the hard RLIMIT_NOFILE leaves room for (uvactor-bench raises its soft limit to it)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return None
    return (hard - FDS_SPARE) // FDS_PER_ACTOR


def with_most(points):
    """points, with the most actors the descriptor limit allows if that falls inside their range."""
    most = most_actors()
    if most is None or most in points or not points[0] < most < points[-1]:
        return list(points)
    return sorted(points + [most])
REMOTE_SIZES = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]


class Sweeper:
    def __init__(self, opts):
        self.opts = opts
        self.log = None

    def start(self, name):
        """Every RESULT line of a sweep goes to <name>.raw beside its .dat, replacing the last run's."""
        if self.log:
            self.log.close()
        self.log = open(os.path.join(self.opts.out, name + ".raw"), "w")

    def median(self, peer, args, reps=None):
        """Median value of reps runs of one tool; peer is 'c' or 'node'."""
        cmd = [self.opts.bench] if peer == "c" else [self.opts.node, NODE_BENCH]
        vals = []
        for _ in range(reps or self.opts.reps):
            res = run(cmd + args, self.opts.timeout)
            self.log.write("RESULT peer=%s workload=%s n=%s value=%s unit=%s args=%s\n" %
                           (res["line"] + (" ".join(args),)))
            self.log.flush()
            vals.append(res["value"])
        return statistics.median(vals)

    def interleave(self, steps, reps=None):
        """Runs each (key, cmd) of steps in turn, reps times over; returns the median of each key, or None for
        a key whose runs failed (the first failure's last stderr line is in self.errors[key])."""
        vals = {key: [] for key, _ in steps}
        self.errors = {}
        for _ in range(reps or self.opts.reps):
            for key, cmd in steps:
                if key in self.errors:
                    continue
                res = run(cmd, self.opts.timeout, may_fail=True)
                if "error" in res:
                    self.errors[key] = (res["error"].splitlines() or ["exited non-zero"])[0]
                    self.log.write("FAILED %s: %s\n" % (" ".join(cmd), res["error"].replace("\n", " | ")))
                    continue
                for line in res["lines"]:
                    self.log.write("RESULT peer=%s workload=%s n=%s value=%s unit=%s args=%s\n" %
                                   (line + (" ".join(cmd[1:]),)))
                self.log.flush()
                vals[key].append(res)
        return {key: (statistics.median(r["value"] for r in v) if v and key not in self.errors else None)
                for key, v in vals.items()}, vals

    def pair(self, args, node=True, reps=None, spin=None):
        """Interleaved C and node runs; returns (c median, node median or None). spin: uvactor-bench -S."""
        cmd_c = [self.opts.bench] + (["-S", str(spin)] if spin is not None else []) + args
        cmd_n = [self.opts.node, NODE_BENCH] + args
        cv, nv = [], []
        for _ in range(reps or self.opts.reps):
            for cmd, vals in ((cmd_c, cv), (cmd_n, nv)) if node else ((cmd_c, cv),):
                res = run(cmd, self.opts.timeout)
                self.log.write("RESULT peer=%s workload=%s n=%s value=%s unit=%s args=%s\n" %
                               (res["line"] + (" ".join(args),)))
                self.log.flush()
                vals.append(res["value"])
        return statistics.median(cv), (statistics.median(nv) if nv else None)


def progress(text):
    sys.stderr.write("sweep: %s\n" % text)
    sys.stderr.flush()


def header(f, opts, columns):
    for line in machine_lines(opts.node):
        f.write("# %s\n" % line)
    f.write("# medians of %d runs per point; '?' = not run\n" % opts.reps)
    f.write("# %s\n" % " ".join(columns))


def val(v):
    return "?" if v is None else "%.6g" % v


def sweep_payload(sw, opts):
    """bigmsg (copied) and bigmsg-transfer (moved) from 16 B to 1 MiB."""
    path = os.path.join(opts.out, "payload.dat")
    with open(path, "w") as f:
        header(f, opts, ["bytes", "n", "c_copy_GBps", "node_copy_GBps", "c_move_GBps", "node_move_GBps",
                         "c_copy_msgps", "node_copy_msgps", "c_move_msgps", "node_move_msgps"])
        for size in SIZES:
            # Enough messages to time, few enough that the prepared moved buffers fit: 256 MiB or 1000.
            n = max(1000, min(100000, (256 << 20) // size))
            progress("payload %d B, n=%d" % (size, n))
            cc, nc = sw.pair(["-s", str(size), "-n", str(n), "bigmsg"])
            cm, nm = sw.pair(["-s", str(size), "-n", str(n), "bigmsg-transfer"])
            row = [cc, nc, cm, nm]
            f.write("%d %d %s %s\n" % (size, n, " ".join(val(v) for v in row),
                                       " ".join(val(v * 1e9 / size) for v in row)))
            f.flush()
    return path


def sweep_fanin(sw, opts):
    """fanin (every producer on the sink's port) and fanin-ports (a channel each) for 1..8 producers, each
    point with the one-producer throughput run beside it (issue 17's target is >= 0.8x of it), and the same
    three as plain-C floors (floor-fanin, floor-fanin-ports, floor-throughput)."""
    path = os.path.join(opts.out, "fanin.dat")
    with open(path, "w") as f:
        header(f, opts, ["producers", "n", "c_msgps", "node_msgps", "c_ports_msgps", "c_one_producer_msgps",
                         "floor_msgps", "floor_ports_msgps", "floor_one_producer_msgps"])
        for p in PRODUCERS:
            progress("fanin %d producers" % p)
            args = ["-a", str(p), "-n", str(opts.fanin_n)]
            med, _ = sw.interleave([
                ("c", [opts.bench] + args + ["fanin"]),
                ("ports", [opts.bench] + args + ["fanin-ports"]),
                ("one", [opts.bench, "-n", str(opts.fanin_n), "throughput"]),
                ("floor", [opts.bench] + args + ["floor-fanin"]),
                ("floor-ports", [opts.bench] + args + ["floor-fanin-ports"]),
                ("floor-one", [opts.bench, "-n", str(opts.fanin_n), "floor-throughput"]),
                ("node", [opts.node, NODE_BENCH, "-a", str(p), "-n", str(opts.fanin_node_n), "fanin"]),
            ])
            f.write("%d %d %s\n" % (p, opts.fanin_n, " ".join(val(med[k]) for k in (
                "c", "node", "ports", "one", "floor", "floor-ports", "floor-one"))))
            f.flush()
    return path


def failures(f, sw, what):
    """Writes why the runs of a point failed (the limit the tool reports) as comments of the .dat."""
    for key, error in sorted(sw.errors.items()):
        f.write("# %s, %s: %s\n" % (what, key, error))


def sweep_ring(sw, opts):
    """ring with its floor and its loop floor (issue 17's target is <= 1.15x the loop floor); node up to
    --ring-node-max workers."""
    path = os.path.join(opts.out, "ring.dat")
    with open(path, "w") as f:
        header(f, opts, ["actors", "n", "c_us_per_hop", "floor_us_per_hop", "node_us_per_hop",
                         "loopfloor_us_per_hop"])
        for a in with_most(RING):
            progress("ring %d actors" % a)
            args = ["-a", str(a), "-n", str(opts.ring_n)]
            spin = ["-S", str(opts.spin)] if opts.spin is not None else []
            steps = [("c", [opts.bench] + spin + args + ["ring"]),
                     ("floor", [opts.bench] + args + ["floor-ring"]),
                     ("loopfloor", [opts.bench] + args + ["loopfloor-ring"])]
            if a <= opts.ring_node_max:
                steps.append(("node", [opts.node, NODE_BENCH] + args + ["ring"]))
            med, _ = sw.interleave(steps)
            failures(f, sw, "ring %d actors" % a)
            f.write("%d %d %s %s %s %s\n" % (a, opts.ring_n, val(med["c"]), val(med["floor"]),
                                           val(med.get("node")), val(med["loopfloor"])))
            f.flush()
    return path


def watchers_kib(actors):
    """The mean size of a libuv 1.44 loop's watcher array over the first `actors` actors, in KiB. A loop keeps
    an array of pointers indexed by descriptor number, grown (and zeroed) to the next power of two above
    the highest descriptor it watches (src/unix/core.c, maybe_resize): 8 * next_pow2(fd + 3) bytes. Actor k's
    highest is its last, the async eventfd, about 4 + 4(k + 1) in uvactor-bench (0-2 stdio, 3-4 libuv's
    process-wide signal pipe, then four per actor), so later actors' arrays grow with the number of actors
    before them."""
    total = 0
    for k in range(actors):
        fd = 4 + FDS_PER_ACTOR * (k + 1)
        total += 8 * (1 << (fd + 3 - 1).bit_length())
    return total / actors / 1024.0


IDLE_MODEL_FIT = 100  # the point whose measured RSS sets the model's constant part


def idle_model(f, measured):
    """Writes idle-model.dat beside f's path: RSS per actor = a constant (the stack pages, the loop, the ports)
    + the watcher array, the constant fitted at IDLE_MODEL_FIT actors, up to 10000 actors."""
    if measured.get(IDLE_MODEL_FIT) is None:
        return None
    base = measured[IDLE_MODEL_FIT] - watchers_kib(IDLE_MODEL_FIT)
    path = os.path.join(os.path.dirname(f), "idle-model.dat")
    with open(path, "w") as out:
        out.write("# RSS per idle actor = %.2f KiB + libuv's watcher array (bench/sweep.py, watchers_kib); the "
                  "constant fitted to the measured %d-actor point\n" % (base, IDLE_MODEL_FIT))
        out.write("# actors model_KiB_per_actor watchers_KiB_per_actor\n")
        a = 1.0
        while a <= 10000:
            n = int(round(a))
            out.write("%d %.6g %.6g\n" % (n, base + watchers_kib(n), watchers_kib(n)))
            a *= 1.12
        out.write("10000 %.6g %.6g\n" % (base + watchers_kib(10000), watchers_kib(10000)))
    return path


def sweep_idle(sw, opts):
    """RSS, descriptors and mappings per idle actor; node (RSS only) up to --idle-node-max workers."""
    path = os.path.join(opts.out, "idle.dat")
    with open(path, "w") as f:
        header(f, opts, ["actors", "c_KiB_per_actor", "node_KiB_per_actor", "c_fds_per_actor",
                         "c_maps_per_actor", "model_KiB_per_actor"])
        measured = {}
        for a in with_most(IDLE):
            progress("idle-rss %d actors" % a)
            args = ["-a", str(a), "idle-rss"]
            med, runs = sw.interleave([("c", [opts.bench] + args)])
            failures(f, sw, "idle-rss %d actors" % a)
            extra = {}
            for name in ("idle-fds", "idle-maps"):
                vals = [r["extra"][name] for r in runs["c"] if name in r["extra"]]
                extra[name] = statistics.median(vals) if vals and med["c"] is not None else None
            nv = None
            if a <= opts.idle_node_max:
                nmed, _ = sw.interleave([("node", [opts.node, NODE_BENCH] + args)], reps=opts.idle_node_reps)
                nv = nmed["node"]
            measured[a] = med["c"]
            model = None
            if measured.get(IDLE_MODEL_FIT) is not None:
                model = measured[IDLE_MODEL_FIT] - watchers_kib(IDLE_MODEL_FIT) + watchers_kib(a)
            f.write("%d %s %s %s %s %s\n" % (a, val(med["c"]), val(nv), val(extra["idle-fds"]),
                                            val(extra["idle-maps"]), val(model)))
            f.flush()
    idle_model(path, measured)
    return path


TPOOL_SIZES = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]


def sweep_tpool(sw, opts):
    """tpool-bytes by buffer size (uvactor, uv_queue_work, piscina), then tpool-cpu by workers."""
    env = piscina_env(opts.piscina_dir)

    def med(cmd, environ=None):
        vals = []
        for _ in range(opts.reps):
            res = run(cmd, opts.timeout, environ)
            for line in res["lines"]:
                sw.log.write("RESULT peer=%s workload=%s n=%s value=%s unit=%s args=%s\n" %
                             (line + (" ".join(cmd[1:]),)))
            sw.log.flush()
            vals.append(res["value"])
        return statistics.median(vals)

    bytes_path = os.path.join(opts.out, "tpool-bytes.dat")
    with open(bytes_path, "w") as f:
        header(f, opts, ["bytes", "n_c", "c_tasks_per_s", "queuework_tasks_per_s", "piscina_tasks_per_s_n1000"])
        for size in TPOOL_SIZES:
            progress("tpool-bytes %d B" % size)
            args = ["-s", str(size)]
            cv = med([opts.bench] + args + ["tpool-bytes"])
            qv = med([opts.bench] + args + ["queuework-bytes"])
            nv = med([opts.node, NODE_TPOOL] + args + ["-n", "1000", "tpool-bytes"], env)
            f.write("%d 20000 %s %s %s\n" % (size, val(cv), val(qv), val(nv)))
            f.flush()
    cpu_path = os.path.join(opts.out, "tpool-cpu.dat")
    with open(cpu_path, "w") as f:
        header(f, opts, ["workers", "c_speedup", "piscina_speedup"])
        for workers in range(1, (os.cpu_count() or 1) + 1):
            progress("tpool-cpu %d workers" % workers)
            cv = med([opts.bench, "-a", str(workers), "tpool-cpu"])
            nv = med([opts.node, NODE_TPOOL, "-a", str(workers), "tpool-cpu"], env)
            f.write("%d %s %s\n" % (workers, val(cv), val(nv)))
            f.flush()
    return bytes_path


def sweep_remote(sw, opts):
    """remote-bigmsg against zmq-bigmsg (raw libzmq, the same frames) by payload size, tcp and ipc."""
    path = os.path.join(opts.out, "remote.dat")
    with open(path, "w") as f:
        header(f, opts, ["bytes", "n", "c_tcp_GBps", "zmq_tcp_GBps", "c_ipc_GBps", "zmq_ipc_GBps"])
        for size in REMOTE_SIZES:
            n = max(200, min(20000, (64 << 20) // size))  # 64 MiB a run: long enough to time, short to run
            progress("remote %d B, n=%d" % (size, n))
            row = []
            for transport in ("tcp", "ipc"):
                args = ["-e", transport, "-s", str(size), "-n", str(n)]
                row.append(sw.median("c", args + ["remote-bigmsg"]))
                row.append(sw.median("c", args + ["zmq-bigmsg"]))
            f.write("%d %d %s\n" % (size, n, " ".join(val(v) for v in row)))
            f.flush()
    return path


SWEEPS = {"payload": sweep_payload, "fanin": sweep_fanin, "ring": sweep_ring, "idle": sweep_idle,
          "tpool": sweep_tpool, "remote": sweep_remote}


def plot(name, datadir, svgdir):
    gp = os.path.join(PLOTS, name + ".gp")
    out = os.path.join(svgdir, "bench-%s.svg" % name)
    subprocess.run(["gnuplot", "-e", "datadir='%s'; out='%s'" % (datadir, out), gp], check=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweeps", nargs="*", metavar="SWEEP", help="which (default all): %s" % " ".join(SWEEPS))
    ap.add_argument("--bench", default=os.environ.get("UVACTOR_BENCH", "bench/uvactor-bench"),
                    help="the uvactor-bench program (default $UVACTOR_BENCH or ./bench/uvactor-bench)")
    ap.add_argument("--node", default=os.environ.get("NODE", "node"), help="the node program")
    ap.add_argument("-r", "--reps", type=int, default=3, help="runs per point and tool (default 3)")
    ap.add_argument("-o", "--out", default=os.path.join(DOCS, "bench-data"),
                    help="where the .dat and .raw files go (default the source tree's docs/bench-data)")
    ap.add_argument("--svg-dir", default=DOCS, help="where the SVGs go (default the source tree's docs/)")
    ap.add_argument("--plot-only", action="store_true", help="replot the .dat files already in --out")
    ap.add_argument("--ring-n", type=int, default=100000, help="hops per ring run (default 100000)")
    ap.add_argument("--fanin-n", type=int, default=1000000, help="messages per C fanin run (default 1000000)")
    ap.add_argument("--fanin-node-n", type=int, default=200000,
                    help="messages per node fanin run (default 200000: node is slower)")
    ap.add_argument("--ring-node-max", type=int, default=256,
                    help="the most node workers for the ring (default 256: each costs ~8 MiB and ~30 ms)")
    ap.add_argument("--idle-node-max", type=int, default=300,
                    help="the most node workers for idle-rss (default 300: each costs ~8 MiB and ~30 ms)")
    ap.add_argument("--idle-node-reps", type=int, default=1, help="node idle-rss runs per point (default 1)")
    ap.add_argument("--spin", type=int, default=None, metavar="USEC",
                    help="uvactor-bench -S USEC for the ring (0: never; default: the library's own)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run before giving up")
    ap.add_argument("--piscina-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "uvactor-piscina"),
                    help="scratch folder piscina is installed into with npm for the tpool sweep")
    opts = ap.parse_args()

    names = opts.sweeps or list(SWEEPS)
    for name in names:
        if name not in SWEEPS:
            ap.error("unknown sweep %r (have: %s)" % (name, " ".join(SWEEPS)))
    os.makedirs(opts.out, exist_ok=True)
    os.makedirs(opts.svg_dir, exist_ok=True)
    if shutil.which("gnuplot") is None:
        sys.exit("sweep: gnuplot is needed for the plots (Debian: gnuplot-nox)")
    if not opts.plot_only:
        if not (os.path.isfile(opts.bench) and os.access(opts.bench, os.X_OK)):
            sys.exit("sweep: no uvactor-bench at %r: build it and pass --bench or set UVACTOR_BENCH" % opts.bench)
        sw = Sweeper(opts)
        for name in names:
            sw.start(name)
            SWEEPS[name](sw, opts)
    for name in names:
        progress("wrote %s" % plot(name, opts.out, opts.svg_dir))


if __name__ == "__main__":
    main()
