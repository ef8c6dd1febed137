#!/usr/bin/env python3
"""Flash and RAM of each component of the firmware image, from the GNU ld
map file: sizes of the input sections that were kept, grouped by the
archive (or object) they came from. With the firmware's output, also the
device library's RAM besides the arena and the targets of issue 7."""
import re
import sys

COMPONENTS = [
    # the feature layer's weight tuning, linked only into firmware that names mfl_weight_tuning (first: it is a
    # libmfl_device.a member, kept out of the device library's figure)
    ("microfl weight tuning (optional)", re.compile(r"libmfl_device\.a\(weight_tune\.c\.o(bj)?\)")),
    ("microfl device library", re.compile(r"libmfl_(device|device_update|device_state|optim|quant|common|protocol)\.a")),
    ("microfl sync: CoAP, sync, DTLS port", re.compile(r"libmfl_(device_sync|sync|dtls_mbedtls)\.a")),
    ("microfl CBOR heads", re.compile(r"libmfl_cbor_builtin\.a")),
    ("crypto: seam + Mbed TLS pool", re.compile(r"libmfl_crypto_mbedtls\.a")),
    ("Mbed TLS (ES256, SHA-256)", re.compile(r"libmbedcrypto\.a")),
    ("Mbed TLS DTLS (SSL, AES-CCM)", re.compile(r"libmbedtls\.a")),
    ("libc / libgcc", re.compile(r"lib(c|c_nano|g|g_nano|gcc|nosys|m)\.a|crt")),
    ("firmware app and board", re.compile(r"(firmware|sync_main|uart_slip|board|semihost|startup)\.c\.obj")),
    ("embedded models and data", re.compile(r"blobs\.S\.obj")),
]


def component(path):
    for name, pattern in COMPONENTS:
        if pattern.search(path):
            return name
    return "other"


def parse(map_path):
    sizes = {}  # component -> {"flash": n, "ram": n}
    out_section = None
    pending = None
    in_map = False
    for line in open(map_path, encoding="utf-8", errors="replace"):
        if line.startswith("Linker script and memory map"):
            in_map = True
            continue
        if not in_map:
            continue
        m = re.match(r"^(\.[\w.]+)\s", line)
        if m:
            out_section = m.group(1)
            continue
        m = re.match(r"^ (\.[\w.$]+|COMMON)\s*$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^ (?:(\.[\w.$]+|COMMON)\s+)?\s*0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
        if m and (m.group(1) or pending) and out_section:
            size = int(m.group(3), 16)
            pending = None
            if size == 0:
                continue
            c = sizes.setdefault(component(m.group(4)), {"flash": 0, "ram": 0})
            if out_section in (".text", ".blobs", ".ARM.exidx"):
                c["flash"] += size
            elif out_section == ".data":
                c["flash"] += size
                c["ram"] += size
            elif out_section == ".bss":
                c["ram"] += size
        else:
            pending = None
    return sizes


def main():
    sizes = parse(sys.argv[1])
    figures = {}
    if len(sys.argv) > 2:
        for line in open(sys.argv[2]):
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                figures[parts[0]] = int(parts[1])
    print(f"{'component':32} {'flash B':>10} {'RAM B':>10}")
    for name, _ in COMPONENTS + [("other", None)]:
        if name in sizes:
            print(f"{name:32} {sizes[name]['flash']:>10} {sizes[name]['ram']:>10}")
    total_flash = sum(c["flash"] for c in sizes.values())
    total_ram = sum(c["ram"] for c in sizes.values())
    print(f"{'whole image':32} {total_flash:>10} {total_ram:>10}  (RAM: static buffers incl. a 64 KB arena; stack apart)")
    lib = sizes.get("microfl device library", {"flash": 0, "ram": 0})
    weights = sizes.get("microfl weight tuning (optional)")
    sync = sizes.get("microfl sync: CoAP, sync, DTLS port")
    if sync:  # the sync image: issue 13's targets
        own = lib["flash"] + sync["flash"]
        tls = sum(sizes.get(n, {"flash": 0})["flash"] for n in ("Mbed TLS (ES256, SHA-256)", "Mbed TLS DTLS (SSL, AES-CCM)"))
        print(f"device library with sync and CoAP, flash: {own} B ({own / 1024:.1f} KB; target <= 48 KB): "
              f"{'OK' if own <= 48 * 1024 else 'OVER'}")
        if weights:
            print(f"  plus the feature layer's weight tuning (optional, not counted): {weights['flash']} B flash")
        print(f"Mbed TLS, ECDSA + DTLS-PSK (AES-128-CCM-8), flash: {tls} B ({tls / 1024:.1f} KB; aim <= 60 KB): "
              f"{'OK' if tls <= 60 * 1024 else 'OVER'}")
        if "sync_ram_bytes" in figures:
            ram = figures["sync_ram_bytes"]
            print(f"RAM of a sync in progress besides the arena: {ram} B (sync {figures.get('sync_struct_bytes')}, "
                  f"DTLS session {figures.get('dtls_struct_bytes')}, Mbed TLS pool {figures.get('tls_pool_bytes')} "
                  f"shared with ES256, serial frame, model and update buffers; {ram / 1024:.1f} KB, target <= 12 KB): "
                  f"{'OK' if ram <= 12 * 1024 else 'OVER'}")
            print(f"  plus, in the arena's tail beyond the model's {figures.get('fmnist_arena_bytes', '?')} B: the update "
                  f"builder's work and the in-flight residual, {figures.get('sync_arena_tail_bytes')} B")
        if "stack_high_water_bytes" in figures:
            print(f"stack high-water mark: {figures['stack_high_water_bytes']} B")
        return
    print(f"device library flash (without crypto, CBOR, models): {lib['flash']} B "
          f"({lib['flash'] / 1024:.1f} KB; target <= 48 KB): {'OK' if lib['flash'] <= 48 * 1024 else 'OVER'}")
    if weights:
        print(f"  plus the feature layer's weight tuning (optional, not counted): {weights['flash']} B flash")
    if figures:
        learner = figures.get("learner_mem_bytes", 0)
        residual = figures.get("residual_bytes", 0)
        message = figures.get("update_bytes", 0)
        ram = lib["ram"] + learner
        print(f"device library RAM besides the arena: {ram} B = {lib['ram']} static + {learner} learner "
              f"(10x64 head, 32 replay, batch 8) ({ram / 1024:.1f} KB; target <= 8 KB): "
              f"{'OK' if ram <= 8 * 1024 else 'OVER'}")
        print(f"  plus, when sending: the update workspace ({figures.get('update_work_bytes', 0)} B, taken from "
              f"the arena), the signed update ({message} B) and the error-feedback residual ({residual} B, optional)")
        if "stack_high_water_bytes" in figures:
            print(f"stack high-water mark: {figures['stack_high_water_bytes']} B")


if __name__ == "__main__":
    main()
