# Ring length sweep: one token around 2..256 actors, with the eventfd floor.
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-ring.svg"
set terminal svg size 700,440 dynamic font "sans,11"
set output out
f = datadir."/ring.dat"
set title "ring: one token passed actor to actor (2 cores, medians)"
set xlabel "actors in the ring"
set ylabel "microseconds per hop"
set logscale x 2
set xtics (2, 4, 8, 16, 32, 64, 128, 256)
set xrange [1.6:320]
set yrange [0:*]
set key top left reverse Left
plot f u 1:3 w lp ls 1 t "uvactor", f u 1:5 w lp ls 2 t "node worker_threads" noenhanced, \
     f u 1:4 w lp ls 5 t "floor: threads and bare eventfds"
