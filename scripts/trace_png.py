#!/usr/bin/python3
"""Draws a WEFT_TRACE timeline (weft-perf --trace FILE) as a PNG, for docs and
for machines without a browser: one row per lane (rank by rank: calls,
compute, then each link), time left to right, spans coloured by kind:
grey calls, orange compute, blue transfers inside a site, red WAN
transfers. No labels (no font rendering here): rows are in the order of
`--list`, which prints them. Standard library only (zlib for the PNG).
usage: trace_png.py TRACE.json OUT.png [--width PX] [--call N] [--list]
  --call N|longest: draw only the time of rank 0's N-th call (0-based) or of
  its longest one (default: the whole trace)"""
import json
import struct
import sys
import zlib

COLOURS = {"call": (150, 150, 150), "compute": (240, 150, 30), "net": (40, 100, 220), "wan": (215, 40, 40)}
ROW, GAP, PAD = 14, 3, 10


def png(path, width, height, pixels):
    raw = b"".join(b"\0" + bytes(pixels[y * width * 3:(y + 1) * width * 3]) for y in range(height))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    args = sys.argv[1:]
    src, out = args[0], args[1]
    width = int(args[args.index("--width") + 1]) if "--width" in args else 1400
    events = json.load(open(src))
    names = {(e["pid"], e.get("tid")): e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    spans = [e for e in events if e["ph"] == "X"]
    if "--call" in args:
        which = args[args.index("--call") + 1]
        calls = sorted((e for e in spans if e["pid"] == 0 and e["cat"] == "call"), key=lambda e: e["ts"])
        c = max(calls, key=lambda e: e["dur"]) if which == "longest" else calls[int(which)]
        t0, t1 = c["ts"], c["ts"] + c["dur"]
        spans = [e for e in spans if e["ts"] < t1 and e["ts"] + e["dur"] > t0]
    else:
        t0 = min(e["ts"] for e in spans)
        t1 = max(e["ts"] + e["dur"] for e in spans)
    rows = sorted({(e["pid"], e["tid"]) for e in spans})
    if "--list" in args:
        for i, r in enumerate(rows):
            print("row %2d: rank %d, %s" % (i, r[0], names.get(r, "lane %d" % r[1])))
    height = PAD * 2 + len(rows) * (ROW + GAP)
    pix = bytearray([255]) * (width * height * 3)
    scale = (width - 2 * PAD) / max(t1 - t0, 1e-9)
    for i, r in enumerate(rows):  # a faint band per rank, alternating
        if r[0] % 2:
            y0 = PAD + i * (ROW + GAP)
            for y in range(y0 - 1, y0 + ROW + 1):
                pix[(y * width) * 3:(y * width + width) * 3] = bytes([245, 245, 250]) * width
    for e in spans:
        i = rows.index((e["pid"], e["tid"]))
        x0 = PAD + int((max(e["ts"], t0) - t0) * scale)
        x1 = max(x0 + 1, PAD + int((min(e["ts"] + e["dur"], t1) - t0) * scale))
        y0 = PAD + i * (ROW + GAP)
        colour = bytes(COLOURS.get(e["cat"], (0, 0, 0)))
        for y in range(y0, y0 + ROW):
            pix[(y * width + x0) * 3:(y * width + min(x1, width - PAD)) * 3] = colour * (min(x1, width - PAD) - x0)
    png(out, width, height, pix)
    print("%s: %d rows, %.1f ms" % (out, len(rows), (t1 - t0) / 1e3))


main()
