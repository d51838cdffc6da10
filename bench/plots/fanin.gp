# Producers sweep: fanin with 1..8 producer threads into one consumer actor, on its own port (the mailbox
# pattern) or on a channel each (fanin-ports), beside the one-producer throughput of the same run and the
# plain-C floors of both shapes (columns 7 and 8; data recorded before them lack them).
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
set key bottom left reverse Left
plot f u 1:3 w lp ls 1 t "uvactor, one port (fanin)", \
     f u 1:5 w lp ls 3 t "uvactor, a channel each (fanin-ports)", \
     f u 1:(0.8*$6) w l ls 5 t "0.8 x one producer (throughput, same run): the target", \
     f u 1:4 w lp ls 2 t "node worker_threads (a channel each)" noenhanced, \
     f u 1:7 w lp ls 5 t "floor: plain C, one mutex list (floor-fanin)", \
     f u 1:8 w lp ls 5 pt 8 t "floor: plain C, a mutex list each (floor-fanin-ports)"
