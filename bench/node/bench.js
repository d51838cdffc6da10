#!/usr/bin/env node
// The Node.js twin of uvactor-bench (BENCH.md): the same workloads, shapes, counts, verification and timing
// rules, through worker_threads and postMessage. It prints
//   RESULT peer=node workload=<name> n=<N> value=<number> unit=<unit>
// and exits non-zero when what was received is not what was sent.
//
//   node bench/node/bench.js [-n N] [-s BYTES] [-a COUNT] [WORKLOAD...]
//
// Every worker is started and has said "ready" before a clock starts (the C tool's actors are spawned before
// its clocks too; a Node worker takes milliseconds to boot, an actor microseconds), except in spawn, where
// the boot is what is measured. One file plays every role: a worker runs this file with workerData.role set.
'use strict';

const { Worker, MessageChannel, isMainThread, parentPort, workerData } = require('worker_threads');

const TEXT = '0123456789abcdef';
const WARMUP = 1000;
const BIGMSG_SIZE = 1 << 20;

function fail(message) {
  // In a worker, an uncaught error reaches the main thread's 'error' listener, which fails the run.
  if (!isMainThread)
    throw new Error(message);
  process.stderr.write(`node-bench: ${message}\n`);
  process.exit(1);
}

// The seq of a message [seq, ...], after checking its shape.
function msgSeq(msg) {
  if (!Array.isArray(msg) || msg.length < 2 || !Number.isInteger(msg[0]) || msg[0] < 0)
    fail('a message is not [seq, ...]');
  return msg[0];
}

// bigmsg payloads (BENCH.md): byte j is (j*131+7) & 0xff, byte 0 is seq % 251, the last is (seq*7) % 253.
function payloadFill(buf) {
  for (let j = 0; j < buf.length; j++)
    buf[j] = (j * 131 + 7) & 0xff;
}

function payloadStamp(buf, seq) {
  buf[0] = seq % 251;
  buf[buf.length - 1] = (seq * 7) % 253;
}

