# The remote transport against raw libzmq between two processes: remote-bigmsg and zmq-bigmsg by payload
# size, over tcp://127.0.0.1 and ipc://.
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-remote.svg"
set terminal svg size 1000,440 dynamic font "sans,11"
set output out
f = datadir."/remote.dat"
set logscale x
set xtics ("1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set xrange [800:1400000]
set xlabel "payload size"
set ylabel "GB/s"
set yrange [0:*]
set key top left reverse Left
set multiplot layout 1,2 title "one-way stream of [seq, bytes] messages to another process (medians)"
set title "tcp://127.0.0.1"
plot f u 1:3 w lp ls 1 t "uvactor remote (remote-bigmsg)", f u 1:4 w lp ls 5 t "raw libzmq (zmq-bigmsg)"
set title "ipc://"
plot f u 1:5 w lp ls 1 t "uvactor remote (remote-bigmsg)", f u 1:6 w lp ls 5 t "raw libzmq (zmq-bigmsg)"
unset multiplot
