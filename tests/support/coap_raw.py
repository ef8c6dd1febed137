"""A minimal CoAP (RFC 7252) message codec for tests that must send exactly
the bytes a case needs: chosen Message IDs, retransmissions, Block1 (RFC 7959)
with or without Size1, missing options. Plain UDP only (the aggregator's
test endpoint); written from the RFCs, not from microfl's code."""
import socket

CON, NON, ACK, RST = 0, 1, 2, 3
POST, GET = 2, 1
URI_PATH, CONTENT_FORMAT, MAX_AGE, BLOCK1, SIZE1 = 11, 12, 14, 27, 60


def uint_bytes(v):
    """Minimal big-endian bytes of an option's uint value (0 is empty)."""
    return v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""


def _ext(n):
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, (n - 269).to_bytes(2, "big")


def encode(mtype, code, mid, token=b"", options=(), payload=b""):
    """options: (number, bytes) pairs in any order."""
    out = bytes([0x40 | (mtype << 4) | len(token), code]) + mid.to_bytes(2, "big") + token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        d, dx = _ext(number - last)
        l, lx = _ext(len(value))
        out += bytes([(d << 4) | l]) + dx + lx + value
        last = number
    if payload:
        out += b"\xff" + payload
    return out


def decode(data):
    """(type, code as class*100+detail, mid, token, {number: [values]}, payload)."""
    tkl = data[0] & 15
    mtype = (data[0] >> 4) & 3
    code = (data[1] >> 5) * 100 + (data[1] & 31)
    mid = int.from_bytes(data[2:4], "big")
    token = data[4:4 + tkl]
    pos, number, options = 4 + tkl, 0, {}
    while pos < len(data) and data[pos] != 0xFF:
        d, l = data[pos] >> 4, data[pos] & 15
        pos += 1
        for which in ("d", "l"):
            v = d if which == "d" else l
            if v == 13:
                v = data[pos] + 13
                pos += 1
            elif v == 14:
                v = int.from_bytes(data[pos:pos + 2], "big") + 269
                pos += 2
            if which == "d":
                d = v
            else:
                l = v
        number += d
        options.setdefault(number, []).append(data[pos:pos + l])
        pos += l
    payload = data[pos + 1:] if pos < len(data) else b""
    return mtype, code, mid, token, options, payload


def option_uint(options, number):
    values = options.get(number)
    return int.from_bytes(values[0], "big") if values else None


def update_options(content_format=18, block=None, size1=None):
    """Uri-Path fl/v1/update, Content-Format, Block1 (num, more, szx), Size1."""
    opts = [(URI_PATH, b"fl"), (URI_PATH, b"v1"), (URI_PATH, b"update")]
    if content_format is not None:
        opts.append((CONTENT_FORMAT, uint_bytes(content_format)))
    if block is not None:
        num, more, szx = block
        opts.append((BLOCK1, uint_bytes((num << 4) | (more << 3) | szx)))
    if size1 is not None:
        opts.append((SIZE1, uint_bytes(size1)))
    return opts


class Client:
    """One UDP socket = one CoAP endpoint (one session on the server)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.addr = ("127.0.0.1", port)

    def exchange(self, msg):
        """Sends one datagram and returns the decoded answer (skipping empty ACKs
        of a separate response: the answer that follows is returned)."""
        self.sock.sendto(msg, self.addr)
        while True:
            reply = decode(self.sock.recv(4096))
            mtype, code, mid, token, _, _ = reply
            if mtype == CON:  # a separate response: acknowledge it
                self.sock.sendto(encode(ACK, 0, mid), self.addr)
            if code != 0:
                return reply

    def close(self):
        self.sock.close()
