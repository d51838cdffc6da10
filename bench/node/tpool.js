#!/usr/bin/env node
// The piscina twin of bench/tpool.c: tpool-empty, tpool-cpu and tpool-bytes through piscina, Node's most used
// worker pool, with the same shapes, counts, checks and timing rules. It prints
//   RESULT peer=piscina workload=<name> n=<N> value=<number> unit=<unit>
//
//   node bench/node/tpool.js [-n N] [-s BYTES] [-a THREADS] [WORKLOAD...]
//
// piscina is not a dependency of uvactor: bench/compare.py installs it with npm into a scratch folder and
// points NODE_PATH there. The pool's threads are booted (one task each) before a clock starts.
'use strict';

const os = require('os');
const path = require('path');
let Piscina;
try {
  Piscina = require('piscina');
} catch (e) {
  process.stderr.write('tpool.js: piscina is not installed: run bench/compare.py, or npm install piscina into a ' +
                       'folder and set NODE_PATH to its node_modules\n');
  process.exit(2);
}
const worker = require('./tpool-worker.js');

const WINDOW = 64;
const DEFAULT_N = { 'tpool-empty': 50000, 'tpool-cpu': 96, 'tpool-bytes': 1000 };

function fail(message) {
  process.stderr.write(`tpool.js: ${message}\n`);
  process.exit(1);
}

function result(workload, n, value, unit) {
  process.stdout.write(`RESULT peer=piscina workload=${workload} n=${n} value=${Number(value.toPrecision(6))} ` +
                       `unit=${unit}\n`);
}

function now() {
  return process.hrtime.bigint();
}

function seconds(start) {
  return Number(now() - start) / 1e9;
}

async function makePool(threads) {
  const pool = new Piscina({ filename: path.join(__dirname, 'tpool-worker.js'), minThreads: threads,
                             maxThreads: threads, idleTimeout: 60000 });
  await Promise.all(Array.from({ length: threads }, () => pool.run({ kind: 'empty' })));
  return pool;
}

// Keeps WINDOW tasks in flight until n are done; make(i) gives task i's [data, options].
async function windowed(pool, n, make, check) {
  const lat = new Float64Array(n);
  let next = 0;
  async function lane() {
    while (next < n) {
      const i = next++;
      const [data, options] = make(i);
      const t0 = now();
      const out = await pool.run(data, options);
      lat[i] = Number(now() - t0) / 1e3;
      check(i, out);
    }
  }
  const start = now();
  await Promise.all(Array.from({ length: WINDOW }, lane));
  return { seconds: seconds(start), lat };
}

function percentile(lat, p) {
  const sorted = Array.from(lat).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * p / 100)];
}

const workloads = {
  async 'tpool-empty'(opts) {
    const pool = await makePool(opts.threads);
    const { seconds: s, lat } = await windowed(pool, opts.n, () => [{ kind: 'empty' }, undefined], (i, out) => {
      if (out !== null)
        fail('tpool-empty: a task answered');
    });
    await pool.destroy();
    result('tpool-empty', opts.n, opts.n / s, 'tasks/s');
    result('tpool-empty-p50', opts.n, percentile(lat, 50), 'us');
    result('tpool-empty-p99', opts.n, percentile(lat, 99), 'us');
  },

  async 'tpool-cpu'(opts) {
    const bands = opts.n;
    if (worker.HEIGHT % bands !== 0)
      fail(`tpool-cpu: n (the bands) must divide ${worker.HEIGHT}`);
    const rows = worker.HEIGHT / bands;
    let t0 = now();
    const plainSum = worker.kernelRows(0, worker.HEIGHT);
    const plain = seconds(t0);
    const pool = await makePool(opts.threads);
    t0 = now();
    const outs = await Promise.all(Array.from({ length: bands }, (_, i) =>
      pool.run({ kind: 'band', y0: i * rows, y1: (i + 1) * rows })));
    const took = seconds(t0);
    await pool.destroy();
    const sum = outs.reduce((acc, out) => acc + out[1], 0);
    if (sum !== plainSum)
      fail(`tpool-cpu: checksum ${sum}, the main thread's ${plainSum}`);
    process.stderr.write(`tpool-cpu: ${opts.threads} threads, ${bands} bands: ${(took * 1e3).toFixed(1)} ms; ` +
                         `the main thread ${(plain * 1e3).toFixed(1)} ms\n`);
    result('tpool-cpu', bands, plain / took, 'x');
  },

  async 'tpool-bytes'(opts) {
    const bufs = [];
    for (let i = 0; i < opts.n; i++) {
      const b = new Uint8Array(opts.size);
      for (let j = 0; j < b.length; j++)
        b[j] = (j * 131 + 7) & 0xff;
      b[0] = i % 251;
      b[b.length - 1] = (i * 7) % 253;
      bufs.push(b.buffer);
    }
    const pool = await makePool(opts.threads);
    const { seconds: s } = await windowed(pool, opts.n,
      (i) => [{ kind: 'bytes', seq: i, buf: bufs[i] }, { transferList: [bufs[i]] }],
      (i, out) => {
        if (out[0] !== i || out[1] !== (((i % 251) << 8) | ((i * 7) % 253)))
          fail(`tpool-bytes: task ${i}: wrong digest`);
      });
    await pool.destroy();
    result('tpool-bytes', opts.n, opts.n / s, 'tasks/s');
  },
};

async function main() {
  const args = process.argv.slice(2);
  const opts = { n: 0, size: 1 << 20, threads: os.availableParallelism ? os.availableParallelism() : os.cpus().length };
  const names = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-n') opts.n = Number(args[++i]);
    else if (args[i] === '-s') opts.size = Number(args[++i]);
    else if (args[i] === '-a') opts.threads = Number(args[++i]);
    else names.push(args[i]);
  }
  for (const name of names.length ? names : Object.keys(workloads)) {
    if (!workloads[name])
      fail(`unknown workload ${name} (have: ${Object.keys(workloads).join(' ')})`);
    await workloads[name]({ ...opts, n: opts.n || DEFAULT_N[name] });
  }
}

main().catch((e) => fail(e.stack || String(e)));
