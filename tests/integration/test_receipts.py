#!/usr/bin/python3
"""Receipts that are true, and CoAP done right, on a real mfl-aggregator.

Raw CoAP (tests/support/coap_raw.py) on the test-only plain endpoint, so that
each case sends exactly the bytes it needs, with one verify thread (answers
come as separate responses). Updates are made by `mfl update make`, then
rewritten and re-signed by independent code (python3-cbor2 and
python3-cryptography) where a case needs a hostile but correctly signed one.

 1. a lost ACK in a block-wise upload: the retransmitted block (same Message
    ID) gets the same 2.31 again, and the retransmitted last block the same
    receipt: the update is stored once;
 2. Block1 without Size1, 32-byte blocks, exactly the issue's bytes: stored;
 3. counter 2^64-1 and 2^63: 4.00 with the reason, nothing stored;
 4. another update on a spent counter: 4.09 "counter used" with the last
    counter; the same update again: "duplicate";
 5. hostile but signed: samples 2^64-1 (4.00), a scale whose values are
    ~3.6e16 (4.00), the largest legal step on every value (4.00: norm bound),
    and an honest update's weight capped (twice the round's median by default);
 6. no Content-Format: 4.15; base version 0: 4.00; samples 0: 4.00; the
    norm bound a model advertises is the configured one (256, 1000, auto);
    a GET of the model with the current version as ETag: 2.03, no body;
 7. a round takes one update per device; a stored update's retransmission is
    "duplicate" however stale its base; queued updates of a revoked device,
    or grown too stale while waiting, are dropped;
 8. a kill -9 between rounds changes nothing in the models that follow.

usage: test_receipts.py MFL AGG
"""
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import coap_raw as coap  # noqa: E402

MFL, AGG = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw).stdout


# ---- updates: made by mfl, rewritten and re-signed independently ----

def sign1(kid, body, key):
    protected = cbor2.dumps({1: -7, 4: kid})
    tbs = cbor2.dumps(["Signature1", protected, b"", body])
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, r.to_bytes(32, "big") + s.to_bytes(32, "big")]))


def rewrite(blob, key, **fields):
    """The update with body fields replaced (by key number), signed again."""
    protected, _, payload, _ = cbor2.loads(blob).value
    body = cbor2.loads(payload)
    for k, v in fields.items():
        body[int(k[1:])] = v
    return sign1(cbor2.loads(protected)[4], cbor2.dumps(body, canonical=True), key)


def body_of(blob):
    return cbor2.loads(cbor2.loads(blob).value[2])


# ---- raw CoAP ----

def post(client, blob, mid, szx=None, size1=True, content_format=18, token=b"\xa1", first_block=0):
    """POSTs blob (block-wise with 2^(szx+4)-byte blocks when szx is given);
    returns every answer, one per message sent."""
    if szx is None:
        return [client.exchange(coap.encode(coap.CON, coap.POST, mid, token,
                                            coap.update_options(content_format), blob))]
    size = 1 << (szx + 4)
    n = (len(blob) + size - 1) // size
    answers = []
    for num in range(first_block, n):
        more = 1 if num + 1 < n else 0
        opts = coap.update_options(content_format, (num, more, szx), len(blob) if size1 and num == 0 else None)
        answers.append(client.exchange(coap.encode(coap.CON, coap.POST, mid + num, token, opts,
                                                   blob[num * size:(num + 1) * size])))
    return answers


def receipt(answer):
    _, code, _, _, opts, payload = answer
    if code in (204, 409, 412) and coap.option_uint(opts, coap.CONTENT_FORMAT) == 60:
        r = cbor2.loads(payload)
        names = {0: "accepted", 1: "duplicate", 2: "stale", 3: "rejected", 4: "counter used"}
        return code, names.get(r[4]), r[3], r.get(6)
    return code, payload.decode(errors="replace"), None, None


