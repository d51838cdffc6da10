#!/usr/bin/env python3
"""A node in another language: speaks docs/remote.md's wire protocol (version 1) to tests/remote_node.

Written from docs/remote.md alone, with pyzmq and msgpack (Debian: python3-zmq, python3-msgpack), so that
the document is enough to take part. It connects as a client (a DEALER), opens the session, opens the name
"svc" of the node's registry and exchanges messages with it (a moved buffer included, as a frame of its
own), makes calls (a reply, the callee's error, a request freed unanswered), closes the channel, spawns the
node's "echo" main and terminates it, then breaks the protocol on
purpose and checks the node says so: a sequence gap and a sender beyond its credit each close their
channel with EPROTO, nothing is delivered past them. A second session says "batch" in its HELLO: the node
then sends small messages as BATCH frames, takes this side's, calls included, and closes a channel whose
BATCH is malformed with EPROTO, after what came before the bad entry, and one that returns credit past its
window however large the count. The first session, whose "batch" is 1 and not true, never gets one. A
third session, with a node started again, sees it close: what its port held past this side's window comes
before the CLOSE, and a spawn that comes meanwhile is refused; a fourth floods a node with spawns as it is
asked to close, which it does between them.

    remote_peer.py REMOTE_NODE     prints TAP; REMOTE_NODE is the built tests/remote_node
"""
import copy
import os
import signal
import struct
import subprocess
import sys
import time

import msgpack
import zmq

# How long a wait for a frame lasts before the test gives up: a hang guard no slow machine reaches, longer
# in sanitized builds (where tests/local.mk sets CK_TIMEOUT_MULTIPLIER), as tests/remote_timing.h's.
SLOWDOWN = min(max(float(os.environ.get("CK_TIMEOUT_MULTIPLIER") or 1), 1), 10)
HANG_GUARD = 15.0 * SLOWDOWN

HEADER = struct.Struct(">2sBBBBHiIQQQQQ")  # 56 bytes, big-endian (docs/remote.md, "Header")
assert HEADER.size == 56
HELLO, WELCOME, HEARTBEAT, OPEN, ACCEPT, DATA, CREDIT, CLOSE, EXIT, TERMINATE, RESET, BATCH = range(1, 13)
ENTRY = struct.Struct(">IB3xiQ")  # a BATCH entry's head, 20 bytes (docs/remote.md, "BATCH")
assert ENTRY.size == 20
FLAG_OPENER = 1
EXT_BUFFER = 126
EPROTO = -71
ECONNRESET = -104
ECONNREFUSED = -111
CALL_REQUEST, CALL_REPLY = 1, 2
UVA_EXIT_TERMINATED = -1
WINDOW_MESSAGES = 64
WINDOW_BYTES = 1 << 20

results = []


def check(ok, what):
    results.append((bool(ok), what))
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), what), flush=True)
    return ok


class Frame:
    def __init__(self, parts):
        (magic, self.version, self.type, self.flags, self.call_kind, self.nattach, self.status,
         self.credit_messages, self.session, self.channel, self.seq, self.call_id,
         self.credit_bytes) = HEADER.unpack(parts[0])
        assert magic == b"UA"
        self.body = parts[1] if len(parts) > 1 else None
        self.attach = parts[2:]


