#!/usr/bin/python3
"""The public COSE test vectors (shared/testvectors/cose) through `mfl verify`.

Every "fail" vector must be rejected. A "pass" vector must verify unless
microfl's strict profile refuses it on purpose; those are listed in
PROFILE_REJECTS with the reason, and must be rejected with that error
(docs/protocol.md explains the profile).

usage: cose_vectors.py MFL VECTOR_DIR
"""
import base64
import glob
import json
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# pass vectors microfl's profile rejects: file -> expected error text
PROFILE_REJECTS = {
    "sign-pass-01.json": "unexpected, missing or malformed header",  # empty protected header h'A0', alg unprotected
    "sign-pass-03.json": "missing or wrong tag",                     # untagged COSE_Sign1
    "ecdsa-sig-01.json": "unexpected, missing or malformed header",  # content type (3) header
    "ecdsa-sig-02.json": "algorithm is not ES256",                   # ES384
    "ecdsa-sig-03.json": "algorithm is not ES256",                   # ES512
    "ecdsa-sig-04.json": "algorithm is not ES256",                   # ES512 on P-256
    "ecdsa-01.json": "missing or wrong tag",                         # COSE_Sign (98), not Sign1
    "ecdsa-02.json": "missing or wrong tag",
    "ecdsa-03.json": "missing or wrong tag",
    "ecdsa-04.json": "missing or wrong tag",
}

CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}


def b64(s):
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def key_pem(jwk, path):
    if jwk["crv"] == "P-256":
        pub = ec.EllipticCurvePublicNumbers(b64(jwk["x"]), b64(jwk["y"]), CURVES[jwk["crv"]]).public_key()
    else:
        # microfl reads P-256 keys only; any P-256 key lets the message itself be judged
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    with open(path, "wb") as f:
        f.write(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def main():
    mfl, vector_dir = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(vector_dir, "*", "*.json")))
    if len(files) < 17:
        print("FAIL: expected the 17 COSE vectors in", vector_dir)
        sys.exit(1)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            name = os.path.basename(path)
            v = json.load(open(path))
            sign = v["input"].get("sign0") or v["input"]["sign"]
            jwk = sign["key"] if "key" in sign else sign["signers"][0]["key"]
            msg, pem = os.path.join(tmp, "msg.cbor"), os.path.join(tmp, "key.pem")
            with open(msg, "wb") as f:
                f.write(bytes.fromhex(v["output"]["cbor"]))
            key_pem(jwk, pem)
            aad = sign.get("external", "")
            r = subprocess.run([mfl, "verify", "--key", pem, "--aad", aad, msg], capture_output=True, text=True)
            if v.get("fail"):
                ok = r.returncode == 1 and "INVALID" in r.stdout
                want = "rejected"
            elif name in PROFILE_REJECTS:
                ok = r.returncode == 1 and PROFILE_REJECTS[name] in r.stdout
                want = "rejected by the profile: " + PROFILE_REJECTS[name]
            else:
                ok = r.returncode == 0 and "valid" in r.stdout
                want = "verified"
            print("%-20s %-6s %s -> %s" % (name, "ok" if ok else "WRONG", want, r.stdout.strip()))
            passed, failed = passed + ok, failed + (not ok)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
