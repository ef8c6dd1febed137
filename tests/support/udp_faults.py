#!/usr/bin/env python3
"""A seeded UDP fault injector: a proxy on loopback between CoAP/DTLS devices
and the aggregator that loses, delays, duplicates and reorders datagrams.

Why our own proxy: the CI machine's kernel has no netem (tc qdisc), and a
proxy needs no privileges. Standard library only, one thread: a selector
over the sockets and a heap of timers (each delayed datagram is a timer), so
tens of clients cost nothing but a socket each.

    udp_faults.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT --seed N \
        --loss 0.3 --delay-ms 150 --jitter-ms 30 --duplicate 0.05 \
        --reorder 0.05 --stats FILE

Each client source address gets its own upstream socket (as a NAT would), so
the server sees one peer per client and DTLS sessions stay apart. Faults are
drawn independently for each direction (c2s: client to server, s2c: server to
client) from its own random.Random, so a run is reproducible for a given
seed and order of arrivals. Every datagram draws the same number of values
whatever happens to it, so one fault never shifts the draws of the next.

Per datagram and direction: lost with probability --loss; otherwise sent
after --delay-ms plus a uniform 0..--jitter-ms (jitter alone may reorder,
as with netem); with probability --reorder held back a further --reorder-ms
so that later datagrams overtake it; with probability --duplicate sent a
second time a little later.

Stats (JSON, per direction: received, forwarded [datagrams sent, duplicates
included], dropped, duplicated, reordered, bytes_in, bytes_out, send_errors,
in_flight [still delayed when written]; and clients = upstream sockets opened) are written atomically
to --stats every second and on SIGTERM/SIGINT, which end the proxy.
"""
import argparse
import heapq
import json
import os
import random
import selectors
import signal
import socket
import sys
import time

IDLE_S = 120  # an upstream socket unused this long is closed (clients open a new one per attempt)


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=hostport, required=True, help="HOST:PORT the clients send to")
    p.add_argument("--upstream", type=hostport, required=True, help="HOST:PORT of the server")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--loss", type=float, default=0.0, help="drop probability, each direction")
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, each direction")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="uniform 0..J added to the delay")
    p.add_argument("--duplicate", type=float, default=0.0, help="probability a datagram is sent twice")
    p.add_argument("--reorder", type=float, default=0.0, help="probability a datagram is held back")
    p.add_argument("--reorder-ms", type=float, default=100.0, help="how long a reordered datagram is held back")
    p.add_argument("--stats", help="JSON stats file")
    return p.parse_args(argv)


class Direction:
    """Fault decisions and counters for one direction."""

    def __init__(self, args, name):
        self.a = args
        # a string seed goes through SHA-512: reproducible, independent of PYTHONHASHSEED
        self.rng = random.Random(f"{args.seed}/{name}")
        self.n = dict(received=0, forwarded=0, dropped=0, duplicated=0, reordered=0,
                      bytes_in=0, bytes_out=0, send_errors=0)

    def plan(self, size):
        """Delays in seconds at which to send this datagram (empty: dropped)."""
        r = self.rng
        a = self.a
        lose, jit, reorder, dup, dup_jit = r.random(), r.random(), r.random(), r.random(), r.random()
        self.n["received"] += 1
        self.n["bytes_in"] += size
        if lose < a.loss:
            self.n["dropped"] += 1
            return []
        delay = a.delay_ms + jit * a.jitter_ms
        if reorder < a.reorder:
            self.n["reordered"] += 1
            delay += a.reorder_ms
        out = [delay / 1000.0]
        if dup < a.duplicate:
            self.n["duplicated"] += 1
            out.append((delay + 1.0 + dup_jit * max(a.jitter_ms, 10.0)) / 1000.0)
        return out


class Proxy:
    def __init__(self, args):
        self.a = args
        self.sel = selectors.DefaultSelector()
        self.c2s, self.s2c = Direction(args, "c2s"), Direction(args, "s2c")
        self.timers = []  # (due, seq, socket, data, destination, direction)
        self.seq = 0  # tie-break so equal due times keep arrival order
        self.peers = {}  # client address -> [upstream socket, last used]
        self.opened = 0
        self.stop = False
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.front.bind(args.listen)
        self.front.setblocking(False)
        self.sel.register(self.front, selectors.EVENT_READ, None)
        # signals only set a flag; the wakeup socket makes select() return at once
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self.on_signal)

    def on_signal(self, *_):
        self.stop = True

    def schedule(self, d, data, sock, dest):
        now = time.monotonic()
        for delay in d.plan(len(data)):
            self.seq += 1
            heapq.heappush(self.timers, (now + delay, self.seq, sock, data, dest, d))

    def upstream_for(self, client):
        entry = self.peers.get(client)
        if entry is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((self.a.listen[0], 0))
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, client)
            entry = self.peers[client] = [s, 0.0]
            self.opened += 1
        entry[1] = time.monotonic()
        return entry[0]

    def receive(self, sock, client):
        """Drain a readable socket (it is non-blocking) and schedule what came in."""
        while True:
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on the upstream socket
                return
            if client is None:  # from a client, to the server
                self.schedule(self.c2s, data, self.upstream_for(addr), self.a.upstream)
            else:  # from the server, back to its client
                self.peers[client][1] = time.monotonic()
                self.schedule(self.s2c, data, self.front, client)

    def fire(self, now):
        while self.timers and self.timers[0][0] <= now:
            _, _, sock, data, dest, d = heapq.heappop(self.timers)
            try:
                sock.sendto(data, dest)
                d.n["forwarded"] += 1
                d.n["bytes_out"] += len(data)
            except OSError:  # socket closed by the idle sweep, or the server not (yet) there
                d.n["send_errors"] += 1

    def sweep(self, now):
        for client, (s, last) in list(self.peers.items()):
            if now - last > IDLE_S:
                self.sel.unregister(s)
                s.close()
                del self.peers[client]

    def write_stats(self):
        if not self.a.stats:
            return
        for d in (self.c2s, self.s2c):  # still in the timer heap: received = dropped + forwarded - duplicated + in_flight
            d.n["in_flight"] = sum(1 for t in self.timers if t[5] is d)
        doc = {"seed": self.a.seed, "clients": self.opened, "c2s": self.c2s.n, "s2c": self.s2c.n}
        tmp = self.a.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, self.a.stats)  # a reader never sees half a file

    def run(self):
        next_stats = time.monotonic()
        while not self.stop:
            now = time.monotonic()
            if now >= next_stats:
                self.write_stats()
                self.sweep(now)
                next_stats = now + 1.0
            timeout = next_stats - now
            if self.timers:
                timeout = min(timeout, max(0.0, self.timers[0][0] - now))
            for key, _ in self.sel.select(timeout):
                if key.data == "wake":
                    try:
                        self.wake_r.recv(512)
                    except OSError:
                        pass
                else:
                    self.receive(key.fileobj, key.data)
            self.fire(time.monotonic())
        self.write_stats()


def main(argv):
    Proxy(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