class Peer:
    """One session with the node, and the channels this side opened (each a dict of its state)."""

    def __init__(self, endpoint, batch=False):
        self.batch = batch
        self.frames = {}  # frames received, by type
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTING_ID, bytes([0x80 | os.urandom(1)[0]]) + os.urandom(15))
        self.sock.connect(endpoint)
        self.session = int.from_bytes(os.urandom(8), "big") | 1
        self.last_tx = 0.0
        self.chans = {}
        self.next_channel = 1
        self.pending = []  # frames read while waiting for another

    def send(self, type_, channel=0, flags=FLAG_OPENER, status=0, seq=0, body=None, attach=(),
             credit=(0, 0), chan=None, call=(0, 0)):
        if chan is not None:  # returned credit rides on every frame about the channel
            credit = (chan["owed_messages"], chan["owed_bytes"])
            chan["owed_messages"] = chan["owed_bytes"] = 0
        header = HEADER.pack(b"UA", 1, type_, flags, call[0], len(attach), status, credit[0], self.session,
                             channel, seq, call[1], credit[1])
        parts = [header] + ([body] if body is not None else []) + list(attach)
        self.sock.send_multipart(parts)
        self.last_tx = time.monotonic()

    def recv(self, timeout=HANG_GUARD, want=None):
        """The next frame (of type want, if given; others wait in pending), heartbeating while it waits. A
        BATCH comes as the DATA frames it stands for."""
        deadline = time.monotonic() + timeout
        while True:
            for i, f in enumerate(self.pending):
                if want is None or f.type == want:
                    return self.pending.pop(i)
            if time.monotonic() >= deadline:
                return None
            if time.monotonic() - self.last_tx > 0.05:
                self.send(HEARTBEAT, flags=0)
            if self.sock.poll(20):
                f = Frame(self.sock.recv_multipart())
                if f.session != self.session or f.type == HEARTBEAT:
                    continue
                self.frames[f.type] = self.frames.get(f.type, 0) + 1
                if f.type == CREDIT:
                    self.take_credit(f)
                    continue
                self.pending.extend(split_batch(f) if f.type == BATCH else [f])

    def take_credit(self, f):
        chan = self.chans.get(f.channel)
        if chan is not None:
            chan["credit_messages"] += f.credit_messages
            chan["credit_bytes"] += f.credit_bytes

    def hello(self):
        body = msgpack.packb({"node": "py", "versions": [1], "heartbeat_ms": 50, "timeout_ms": 1000,
                              "batch": self.batch})
        self.send(HELLO, flags=0, body=body)
        f = self.recv(want=WELCOME)
        return f is not None and msgpack.unpackb(f.body)

    def open(self, kind, target):
        cid = self.next_channel
        self.next_channel += 1
        chan = {"id": cid, "tx_seq": 0, "rx_seq": 0, "credit_messages": 0, "credit_bytes": 0,
                "owed_messages": 0, "owed_bytes": 0}
        self.chans[cid] = chan
        self.send(OPEN, channel=cid, body=msgpack.packb([kind, target, None, None]),
                  credit=(WINDOW_MESSAGES, WINDOW_BYTES))
        f = self.recv(want=ACCEPT)
        if f is None or f.status != 0:
            return None, f
        chan["credit_messages"] += f.credit_messages
        chan["credit_bytes"] += f.credit_bytes
        return chan, f

    def post(self, chan, obj, attach=(), seq=None, call=(0, 0)):
        body = msgpack.packb(obj, use_bin_type=True)
        chan["tx_seq"] += 1
        chan["credit_messages"] -= 1
        chan["credit_bytes"] -= len(body) + sum(len(a) for a in attach)
        self.send(DATA, channel=chan["id"], seq=chan["tx_seq"] if seq is None else seq, body=body,
                  attach=attach, chan=chan, call=call)

    def post_batch(self, chan, entries, cut=0):
        """One BATCH of entries, each (object, (call kind, call id)); cut: bytes taken off its end."""
        body = b""
        first = chan["tx_seq"] + 1
        for obj, call in entries:
            packed = msgpack.packb(obj, use_bin_type=True)
            body += ENTRY.pack(len(packed), call[0], 0, call[1]) + packed
            chan["tx_seq"] += 1
            chan["credit_messages"] -= 1
            chan["credit_bytes"] -= len(packed)
        self.send(BATCH, channel=chan["id"], seq=first, body=body[:len(body) - cut], chan=chan)

    def receive(self, chan, timeout=HANG_GUARD):
        """The next DATA of chan as (object, attached frames), its credit owed back; or the frame that ended
        the channel instead."""
        f = self.recv(timeout, want=None)
        while f is not None and f.channel != chan["id"]:
            f = self.recv(timeout)
        if f is None or f.type != DATA:
            return None, f
        chan["credit_messages"] += f.credit_messages
        chan["credit_bytes"] += f.credit_bytes
        chan["rx_seq"] += 1
        if f.seq != chan["rx_seq"]:
            return None, f
        chan["owed_messages"] += 1
        chan["owed_bytes"] += len(f.body) + sum(len(a) for a in f.attach)
        if chan["owed_messages"] >= WINDOW_MESSAGES // 2:
            self.send(CREDIT, channel=chan["id"], chan=chan)
        return msgpack.unpackb(f.body, raw=False), f


def split_batch(f):
    """The DATA frames a BATCH stands for: entry i is DATA seq + i; the header's credit rides on the first."""
    out = []
    off = 0
    while off < len(f.body):
        length, kind, status, call_id = ENTRY.unpack_from(f.body, off)
        d = copy.copy(f)
        d.type, d.call_kind, d.status, d.call_id = DATA, kind, status, call_id
        d.seq = f.seq + len(out)
        d.body = f.body[off + ENTRY.size:off + ENTRY.size + length]
        d.attach = []
        if out:
            d.credit_messages = d.credit_bytes = 0
        out.append(d)
        off += ENTRY.size + length
    return out


