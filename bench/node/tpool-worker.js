// The piscina worker of bench/node/tpool.js: the task functions of tpool-empty, tpool-cpu and tpool-bytes,
// the same as bench/tpool.c's.
'use strict';

const WIDTH = 2048;
const HEIGHT = 1536;
const ITER = 256;

// Escape counts of rows [y0, y1) of a Mandelbrot image, summed (bench/tpool.c's kernel_rows).
function kernelRows(y0, y1) {
  let sum = 0;
  for (let y = y0; y < y1; y++) {
    const ci = -1.2 + 2.4 * y / HEIGHT;
    for (let x = 0; x < WIDTH; x++) {
      const cr = -2.2 + 3.2 * x / WIDTH;
      let zr = 0, zi = 0, i = 0;
      for (; i < ITER && zr * zr + zi * zi <= 4.0; i++) {
        const t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
      }
      sum += i;
    }
  }
  return sum;
}

function task(t) {
  switch (t.kind) {
    case 'empty':
      return null;
    case 'band':
      return [t.y0, kernelRows(t.y0, t.y1)];
    case 'bytes': {
      // The buffer was transferred, not copied; the digest is its two stamps.
      const b = new Uint8Array(t.buf);
      return [t.seq, (b[0] << 8) | b[b.length - 1]];
    }
    default:
      throw new Error('unknown task ' + t.kind);
  }
}

module.exports = task;
module.exports.kernelRows = kernelRows;
module.exports.HEIGHT = HEIGHT;
