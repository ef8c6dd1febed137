#!/usr/bin/python3
"""Interop: an update made by `mfl update make` is verified and decoded by
independent implementations (Debian's python3-cbor2 and python3-cryptography),
not by microfl's own code.

usage: verify_update.py MFL
"""
import os
import subprocess
import sys
import tempfile

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def verify_sign1(blob, pub):
    msg = cbor2.loads(blob)
    check(isinstance(msg, cbor2.CBORTag) and msg.tag == 18, "COSE_Sign1 tag 18")
    protected, unprotected, payload, sig = msg.value
    hdr = cbor2.loads(protected)
    check(hdr.get(1) == -7, "alg ES256 in the protected header")
    check(unprotected == {}, "empty unprotected header")
    check(len(sig) == 64, "64-byte r||s signature")
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, to_be_signed, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    return hdr[4], cbor2.loads(payload), payload


def main():
    mfl = sys.argv[1]
    model = os.environ.get("MFL_TEST_MODEL")
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "dev")
        subprocess.run([mfl, "keygen", key], check=True, stdout=subprocess.DEVNULL)
        if not model:
            flt, model = os.path.join(tmp, "b.mflf"), os.path.join(tmp, "b.mfl")
            subprocess.run([mfl, "train", "-o", flt, "-e", "1", "-n", "2000", "-a", "c4,p,c8s2,d16,d10"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([mfl, "quantize", flt, model, "--calib", "200"], check=True, stdout=subprocess.DEVNULL)
        for topk in ("0", "20"):
            out = os.path.join(tmp, "u%s.cose" % topk)
            subprocess.run([mfl, "update", "make", "--model", model, "--key", key + ".key", "--device-id",
                            "device-0042", "--counter", "7", "--base-version", "3", "--samples", "50",
                            "--top-k", topk, "-o", out], check=True, stdout=subprocess.DEVNULL)
            with open(key + ".pub", "rb") as f:
                pub = serialization.load_pem_public_key(f.read())
            blob = open(out, "rb").read()
            kid, body, payload = verify_sign1(blob, pub)
            check(kid == b"device-0042", "kid is the device id")
            check(body[1] == 0x11 and body[2] == kid, "update format and device id in the body")
            check(body[3] == 3 and body[4] == 7 and body[5] == 50, "base version, counter, samples")
            check(cbor2.dumps(body) == payload, "deterministic encoding (cbor2 re-encodes it identically)")
            rows = len(body[7])
            if topk == "0":
                check(len(body[8]) % rows == 0 and 9 not in body, "dense delta")
            else:
                check(len(body[8]) == 20 and body[10] > 0, "top-k delta with 20 values")
            # a flipped payload byte must not verify
            bad = bytearray(blob)
            bad[len(bad) - 70] ^= 1
            try:
                verify_sign1(bytes(bad), pub)
                check(False, "tampered update rejected")
            except InvalidSignature:
                pass
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
