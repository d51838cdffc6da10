# Producers sweep: fanin with 1..8 producer threads into one consumer actor.
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-fanin.svg"
set terminal svg size 700,440 dynamic font "sans,11"
set output out
f = datadir."/fanin.dat"
set title "fanin: producers posting [seq, \"0123456789abcdef\"] to one consumer (2 cores, medians)"
set xlabel "producers"
set ylabel "messages per second, total"
set xtics 1
set xrange [0.5:8.5]
set logscale y
set format y "10^{%L}"
set key top right reverse Left
plot f u 1:3 w lp ls 1 t "uvactor", f u 1:4 w lp ls 2 t "node worker_threads" noenhanced
