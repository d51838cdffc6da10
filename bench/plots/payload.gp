# Message size sweep: bigmsg (copied) and bigmsg-transfer (moved), 16 B .. 1 MiB, uvactor and node.
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-payload.svg"
set terminal svg size 1000,440 dynamic font "sans,11"
set output out
f = datadir."/payload.dat"
set logscale xy
set xtics ("16 B" 16, "64" 64, "256" 256, "1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set xrange [12:1400000]
set xlabel "payload size"
set multiplot layout 1,2 title "one-way stream of [seq, bytes] messages into one actor (1 producer, medians)"
set title "messages per second"
set key bottom left reverse Left
set ylabel "msg/s"
set format y "10^{%L}"
plot f u 1:7 w lp ls 1 t "uvactor copy (bigmsg)", \
     f u 1:9 w lp ls 3 t "uvactor move (bigmsg-transfer)", \
     f u 1:8 w lp ls 2 t "node copy", \
     f u 1:10 w lp ls 4 t "node transfer"
set title "payload bandwidth"
set ylabel "GB/s"
set format y "%g"
set key top left reverse Left
plot f u 1:3 w lp ls 1 t "uvactor copy (bigmsg)", \
     f u 1:5 w lp ls 3 t "uvactor move (bigmsg-transfer)", \
     f u 1:4 w lp ls 2 t "node copy", \
     f u 1:6 w lp ls 4 t "node transfer"
unset multiplot