function payloadCheck(buf, seq, full) {
  const size = buf.length;
  if (buf[0] !== seq % 251 || buf[size - 1] !== (seq * 7) % 253)
    return false;
  if (full)
    for (let j = 1; j + 1 < size; j++)
      if (buf[j] !== ((j * 131 + 7) & 0xff))
        return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Worker roles.

const roles = {
  // pingpong: answers [seq, "ping"] with [seq, "pong"]; "stop" ends it.
  echo() {
    parentPort.on('message', (msg) => {
      if (msg === 'stop')
        return parentPort.close();
      parentPort.postMessage([msgSeq(msg), 'pong']);
    });
    parentPort.postMessage('ready');
  },

  // call, call-inflight: answers requests {id, body: [seq, "ping"]} with {id, result: [seq, "pong"]}, the way
  // request/reply is written on ports by hand; "stop" ends it.
  answerer() {
    parentPort.on('message', (msg) => {
      if (msg === 'stop')
        return parentPort.close();
      parentPort.postMessage({ id: msg.id, result: [msgSeq(msg.body), 'pong'] });
    });
    parentPort.postMessage('ready');
  },

  // throughput, fanin, bigmsg, bigmsg-transfer: counts a stream, checks it, replies [count, "done"] once.
  // Producer p's seqs run from p*per to (p+1)*per - 1; each producer's order is checked on its own. The stream
  // comes on the parent port (one producer: main) or on the ports in workerData.ports (fanin). A payload's
  // stamps are checked on arrival; the whole pattern of the first and last payloads after "done", which stops
  // the clock (as the C tool does), and then the sink says "checked".
  sink() {
    const { kind, size, producers, per } = workerData;
    const name = kind === 'copy' ? 'bigmsg' : 'bigmsg-transfer';
    const ends = [null, null]; // bigmsg: the first and last payloads, for their full check
    const next = new Array(producers);
    const total = producers * per;
    let received = 0;
    for (let p = 0; p < producers; p++)
      next[p] = p * per;
    const ports = workerData.ports || [parentPort];
    const onMessage = (msg) => {
      const seq = msgSeq(msg);
      const p = Math.floor(seq / per);
      if (p >= producers || next[p] !== seq)
        fail(`stream: message ${seq} out of order`);
      next[p]++;
      const payload = msg[1];
      if (kind === 'text') {
        if (typeof payload !== 'string' || payload.length !== TEXT.length)
          fail('stream: bad payload');
      } else {
        if (!(payload instanceof Uint8Array) || payload.length !== size || !payloadCheck(payload, seq, false))
          fail(`${name}: payload ${seq} is wrong`);
        const end = seq === per - 1 ? 1 : seq === 0 ? 0 : -1; // last, first (bigmsg has one producer)
        if (end >= 0)
          ends[end] = payload;
      }
      if (++received === total) {
        parentPort.postMessage([received, 'done']);
        if (kind !== 'text') {
          for (let end = 0; end < 2; end++)
            if (ends[end] !== null && !payloadCheck(ends[end], end ? per - 1 : 0, true))
              fail(`${name}: payload ${end ? per - 1 : 0} is wrong`);
          parentPort.postMessage('checked');
        }
        for (const port of ports)
          port.close();
        parentPort.close();
      }
    };
    for (const port of ports)
      port.on('message', onMessage);
    parentPort.postMessage('ready');
  },

  // fanin: posts per messages [seq, TEXT] to its port when main says "go".
  producer() {
    const { port, id, per } = workerData;
    parentPort.once('message', () => {
      const base = id * per;
      for (let i = 0; i < per; i++)
        port.postMessage([base + i, TEXT]);
      port.close();
      parentPort.close();
    });
    parentPort.postMessage('ready');
  },

  // ring: a token [hops, "token"] comes from the previous worker (or, for the first, from main); at 0 this
  // worker tells main, else it passes [hops - 1, "token"] on. "stop" from main closes everything.
  ring() {
    const { next, prev } = workerData;
    const onToken = (msg) => {
      const hops = msgSeq(msg);
      if (hops === 0)
        parentPort.postMessage([0, 'done']);
      else
        next.postMessage([hops - 1, 'token']);
    };
    prev.on('message', onToken);
    parentPort.on('message', (msg) => {
      if (msg === 'stop') {
        next.close();
        prev.close();
        parentPort.close();
        return;
      }
      onToken(msg);
    });
    parentPort.postMessage('ready');
  },

  // spawn: says "ready" and ends.
  ready() {
    parentPort.postMessage([0, 'ready']);
  },

  // idle-rss: waits on its port until main closes it, and says it is waiting.
  idle() {
    parentPort.on('message', () => {});
    parentPort.postMessage([0, 'idle']);
  },
};

// ---------------------------------------------------------------------------------------------------------
// Main-thread helpers.

function hrNow() {
  return process.hrtime.bigint();
}

function secondsSince(start) {
  return Number(hrNow() - start) / 1e9;
}

// printf's %.6g, so both tools print numbers alike.
function fmtG(value) {
  if (!Number.isFinite(value))
    return String(value);
  if (value === 0)
    return '0';
  const exp = Math.floor(Math.log10(Math.abs(value)));
  let text;
  if (exp < -4 || exp >= 6) {
    text = value.toExponential(5);
    let [mant, e] = text.split('e');
    if (mant.includes('.'))
      mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const sign = e[0] === '-' ? '-' : '+';
    const digits = e.replace(/^[+-]/, '');
    text = `${mant}e${sign}${digits.length < 2 ? '0' + digits : digits}`;
  } else {
    text = value.toPrecision(6);
    if (text.includes('e'))
      return fmtG(Number(text));
    if (text.includes('.'))
      text = text.replace(/0+$/, '').replace(/\.$/, '');
  }
  return text;
}

function result(workload, n, value, unit) {
  process.stdout.write(`RESULT peer=node workload=${workload} n=${n} value=${fmtG(value)} unit=${unit}\n`);
}

// A worker that fails the run when it throws or exits non-zero before we let it go.
function startWorker(role, data = {}, transferList = []) {
  const worker = new Worker(__filename, { workerData: { ...data, role }, transferList });
  worker.on('error', (err) => fail(`${role} worker: ${err && err.message ? err.message : err}`));
  worker.on('exit', (code) => {
    if (code !== 0)
      fail(`a ${role} worker exited with ${code}`);
  });
  return worker;
}

function nextMessage(emitter) {
  return new Promise((resolve) => emitter.once('message', resolve));
}

// The nth message from now; listening from now on, it cannot miss one that comes right after another.
function nthMessage(emitter, n) {
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (--n === 0) {
        emitter.off('message', onMessage);
        resolve(msg);
      }
    };
    emitter.on('message', onMessage);
  });
}