def stored(db, device):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT counter FROM pending WHERE device = ?1 UNION ALL SELECT counter FROM accepted "
                       "WHERE device = ?1 ORDER BY counter", (device.encode(),)).fetchall()
    last = con.execute("SELECT last_counter FROM devices WHERE id = ?", (device.encode(),)).fetchone()[0]
    con.close()
    return [r[0] for r in rows], last


class Server:
    def __init__(self, tmp, name, extra=""):
        self.port = random.randrange(20000, 40000, 2)
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "agg.conf")
        # the aggregator refuses a key set twice: extra lines replace the defaults
        conf = {"listen": "127.0.0.1:%d" % self.port, "plain_listen": "127.0.0.1:%d" % (self.port + 1),
                "data_dir": self.dir + "/data", "model": tmp + "/base.mfl", "key": tmp + "/agg.key",
                "buffer_k": "1000", "verify_threads": "1"}
        for line in extra.splitlines():
            if line.strip():
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
        with open(self.conf, "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in conf.items()))
        for d in ("dev1", "dev2", "dev3", "dev4"):
            run(AGG, "provision", "--config", self.conf, "add", "--id", d, "--psk", "736563726574",
                "--pub", os.path.join(tmp, d + ".pub"), "--group", "g")
        self.log = open(os.path.join(self.dir, "srv.log"), "w")
        self.proc = subprocess.Popen([AGG, "--config", self.conf], stderr=self.log)
        time.sleep(1.0)
        self.db = os.path.join(self.dir, "data", "state.db")

    def log_text(self):
        self.log.flush()
        return open(self.log.name).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        run(MFL, "train", "-o", "base.mflf", "-a", "c4,p,c8s2,d16,d10", "-e", "1", "-n", "1000")
        run(MFL, "quantize", "base.mflf", "base.mfl", "--calib", "100")
        for name in ("agg", "dev1", "dev2", "dev3", "dev4"):
            run(MFL, "keygen", name)
        keys = {d: serialization.load_pem_private_key(open(d + ".key", "rb").read(), None)
                for d in ("dev1", "dev2", "dev3")}

        def make(dev, counter, seed=1, base=1):
            out = "%s-%d-%d.cose" % (dev, counter, seed)
            run(MFL, "update", "make", "--model", "base.mfl", "--key", dev + ".key", "--device-id", dev,
                "--counter", str(counter), "--base-version", str(base), "--samples", "30", "--seed", str(seed),
                "-o", out)
            return open(out, "rb").read()

        srv = Server(tmp, "a")
        try:
            cases(srv, make, keys)
        finally:
            srv.stop()
        rounds(tmp, make)
        restart(tmp, make)
        bounds(tmp)
    if failures:
        print("%d failed" % len(failures))
        sys.exit(1)
    print("1 passed, 0 failed")


def cases(srv, make, keys):
    c = coap.Client(srv.port + 1)
    # 1. a lost ACK: block 1 sent twice with the same Message ID, then the last block twice
    u1 = make("dev1", 1)
    check(len(u1) > 3 * 64, "update of %d bytes needs several 64-byte blocks" % len(u1))
    size, n = 64, (len(u1) + 63) // 64
    first = [c.exchange(coap.encode(coap.CON, coap.POST, 0x100 + num, b"\xa1",
                                    coap.update_options(18, (num, 1, 2), len(u1) if num == 0 else None),
                                    u1[num * size:(num + 1) * size])) for num in (0, 1)]
    check([a[1] for a in first] == [231, 231], "blocks 0 and 1 answered 2.31: %s" % [a[1] for a in first])
    opts = coap.update_options(18, (1, 1, 2))
    again = c.exchange(coap.encode(coap.CON, coap.POST, 0x101, b"\xa1", opts, u1[size:2 * size]))
    check(again[1] == 231 and coap.option_uint(again[4], coap.BLOCK1) == (1 << 4) | 8 | 2,
          "retransmitted block 1 (same Message ID) answered 2.31 with Block1 1/M/64 again, not 4.08: %d" % again[1])
    fresh = c.exchange(coap.encode(coap.CON, coap.POST, 0x1F1, b"\xa1", opts, u1[size:2 * size]))
    check(fresh[1] == 231, "block 1 repeated under a new Message ID with the same bytes: 2.31 (%d)" % fresh[1])
    rest = post(c, u1, 0x100, szx=2, first_block=2)
    code, status, counter, last = receipt(rest[-1])
    check((code, status, counter) == (204, "accepted", 1), "block-wise update accepted: %s" % ((code, status),))
    opts = coap.update_options(18, (n - 1, 0, 2))
    replay = c.exchange(coap.encode(coap.CON, coap.POST, 0x100 + n - 1, b"\xa1", opts, u1[(n - 1) * size:]))
    check(receipt(replay)[:2] == (204, "accepted"),
          "retransmitted last block: the same receipt again (%s)" % (receipt(replay)[:2],))
    check(stored(srv.db, "dev1") == ([1], 1), "dev1's update stored once: %s" % (stored(srv.db, "dev1"),))
    check(srv.log_text().count("event=update_accepted device=dev1 ") == 1, "one update_accepted log line for dev1")
    wrong = c.exchange(coap.encode(coap.CON, coap.POST, 0x2F0, b"\xa2", coap.update_options(18, (0, 1, 2)), u1[:size]))
    bad = c.exchange(coap.encode(coap.CON, coap.POST, 0x2F1, b"\xa2", coap.update_options(18, (1, 1, 2)),
                                 bytes(64)))
    gap = c.exchange(coap.encode(coap.CON, coap.POST, 0x2F2, b"\xa2", coap.update_options(18, (3, 1, 2)), bytes(64)))
    check(wrong[1] == 231 and bad[1] == 231 and gap[1] == 408,
          "a gap in the blocks: 4.08 (%d, %d, %d)" % (wrong[1], bad[1], gap[1]))

    # 2. no Size1 on any block, 32-byte blocks (the bytes: 41 02 10 00 a1 b2 ...)
    u2 = make("dev2", 1)
    answers = post(c, u2, 0x1000, szx=1, size1=False)
    check(all(a[1] == 231 for a in answers[:-1]), "blocks without Size1 answered 2.31")
    check(receipt(answers[-1])[:2] == (204, "accepted"), "Block1 without Size1 accepted: %s" % (receipt(answers[-1]),))

    # 3. counters beyond SQLite's: refused with the reason, nothing stored
    for counter in (2 ** 64 - 1, 2 ** 63):
        a = post(c, rewrite(make("dev3", 1), keys["dev3"], k4=counter), 0x3000 + counter % 7)[0]
        check(a[1] == 400 and "counter out of range" in a[5].decode(),
              "counter %d: 4.00 counter out of range (%d %s)" % (counter, a[1], a[5][:60]))
    check(stored(srv.db, "dev3") == ([], 0), "dev3: nothing stored, last counter 0")

    # 4. another update on a spent counter; the same update again
    other = make("dev1", 1, seed=2)
    code, status, counter, last = receipt(post(c, other, 0x4000)[0])
    check((code, status, counter, last) == (409, "counter used", 1, 1),
          "a different update on counter 1: 4.09 counter used, last counter 1 (%s)" % ((code, status, counter, last),))
    code, status, _, last = receipt(post(coap.Client(srv.port + 1), u1, 0x4001)[0])
    check((code, status, last) == (204, "duplicate", 1), "the same update again: 2.04 duplicate (%s)" % status)
    code, status, _, last = receipt(post(c, make("dev1", 2), 0x4002)[0])
    check((code, status) == (204, "accepted"), "the next counter is accepted")

    # 5. hostile but correctly signed
    a = post(c, rewrite(make("dev3", 1), keys["dev3"], k5=2 ** 64 - 1), 0x5000)[0]
    check(a[1] == 400 and "sample count" in a[5].decode(), "samples 2^64-1: 4.00 (%s)" % a[5][:50])
    u = make("dev3", 1)
    k = len(body_of(u)[8])
    a = post(c, rewrite(u, keys["dev3"], k6=[255, 64], k8=b"\x7f" * k), 0x5001)[0]
    check(a[1] == 400 and "one real unit" in a[5].decode(), "values of ~3.6e16: 4.00 (%s)" % a[5][:60])
    rows = body_of(u)[7]
    a = post(c, rewrite(u, keys["dev3"], k6=[128, 17], k7=bytes(len(rows)), k8=b"\x7f" * k), 0x5002)[0]
    check(a[1] == 400 and "norm" in a[5].decode(), "127 real units on every entry: 4.00 norm bound (%s)" % a[5][:60])
    a = post(c, rewrite(u, keys["dev3"], k5=2 ** 32 - 1), 0x5003)[0]
    check(receipt(a)[:2] == (204, "accepted"), "samples 2^32-1 accepted (its weight is capped)")
    log = srv.log_text()
    m = re.search(r"event=listening .*sample_cap=(\S+) max_delta_norm=([0-9.e+]+)", log)
    check(m is not None and m.group(1) == "2x_median", "default sample cap: twice the round's median")
    norms = [float(x) for x in re.findall(r"event=update_accepted .* norm=([0-9.e+-]+)", log)]
    check(m is not None and norms and max(norms) < float(m.group(2)),
          "honest updates' norms (max %.3g) within the default bound (%s)" % (max(norms), m and m.group(2)))
    check(stored(srv.db, "dev3") == ([1], 1), "dev3: only the legal update stored")

    # 6. content format, base version 0, samples 0
    a = post(c, make("dev2", 2), 0x6000, content_format=None)[0]
    check(a[1] == 415, "no Content-Format: 4.15 (%d)" % a[1])
    a = post(c, make("dev2", 2), 0x6001, content_format=60)[0]
    check(a[1] == 415, "Content-Format 60: 4.15 (%d)" % a[1])
    a = post(c, rewrite(make("dev2", 2), keys["dev2"], k3=0), 0x6002)[0]
    check(a[1] == 400 and "version out of range" in a[5].decode(), "base version 0: 4.00 (%s)" % a[5][:50])
    a = post(c, rewrite(make("dev2", 2), keys["dev2"], k5=0), 0x6003)[0]
    check(a[1] == 400 and "sample count" in a[5].decode(), "samples 0: 4.00 (%s)" % a[5][:50])
    check(stored(srv.db, "dev2") == ([1], 1), "dev2: nothing more stored")

    # a conditional GET of the model: ETag = the version the device has
    get = [(coap.URI_PATH, b"fl"), (coap.URI_PATH, b"v1"), (coap.URI_PATH, b"model")]
    a = c.exchange(coap.encode(coap.CON, coap.GET, 0x6100, b"\x51", get + [(4, coap.uint_bytes(1))]))
    check(a[1] == 203 and not a[5] and coap.option_uint(a[4], 4) == 1, "GET with ETag 1 (current): 2.03, no body")
    a = c.exchange(coap.encode(coap.CON, coap.GET, 0x6101, b"\x52", get + [(4, coap.uint_bytes(9))]))
    check(a[1] == 205 and len(a[5]) > 0, "GET with another ETag: 2.05 with the model")
    c.close()


def rounds(tmp, make):
    """One update per device per round; a stored update stays 'duplicate'
    however old it gets; queued updates of a revoked device, or whose base
    grew too old while they waited, are dropped, not folded."""
    srv = Server(tmp, "rounds", "buffer_k = 3\nmax_staleness = 0\n")
    try:
        c = coap.Client(srv.port + 1)
        mid = [0x7000]

        def send(blob):
            mid[0] += 1
            return receipt(post(c, blob, mid[0])[0])

        for counter in (1, 2):
            check(send(make("dev1", counter))[:2] == (204, "accepted"), "dev1 update %d accepted" % counter)
        send(make("dev3", 1))
        check("event=model_published" not in srv.log_text(), "four updates of two devices publish nothing (K = 3)")
        run(AGG, "provision", "--config", srv.conf, "revoke", "--id", "dev3")
        send(make("dev2", 1))  # three devices: dev1#1 and dev2#1 folded, dev3#1 dropped
        send(make("dev2", 2, base=2))
        send(make("dev4", 1, base=2))  # dev1#2 (base 1 at version 2, S = 0) dropped; dev2#2 and dev4#1 folded
        log = srv.log_text()
        rounds_seen = re.findall(r"event=(?:update_dropped|model_published) \S+ \S+ \S+", log)
        check("event=model_published version=2 updates=2" in log and "event=model_published version=3 updates=2"
              in log, "two rounds of two devices each: %s" % rounds_seen)
        check("event=update_dropped device=dev3 counter=1 reason=revoked" in log,
              "the revoked device's queued update dropped")
        check("event=update_dropped device=dev1 counter=2 reason=stale" in log,
              "dev1's second update, base 1 at version 2 with S = 0, dropped as stale")
        code, status, counter, last = send(make("dev1", 1))
        check((code, status, last) == (204, "duplicate", 2),
              "dev1's first update again, its base now 2 versions old: still duplicate (%s %s)" % (code, status))
        c.close()
    finally:
        srv.stop()


def fetch_head(srv, name):
    out = os.path.join(srv.dir, name)
    subprocess.run(["coap-client-notls", "-m", "get", "-o", out, "coap://127.0.0.1:%d/fl/v1/model" % (srv.port + 1)],
                   check=True, timeout=20)
    body = cbor2.loads(cbor2.loads(open(out, "rb").read()).value[2])
    return body[3], [body[k] for k in (5, 6, 7, 8)]


def restart(tmp, make):
    """A restart (kill -9) between rounds changes nothing in later models:
    the exact head is stored with each model, not rebuilt from its int8."""
    heads = []
    for crash in (False, True):
        srv = Server(tmp, "restart%d" % crash, "buffer_k = 1\n")
        try:
            c = coap.Client(srv.port + 1)
            post(c, make("dev1", 1), 0x100)
            if crash:
                srv.proc.kill()
                srv.proc.wait()
                srv.proc = subprocess.Popen([AGG, "--config", srv.conf], stderr=srv.log)
                time.sleep(1.0)
            for i, dev in enumerate(("dev2", "dev3")):
                post(coap.Client(srv.port + 1), make(dev, 1, base=2 + i), 0x200 + i)
            heads.append(fetch_head(srv, "m.cose"))
        finally:
            srv.stop()
    check(heads[0][0] == heads[1][0] == 4, "model 4 published in both runs (%s, %s)" % (heads[0][0], heads[1][0]))
    check(heads[0][1] == heads[1][1], "model 4's head is the same with and without a kill -9 after model 2")


def bounds(tmp):
    """The bound a published model tells devices is the one enforced."""
    for conf, want in (("max_delta_norm = 256\n", 256 << 24), ("max_delta_norm = 1000\n", 1000 << 24),
                       ("max_delta_norm = 300\n", 300 << 24), ("", None)):
        srv = Server(tmp, "b%d" % len(conf) + conf[-4:-1].strip(), conf)
        try:
            out = os.path.join(srv.dir, "m.cose")
            subprocess.run(["coap-client-notls", "-m", "get", "-o", out,
                            "coap://127.0.0.1:%d/fl/v1/model" % (srv.port + 1)], check=True, timeout=20)
            info = run(MFL, "inspect", out)
            got = int(re.search(r"delta norm (\d+)", info).group(1))
            if want is None:
                m = re.search(r"max_delta_norm=([0-9.e+]+)", srv.log_text())
                want = round(float(m.group(1)) * 2 ** 24)
                check(abs(got - want) <= 2 ** 24 * 1e-4 * float(m.group(1)) + 1,
                      "auto bound = the base head's norm: %d advertised, %s logged" % (got, m.group(1)))
            else:
                check(got == want, "%s advertised as %d (want %d)" % (conf.strip(), got, want))
        finally:
            srv.stop()


main()
