#!/usr/bin/env python3
"""Carries the emulated board's datagrams between its serial line and UDP.

QEMU connects the board's UART0 to this bridge (-serial tcp:HOST:PORT);
every SLIP frame (RFC 1055) the board sends goes to the aggregator as one
UDP datagram, and every datagram back goes to the board as one frame. The
bridge only carries bytes: DTLS ends on the device. It stops when QEMU
closes the line, and can write what it carried as JSON (--stats). The
one-byte frame 0x00 (no CoAP or DTLS datagram is one byte) is the board's
"reopen the socket", as a modem's close and open: the bridge moves to a new
UDP source port, so that the aggregator sees a new peer.
"""
import argparse
import json
import select
import socket

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def slip_encode(data):
    out = bytearray([END])
    for b in data:
        if b == END:
            out += bytes([ESC, ESC_END])
        elif b == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(b)
    out.append(END)
    return bytes(out)


class SlipDecoder:
    def __init__(self):
        self.frame, self.escaped = bytearray(), False

    def feed(self, data):
        """The frames that data completes."""
        frames = []
        for b in data:
            if b == END:
                if self.frame:
                    frames.append(bytes(self.frame))
                self.frame, self.escaped = bytearray(), False
            elif b == ESC:
                self.escaped = True
            else:
                if self.escaped:
                    b = END if b == ESC_END else ESC if b == ESC_ESC else b
                    self.escaped = False
                self.frame.append(b)
        return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", required=True, help="HOST:PORT for QEMU's serial line (TCP)")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the aggregator (UDP)")
    ap.add_argument("--stats", help="write frames and bytes each way here (JSON) at the end")
    ap.add_argument("--ready", help="create this file once QEMU can connect")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    up_host, up_port = args.upstream.rsplit(":", 1)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(1)
    if args.ready:
        open(args.ready, "w").close()
    line, _ = server.accept()
    def new_socket():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((up_host, int(up_port)))
        return s

    udp = new_socket()
    decoder = SlipDecoder()
    stats = {"to_aggregator": {"datagrams": 0, "bytes": 0}, "to_device": {"datagrams": 0, "bytes": 0},
             "reopened": 0}
    while True:
        ready, _, _ = select.select([line, udp], [], [])
        if line in ready:
            data = line.recv(65536)
            if not data:
                break
            for frame in decoder.feed(data):
                if frame == b"\x00":
                    udp.close()
                    udp = new_socket()
                    stats["reopened"] += 1
                    continue
                try:
                    udp.send(frame)
                except OSError:
                    pass  # ICMP unreachable for an earlier datagram: this one is lost, CoAP retransmits
                stats["to_aggregator"]["datagrams"] += 1
                stats["to_aggregator"]["bytes"] += len(frame)
        if udp in ready:
            try:
                datagram = udp.recv(65536)
            except OSError:
                continue
            line.sendall(slip_encode(datagram))
            stats["to_device"]["datagrams"] += 1
            stats["to_device"]["bytes"] += len(datagram)
    if args.stats:
        with open(args.stats, "w") as f:
            json.dump(stats, f)


if __name__ == "__main__":
    main()