function exited(worker) {
  return new Promise((resolve) => {
    if (worker.threadId === -1)
      resolve();
    else
      worker.once('exit', resolve);
  });
}

async function ready(worker) {
  const msg = await nextMessage(worker);
  if (msg !== 'ready')
    fail('a worker did not say ready');
}

// ---------------------------------------------------------------------------------------------------------
// Workloads.

async function pingpong(params) {
  const worker = startWorker('echo');
  await ready(worker);
  const total = WARMUP + params.n;
  let sent = 0;
  let start = 0n;
  const elapsed = await new Promise((resolve) => {
    worker.on('message', (msg) => {
      if (msgSeq(msg) !== sent - 1)
        fail('pingpong: pong out of order');
      if (sent === WARMUP)
        start = hrNow();
      if (sent < total) {
        worker.postMessage([sent++, 'ping']);
        return;
      }
      resolve(secondsSince(start));
    });
    worker.postMessage([sent++, 'ping']);
  });
  worker.postMessage('stop');
  await exited(worker);
  result('pingpong', params.n, elapsed * 1e6 / params.n, 'us/rtt');
}

// A call over a port as people write it: an id in the message, a Map of pending promises, a timer per call
// (the timeout), cleared when the answer comes.
const CALL_TIMEOUT_MS = 5000;
const CALL_INFLIGHT = 64;

function caller(worker) {
  let nextId = 1;
  const pending = new Map();
  worker.on('message', (msg) => {
    const p = pending.get(msg.id);
    if (p === undefined)
      return; // late: its call timed out
    pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg.result);
  });
  return (body) => new Promise((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error('call timed out'));
    }, CALL_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    worker.postMessage({ id, body });
  });
}