def ext_index(obj):
    return struct.unpack(">I", obj.data)[0] if isinstance(obj, msgpack.ExtType) else None


def start_node(node_path, env=None):
    """tests/remote_node as "srv" on loopback: the process and the endpoint it listens on."""
    node = subprocess.Popen([node_path, "srv", "tcp://127.0.0.1:*", "plain"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    line = node.stdout.readline().decode().split()
    return node, line[1] if len(line) == 2 and line[0] == "listening" else None


def end_node(node, what):
    """Waits for the node to end (killing it past the hang guard) and checks it ended cleanly."""
    try:
        status = node.wait(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        node.kill()
        status = node.wait()
    check(status == 0, "remote_node ends cleanly%s (status %d)" % (what and " " + what, status))


def main():
    node, endpoint = start_node(sys.argv[1])
    if endpoint is None:
        print("Bail out! remote_node did not say where it listens")
        return 1
    peer = Peer(endpoint, batch=1)  # not true: this session reads no batches

    welcome = peer.hello()
    check(welcome and welcome.get("node") == "srv" and 1 in welcome.get("versions", []),
          "HELLO gets WELCOME with the node's map (name srv, version 1)")

    # A remote port to the name "svc": messages both ways, in order, a moved buffer as a frame.
    chan, accept = peer.open(0, "svc")
    check(chan is not None and accept.flags == 0 and accept.credit_messages > 0,
          "OPEN of the name svc is accepted, with the node's window")
    n = 200
    ok = True
    got = 0
    for i in range(n):
        while chan["credit_messages"] < 1:
            obj, f = peer.receive(chan)
            ok = ok and obj is not None and obj[0] == got
            got += 1
        if i % 50 == 0:
            payload = bytes((j * 7 + i) & 0xff for j in range(3000))
            peer.post(chan, [i, "with a buffer", msgpack.ExtType(EXT_BUFFER, struct.pack(">I", 0))],
                      attach=[payload])
        else:
            peer.post(chan, [i, "0123456789abcdef"])
    buffers_ok = 0
    while got < n:
        obj, f = peer.receive(chan)
        if obj is None or obj[0] != got:
            ok = False
            break
        if len(obj) == 3 and ext_index(obj[2]) == 0 and len(f.attach) == 1 and \
                f.attach[0] == bytes((j * 7 + got) & 0xff for j in range(3000)):
            buffers_ok += 1
        got += 1
    check(ok and got == n, "svc echoes %d messages, in order, numbered from 1" % n)
    check(buffers_ok == 4, "moved buffers cross as frames of their own, both ways (%d of 4)" % buffers_ok)

    peer.send(CLOSE, channel=chan["id"], seq=chan["tx_seq"], chan=chan)
    f = peer.recv(want=CLOSE)
    check(f is not None and f.status == 0 and f.channel == chan["id"], "CLOSE is answered with CLOSE")

    # A remote actor: spawn echo, talk, terminate.
    chan, accept = peer.open(1, "echo")
    check(chan is not None, "OPEN of the main echo (a spawn) is accepted once the actor is online")
    peer.post(chan, ["hello", 1])
    obj, f = peer.receive(chan)
    check(obj == ["hello", 1], "the remote actor echoes")
    peer.send(TERMINATE, channel=chan["id"], chan=chan)
    f = peer.recv(want=EXIT)
    check(f is not None and f.status == UVA_EXIT_TERMINATED and msgpack.unpackb(f.body) == [None],
          "TERMINATE ends it: EXIT with UVA_EXIT_TERMINATED")

    # Calls: a request is DATA with call kind 1 and an id; its reply DATA with call kind 2, the same id, and
    # the status: 0 and the reply's body, the callee's code (> 0) and its text, or why there is none (< 0).
    chan, accept = peer.open(0, "svc")
    replies = {}
    for call_id, body in ((11, [1, 2, 3]), (12, "fail"), (13, "drop")):
        peer.post(chan, body, call=(CALL_REQUEST, call_id))
    for _ in range(3):
        obj, f = peer.receive(chan)
        if f is not None and f.type == DATA and f.call_kind == CALL_REPLY:
            replies[f.call_id] = (f.status, obj)
    check(replies.get(11) == (0, [1, 2, 3]), "a call's reply comes with its id and status 0: %r" % (replies.get(11),))
    check(replies.get(12) == (7, "asked to fail"), "the callee's error comes as its code and text: %r" % (replies.get(12),))
    check(13 in replies and replies[13][0] == ECONNRESET, "a request freed unanswered: status ECONNRESET")
    peer.send(CLOSE, channel=chan["id"], seq=chan["tx_seq"], chan=chan)
    peer.recv(want=CLOSE)

    chan, f = peer.open(0, "nobody")
    check(chan is None and f is not None and f.status < 0, "OPEN of a name nobody holds is refused")

    # A sequence gap: the node delivers 1, then closes the channel with EPROTO rather than skip 2.
    chan, accept = peer.open(0, "svc")
    peer.post(chan, [0, "first"])
    obj, f = peer.receive(chan)
    peer.post(chan, [1, "lost"], seq=3)
    obj, f = peer.receive(chan)
    check(obj is None and f is not None and f.type == CLOSE and f.status == EPROTO,
          "a sequence gap closes the channel with EPROTO, nothing after it delivered")

    # Beyond the credit: the actor "full" reads nothing (4 in its queue), so the node's window runs out and
    # the message after it closes the channel with EPROTO.
    chan, accept = peer.open(1, "full")
    window = accept.credit_messages
    for i in range(window + 1):
        peer.post(chan, [i])
    f = peer.recv(want=CLOSE)
    check(f is not None and f.status == EPROTO and window > 0,
          "a sender beyond its credit (%d messages) closes the channel with EPROTO" % window)

    # The session still works after all that.
    chan, accept = peer.open(0, "svc")
    peer.post(chan, [42])
    obj, f = peer.receive(chan)
    check(obj == [42], "the session still serves")
    check(peer.frames.get(BATCH, 0) == 0 and peer.frames.get(DATA, 0) > 0,
          "a peer whose map says batch: 1, not true, gets DATA only (%d DATA frames)" % peer.frames.get(DATA, 0))
    peer.send(RESET, flags=0, status=-104)
    peer.sock.close()

    # A peer that says "batch": small messages come as BATCH frames, and its own are taken, calls included.
    peer = Peer(endpoint, batch=True)
    welcome = peer.hello()
    check(welcome and welcome.get("batch") is True, "the node's map says it reads batches")
    chan, accept = peer.open(0, "svc")
    n = 100
    for i in range(0, n, 10):
        peer.post_batch(chan, [([j, "batched"], (0, 0)) for j in range(i, i + 10)])
    got = [peer.receive(chan)[0] for _ in range(n)]
    check(got == [[j, "batched"] for j in range(n)], "svc echoes %d messages sent in BATCH frames, in order" % n)
    check(peer.frames.get(BATCH, 0) > 0 and peer.frames.get(DATA, 0) == 0,
          "to a peer that says batch, small messages come in BATCH frames (%d for %d messages)" %
          (peer.frames.get(BATCH, 0), n))
    peer.post_batch(chan, [([5, 6], (CALL_REQUEST, 21)), ("fail", (CALL_REQUEST, 22)), ([7], (0, 0))])
    replies = {}
    for _ in range(3):
        obj, f = peer.receive(chan)
        replies[f.call_id if f.call_kind == CALL_REPLY else None] = (f.status, obj)
    check(replies.get(21) == (0, [5, 6]) and replies.get(22) == (7, "asked to fail") and
          replies.get(None) == (0, [7]), "calls in a BATCH are answered, each reply with its id: %r" % replies)

    # A BATCH cut inside its last entry, one with an entry's padding set: each closes its channel.
    peer.post_batch(chan, [([100], (0, 0)), ([101], (0, 0))], cut=1)
    f = peer.recv(want=CLOSE)
    check(f is not None and f.status == EPROTO and f.channel == chan["id"],
          "a BATCH cut short closes the channel with EPROTO")
    chan, accept = peer.open(0, "svc")
    packed = msgpack.packb([102])
    peer.send(BATCH, channel=chan["id"], seq=1, chan=chan,
              body=ENTRY.pack(len(packed), 0, 0, 0)[:5] + b"\x00\x01\x00" + ENTRY.pack(0, 0, 0, 0)[8:] + packed)
    f = peer.recv(want=CLOSE)
    check(f is not None and f.status == EPROTO, "a BATCH entry with its padding set closes the channel with EPROTO")
    chan, accept = peer.open(0, "svc")
    peer.send(BATCH, channel=chan["id"], seq=1, body=b"", chan=chan)
    f = peer.recv(want=CLOSE)
    check(f is not None and f.status == EPROTO, "an empty BATCH closes the channel with EPROTO")
    # Credit returned past the window, however large the count: a wrapped count must not pass for a small one.
    chan, accept = peer.open(0, "svc")
    peer.send(CREDIT, channel=chan["id"], credit=(0, 1 << 63))
    f = peer.recv(want=CLOSE)
    check(f is not None and f.status == EPROTO, "credit of 2^63 bytes returned closes the channel with EPROTO")
    chan, accept = peer.open(0, "svc")
    peer.post(chan, [43])
    obj, f = peer.receive(chan)
    check(obj == [43], "the batching session still serves")
    peer.send(RESET, flags=0, status=-104)

    peer.sock.close()
    peer.ctx.term()
    node.stdin.close()
    end_node(node, "")

    # A node that closes sends what its open ports hold first: svc echoes more than this side's window, this
    # side returns no credit until the node closes, then takes the rest: every echo comes, in order, then
    # CLOSE with status 0. Opens and spawns that come while it closes are refused with ECONNRESET.
    node, endpoint = start_node(sys.argv[1], dict(os.environ, UVA_NODE_LINGER_MS=str(int(HANG_GUARD * 1000))))
    peer = Peer(endpoint)
    peer.hello()
    chan, accept = peer.open(0, "svc")
    n = 4 * WINDOW_MESSAGES
    for i in range(n):
        peer.post(chan, [i])
    early = [peer.recv(want=DATA) for _ in range(WINDOW_MESSAGES)]  # a window, its credit kept
    node.stdin.close()
    refused = None
    deadline = time.monotonic() + HANG_GUARD
    while refused is None and time.monotonic() < deadline:  # no such main, until the node takes the close
        peer.send(OPEN, channel=1000 + peer.next_channel, body=msgpack.packb([1, "nomain", None, None]),
                  credit=(WINDOW_MESSAGES, WINDOW_BYTES))
        peer.next_channel += 1
        f = peer.recv(want=ACCEPT)
        if f is not None and f.status != ECONNREFUSED:
            refused = f.status
    check(refused == ECONNRESET, "a spawn that comes while the node closes is refused with ECONNRESET (%r)" % refused)
    got = []
    for f in early:
        chan["rx_seq"] += 1
        chan["owed_messages"] += 1
        chan["owed_bytes"] += len(f.body)
        got.append(msgpack.unpackb(f.body) if f is not None and f.seq == chan["rx_seq"] else None)
    peer.send(CREDIT, channel=chan["id"], chan=chan)
    while True:
        obj, f = peer.receive(chan)
        if obj is None:
            break
        got.append(obj)
    check(len(got) > WINDOW_MESSAGES and got == [[i] for i in range(len(got))] and f is not None and
          f.type == CLOSE and f.status == 0,
          "a closing node sends what its port held past the window (%d echoes), in order, then CLOSE 0" %
          len(got))
    # This side's answer comes behind more messages than the node reads in one turn's share of a socket
    # (1024), all waiting when it runs again: the CLOSE that ends its last channel is read in the pump that
    # follows, whose walk of the sockets must not have them closed under it.
    node.send_signal(signal.SIGSTOP)
    for i in range(1100):
        peer.post(chan, [i])
    peer.send(CLOSE, channel=chan["id"], seq=chan["tx_seq"], chan=chan)
    time.sleep(0.1)  # for ZeroMQ's thread here to write them out; the check does not depend on it
    node.send_signal(signal.SIGCONT)
    f = peer.recv(want=RESET)
    check(f is not None and f.status == -125, "then RESET: the node closed (ECANCELED)")
    end_node(node, "after its close")
    peer.sock.close()
    peer.ctx.term()

    # A flood of spawns, all waiting when the node runs again, its close asked for once the first is
    # answered: the node takes a few opens a turn (each spawn starts a thread), so the close comes between
    # them and refuses the rest, rather than after all of them (which kept a flooded node from its close and
    # its heartbeats for seconds).
    node, endpoint = start_node(sys.argv[1])
    peer = Peer(endpoint)
    peer.hello()
    node.send_signal(signal.SIGSTOP)
    flood = 300
    for i in range(flood):
        peer.send(OPEN, channel=5000 + i, body=msgpack.packb([1, "echo", None, None]),
                  credit=(WINDOW_MESSAGES, WINDOW_BYTES))
    time.sleep(0.1)  # for ZeroMQ's thread here to write them out; the check does not depend on it
    node.send_signal(signal.SIGCONT)
    f = peer.recv(want=ACCEPT)
    node.stdin.close()
    refused = 0
    while f is not None and f.type != RESET:
        refused += f.type == ACCEPT and f.status == ECONNRESET
        f = peer.recv(want=None)
    check(f is not None and refused > 0,
          "a node closing under a flood of spawns closes between them (%d of %d refused)" % (refused, flood))
    end_node(node, "after the flood")
    peer.sock.close()
    peer.ctx.term()
    print("1..%d" % len(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
