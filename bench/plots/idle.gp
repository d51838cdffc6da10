# Idle memory sweep: RSS per idle actor for 1..10000 actors, and the model that explains its growth (libuv's
# per-loop watcher array, indexed by descriptor number); points beyond the machine's descriptor limit are
# '?' in idle.dat, and only the model reaches them.
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-idle.svg"
set terminal svg size 700,440 dynamic font "sans,11"
set output out
f = datadir."/idle.dat"
m = datadir."/idle-model.dat"
set title "resident memory per idle actor (RSS growth / actors, one run per point for node)"
set xlabel "idle actors"
set ylabel "KiB per actor"
set logscale xy
set xrange [0.8:12500]
set format y "%g"
set key top right reverse Left
plot f u 1:2 w lp ls 1 t "uvactor", \
     m u 1:2 w l ls 3 t "model: a constant + libuv's watcher array", \
     f u 1:3 w lp ls 2 t "node worker_threads" noenhanced