// n timed calls after WARMUP, `lanes` of them in flight at all times; the seconds they took.
async function runCalls(n, lanes) {
  const worker = startWorker('answerer');
  await ready(worker);
  const call = caller(worker);
  const total = WARMUP + n;
  let made = 0;
  let done = 0;
  let start = 0n;
  const lane = async () => {
    while (made < total) {
      const seq = made++;
      const result = await call([seq, 'ping']);
      if (msgSeq(result) !== seq)
        fail('call: a reply that is not its call\'s');
      if (++done === WARMUP)
        start = hrNow();
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  const seconds = secondsSince(start);
  worker.postMessage('stop');
  await exited(worker);
  return seconds;
}

async function callWorkload(params) {
  const seconds = await runCalls(params.n, 1);
  result('call', params.n, seconds * 1e6 / params.n, 'us/call');
}

async function callInflight(params) {
  const seconds = await runCalls(params.n, CALL_INFLIGHT);
  result('call-inflight', params.n, params.n / seconds, 'calls/s');
}

async function checkDone(worker, total) {
  const msg = await nextMessage(worker);
  if (msgSeq(msg) !== total || msg[1] !== 'done')
    fail('stream: the sink did not count everything');
}

// One producer, main, posting to a sink worker.
async function stream(name, kind, params) {
  const per = params.n;
  const size = params.size;
  const worker = startWorker('sink', { kind, size, producers: 1, per });
  // Payloads are made before the clock starts: a moved buffer is the sender's to fill and stamp, once; the
  // copied source is one buffer, stamped again for every message.
  let source = null;
  let moved = null;
  if (kind === 'copy') {
    source = new Uint8Array(size);
    payloadFill(source);
  } else if (kind === 'move') {
    moved = new Array(per);
    for (let i = 0; i < per; i++) {
      moved[i] = new Uint8Array(size);
      payloadFill(moved[i]);
      payloadStamp(moved[i], i);
    }
  }
  await ready(worker);
  const done = checkDone(worker, per);
  // bigmsg's sink checks the first and last payloads in full after "done" and then says "checked".
  const checked = kind === 'text' ? null : nthMessage(worker, 2);
  const start = hrNow();
  if (kind === 'text') {
    for (let seq = 0; seq < per; seq++)
      worker.postMessage([seq, TEXT]);
  } else if (kind === 'copy') {
    for (let seq = 0; seq < per; seq++) {
      payloadStamp(source, seq);
      worker.postMessage([seq, source]);
    }
  } else {
    for (let seq = 0; seq < per; seq++) {
      const buf = moved[seq];
      worker.postMessage([seq, buf], [buf.buffer]);
      moved[seq] = null;
    }
  }
  await done;
  const seconds = secondsSince(start);
  if (checked !== null && (await checked) !== 'checked')
    fail(`${name}: the sink did not check the first and last payloads`);
  await exited(worker);
  if (kind === 'text')
    result(name, per, per / seconds, 'msg/s');
  else
    result(name, per, per * size / seconds / 1e9, 'GB/s');
}

// fanin: producer workers, each with a MessageChannel port to the one consumer worker. A Node port cannot be
// shared between threads, so this is also fanin-ports, the C tool's shape with a channel per producer.
async function fanin(params, name) {
  const producers = params.actors || 2;
  const per = Math.floor(params.n / producers);
  const n = per * producers;
  const channels = [];
  for (let p = 0; p < producers; p++)
    channels.push(new MessageChannel());
  const sinkPorts = channels.map((c) => c.port2);
  const sink = startWorker('sink', { kind: 'text', size: 0, producers, per, ports: sinkPorts }, sinkPorts);
  const workers = channels.map((c, p) => startWorker('producer', { port: c.port1, id: p, per }, [c.port1]));
  await Promise.all([sink, ...workers].map(ready));
  const done = checkDone(sink, n);
  const start = hrNow();
  for (const w of workers)
    w.postMessage('go');
  await done;
  const seconds = secondsSince(start);
  await Promise.all([sink, ...workers].map(exited));
  result(name, n, n / seconds, 'msg/s');
}

async function spawn(params) {
  const start = hrNow();
  for (let i = 0; i < params.n; i++) {
    const worker = startWorker('ready');
    const exit = exited(worker);
    const msg = await nextMessage(worker);
    if (msgSeq(msg) !== 0 || msg[1] !== 'ready')
      fail('spawn: the worker did not say ready');
    await exit;
  }
  result('spawn', params.n, secondsSince(start) * 1e6 / params.n, 'us/spawn');
}

// ring: worker i holds the port to worker i+1 (next) and from worker i-1 (prev).
async function ring(params) {
  const count = params.actors || 32;
  const hops = params.n;
  if (count < 2)
    fail('ring: needs at least 2 actors');
  const channels = [];
  for (let i = 0; i < count; i++)
    channels.push(new MessageChannel());
  const workers = [];
  for (let i = 0; i < count; i++) {
    const next = channels[i].port1;
    const prev = channels[(i + count - 1) % count].port2;
    workers.push(startWorker('ring', { next, prev }, [next, prev]));
  }
  await Promise.all(workers.map(ready));
  // The last hop lands on worker hops % count.
  const last = workers[hops % count];
  const done = nextMessage(last);
  const start = hrNow();
  workers[0].postMessage([hops, 'token']);
  const msg = await done;
  const seconds = secondsSince(start);
  if (msgSeq(msg) !== 0 || msg[1] !== 'done')
    fail('ring: a bad done');
  for (const w of workers)
    w.postMessage('stop');
  await Promise.all(workers.map(exited));
  result('ring', hops, seconds * 1e6 / hops, 'us/hop');
}

async function idleRss(params) {
  const count = params.actors || 1000;
  const workers = [];
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) {
    const worker = startWorker('idle');
    const msg = await nextMessage(worker);
    if (msgSeq(msg) !== 0 || msg[1] !== 'idle')
      fail('idle-rss: the worker did not say idle');
    workers.push(worker);
  }
  const after = process.memoryUsage().rss;
  for (const w of workers)
    w.removeAllListeners('exit');
  await Promise.all(workers.map((w) => w.terminate()));
  result('idle-rss', count, (after - before) / count / 1024, 'KiB/actor');
}

const workloads = [
  ['pingpong', pingpong, 100000],
  ['throughput', (p) => stream('throughput', 'text', p), 1000000],
  ['fanin', (p) => fanin(p, 'fanin'), 1000000],
  ['fanin-ports', (p) => fanin(p, 'fanin-ports'), 1000000],
  ['spawn', spawn, 200],
  ['bigmsg', (p) => stream('bigmsg', 'copy', p), 1000],
  ['bigmsg-transfer', (p) => stream('bigmsg-transfer', 'move', p), 1000],
  ['ring', ring, 100000],
  ['call', callWorkload, 100000],
  ['call-inflight', callInflight, 200000],
  ['idle-rss', idleRss, 1000],
];

function usage(out) {
  out.write('usage: node bench/node/bench.js [-n N] [-s BYTES] [-a COUNT] [WORKLOAD...]\n' +
            '  -n N      iterations (messages, round trips, calls, spawns, hops); default per workload\n' +
            '  -s BYTES  payload size for bigmsg and bigmsg-transfer (default 1 MiB)\n' +
            '  -a COUNT  workers in the ring, producers for fanin and fanin-ports, workers for idle-rss\n' +
            `workloads (default: all but idle-rss): ${workloads.map((w) => w[0]).join(' ')}\n`);
}

function parseCount(text, flag) {
  if (text === undefined || !/^[0-9]+$/.test(text)) {
    usage(process.stderr);
    process.exit(2);
  }
  return Number(text);
}

async function main() {
  const params = { n: 0, size: BIGMSG_SIZE, actors: 0 };
  const names = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let m;
    if ((m = /^-([nsa])(.*)$/.exec(arg))) {
      const value = parseCount(m[2] !== '' ? m[2] : argv[++i], arg);
      if (m[1] === 'n')
        params.n = value;
      else if (m[1] === 's')
        params.size = value;
      else
        params.actors = value;
    } else if (arg === '-h') {
      usage(process.stdout);
      return;
    } else if (arg.startsWith('-') && arg !== '-') {
      usage(process.stderr);
      process.exit(2);
    } else {
      names.push(arg);
    }
  }
  if (params.size < 2)
    fail('-s: a payload needs at least 2 bytes for its stamps');
  let chosen;
  if (names.length === 0) {
    chosen = workloads.filter((w) => w[0] !== 'idle-rss');
  } else {
    chosen = names.map((name) => {
      const w = workloads.find((x) => x[0] === name);
      if (!w) {
        usage(process.stderr);
        process.exit(2);
      }
      return w;
    });
  }
  for (const [, run, defaultN] of chosen)
    await run({ ...params, n: params.n || defaultN });
}

if (isMainThread) {
  main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
} else {
  roles[workerData.role]();
}
