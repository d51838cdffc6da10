# Ring length sweep: one token around 2..10000 actors, with the eventfd floor and the loop floor. Points the
# machine's descriptor limit refused are missing ('?' in ring.dat, the limit in its comments).
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-ring.svg"
set terminal svg size 700,440 dynamic font "sans,11"
set output out
f = datadir."/ring.dat"
set title "ring: one token passed actor to actor (2 cores, medians)"
set xlabel "actors in the ring"
set ylabel "microseconds per hop"
set logscale x 2
set xtics ("2" 2, "8" 8, "32" 32, "128" 128, "512" 512, "2048" 2048, "10000" 10000)
set xrange [1.6:12500]
set logscale y
set yrange [2:300]
set format y "%g"
set key bottom right reverse Left
set style line 6 lc rgb "#2ca02c" lw 2 pt 13 ps 0.8 dt 4   # loop floor
plot f u 1:3 w lp ls 1 t "uvactor", f u 1:5 w lp ls 2 t "node worker_threads" noenhanced, \
     f u 1:6 w lp ls 6 t "loop floor: libuv loops on eventfds", \
     f u 1:4 w lp ls 5 t "floor: threads and bare eventfds"
