# The task pool: tpool-bytes by buffer size (uvactor, uv_queue_work, piscina) and tpool-cpu's speed-up by
# workers (uvactor, piscina).
load sprintf("%s/common.gp", system("dirname ".ARG0))
if (!exists("out")) out = "bench-tpool.svg"
set terminal svg size 1000,440 dynamic font "sans,11"
set output out
set multiplot layout 1,2 title "the task pool (medians)"
f = datadir."/tpool-bytes.dat"
set title "tpool-bytes: a moved buffer in, a digest out (64 tasks in flight)"
set logscale xy
set xtics ("1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set xrange [800:1400000]
set xlabel "buffer size"
set ylabel "tasks/s"
set format y "10^{%L}"
set key bottom left reverse Left
plot f u 1:3 w lp ls 1 t "uvactor task pool", \
     f u 1:4 w lp ls 5 t "libuv uv_queue_work (pointer, no message)", \
     f u 1:5 w lp ls 2 t "piscina (transferList)"
g = datadir."/tpool-cpu.dat"
set title "tpool-cpu: a Mandelbrot kernel in 96 bands"
unset logscale
set xtics 1
set xrange [0.5:*]
set yrange [0:*]
set format y "%g"
set xlabel "workers"
set ylabel "speed-up over one thread"
set key top left reverse Left
plot g u 1:2 w lp ls 1 t "uvactor task pool", g u 1:3 w lp ls 2 t "piscina", x w l ls 5 t "ideal"
unset multiplot
