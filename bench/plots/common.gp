# Shared settings of the sweep plots. Called with -e "datadir='...'; out='...'" by bench/sweep.py.
if (!exists("datadir")) datadir = "sweep-data"
set datafile missing "?"
set key top left box opaque reverse Left
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 0.8   # uvactor
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 0.8   # node
set style line 3 lc rgb "#1f77b4" lw 2 pt 6 ps 0.8 dt 2   # uvactor, second series
set style line 4 lc rgb "#d62728" lw 2 pt 4 ps 0.8 dt 2   # node, second series
set style line 5 lc rgb "#555555" lw 2 pt 9 ps 0.8 dt 3   # floor
