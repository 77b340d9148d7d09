#!/usr/bin/env python3
"""Writes the seed corpora of the transport and bootstrap harnesses
(corpus/fuzz_shm.d, fuzz_tcp.d, fuzz_boot_root.d, fuzz_boot_rank.d,
fuzz_accept.d, fuzz_ucx_msg.d, fuzz_ofi_msg.d).

Their inputs are scripts, read by each harness from the front (see the
comment at the top of each): the harness seals hellos, records and MACs with
the real code from what the script says, so these seeds are valid messages
(genuine handshakes, whole messages across chunks and ring wraps) and edge
cases (forged, changed, cut short, replayed, hostile counters). Findings are
kept next to them under their own names; this script writes only its own
files. Run it again when a harness's script format changes."""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))


def u8(v): return struct.pack('<B', v & 0xff)
def u16(v): return struct.pack('<H', v & 0xffff)
def u32(v): return struct.pack('<I', v & 0xffffffff)
def u64(v): return struct.pack('<Q', v & 0xffffffffffffffff)


def write(harness, name, data):
    d = os.path.join(here, 'corpus', harness + '.d')
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# ---- fuzz_shm: byte 0 % 3 picks accept (0), receiver (1), sender (2)
def shm_post(n): return u8(0) + u16(n)
def shm_frame(size, tag=1): return u8(1) + u8(tag) + u8(0) + u16(size)
def shm_bytes(n, fill=0x41): return u8(2) + u16(n) + u8(fill)
SHM_PUBLISH, SHM_TEST0 = u8(3), u8(7) + u8(0)


def shm_message(n):
    return shm_post(n) + shm_frame(n) + shm_bytes(n) + SHM_PUBLISH + u8(7) + u8(0xff)


def shm():
    genuine_hello = u8(0) + u8(0) + u8(0) + u64(42)  # how 0: sealed, ring 4096, connection 42
    write('fuzz_shm', 'accept-then-message', genuine_hello + shm_message(100))
    write('fuzz_shm', 'accept-forged', u8(0) + u8(2) + u8(0) + bytes(range(80)))
    write('fuzz_shm', 'accept-unsealed-memfd', u8(0) + u8(32) + u8(0) + u64(1) + u8(0))
    write('fuzz_shm', 'accept-short-memfd', u8(0) + u8(16) + u8(0) + u64(1) + u32(4096))
    write('fuzz_shm', 'accept-huge-ring', u8(0) + u8(1) + u64(1 << 40) + u64(1))
    write('fuzz_shm', 'accept-cut-hello', u8(0) + u8(128) + u8(0) + u64(1) + u8(40))
    # receiver over a 4 KiB ring: messages that wrap it, one bigger than it
    write('fuzz_shm', 'recv-wrap', u8(1) + shm_message(3000) + shm_message(3000) + shm_message(100))
    write('fuzz_shm', 'recv-hostile-head', u8(1) + shm_post(100) + u8(4) + u64(2**64 - 1) + SHM_TEST0)
    write('fuzz_shm', 'recv-head-past-ring', u8(1) + shm_post(8000) + shm_frame(8000) + u8(5) + u8(127) + SHM_TEST0)
    write('fuzz_shm', 'recv-too-big', u8(1) + shm_post(10) + shm_frame(5000) + SHM_PUBLISH + SHM_TEST0)
    cma = u8(1) + u8(3) + u8(4) + u16(8) + u64(1)  # frame: size 8, sender address the harness's, CMA
    write('fuzz_shm', 'recv-cma', u8(1) + shm_post(8) + cma + SHM_PUBLISH + SHM_TEST0 + u8(8))
    write('fuzz_shm', 'recv-scribble', u8(1) + shm_post(64) + u8(6) + u8(0) + u64(12345) + SHM_TEST0 + u8(8))
    # sender: an honest receiver, then a hostile tail and acknowledgements
    send = u8(2) + u8(0) + u16(5000) + u8(1) + u8(5) + u8(0) + u8(0) + u16(100)
    write('fuzz_shm', 'send-honest', send + u8(1) + u8(5) + u8(1) + u8(6))
    write('fuzz_shm', 'send-hostile-tail', send + u8(2) + u64(1 << 62) + u8(5) + u8(1))
    write('fuzz_shm', 'send-cma', u8(0x83) + u8(4) + u8(32) + u64(1) + u8(0) + u16(2000) + u8(3) + u64(5) + u8(5) + u8(0) + u8(6))


# ---- fuzz_tcp: byte 0 % 4 picks accept (0), connect (1), plain frames (2), encrypted frames (3)
# (the fuzz build's records are 4 KiB: TCP_AEAD_CHUNK in tests/fuzz/CMakeLists.txt)
def tcp_post(n): return u8(0) + u16(n)
def tcp_msg(n, tag=3): return u8(1) + u16(n) + u8(tag) + u8(0x5a)


def tcp():
    two = tcp_post(100) + tcp_msg(100) + tcp_post(10000) + tcp_msg(10000)  # the second one: 3 records
    for mode, name in ((2, 'plain'), (3, 'sealed')):
        write('fuzz_tcp', name + '-messages', u8(mode) + u8(1) + two)
        write('fuzz_tcp', name + '-flip', u8(mode) + u8(1) + two + u8(5) + u32(70) + u8(4))
        write('fuzz_tcp', name + '-cut', u8(mode) + u8(1) + two + u8(6) + u32(1000))
        write('fuzz_tcp', name + '-huge-header', u8(mode) + u8(1) + tcp_post(100) + u8(2) + u8(1) + u64(2**63))
        write('fuzz_tcp', name + '-too-big', u8(mode) + u8(1) + tcp_post(10) + tcp_msg(100))
        write('fuzz_tcp', name + '-raw', u8(mode) + u8(0) + tcp_post(16) + u8(4) + u8(32) + bytes(range(32)))
    write('fuzz_tcp', 'sealed-dropped-record', u8(3) + u8(1) + tcp_post(100) + u8(7) + tcp_msg(100))
    write('fuzz_tcp', 'sealed-odd-record', u8(3) + u8(1) + tcp_post(100) + u8(2) + u8(1) + u64(100)
          + u8(3) + u8(2) + u32(99))
    frames = u8(1) + tcp_post(100) + tcp_msg(100)
    write('fuzz_tcp', 'accept-plain', u8(0) + u8(0) + u64(7) + frames)
    write('fuzz_tcp', 'accept-encrypted', u8(0) + u8(4) + u64(7) + frames)
    write('fuzz_tcp', 'accept-replayed', u8(0) + u8(32) + u64(7) + frames)
    write('fuzz_tcp', 'accept-changed', u8(0) + u8(16) + u64(7) + u8(20) + u8(1) + frames)
    write('fuzz_tcp', 'accept-flags', u8(0) + u8(2) + u64(7) + u32(0xff))
    write('fuzz_tcp', 'accept-forged', u8(0) + u8(1) + bytes(range(72)))
    write('fuzz_tcp', 'accept-cut', u8(0) + u8(64) + u64(7) + u8(30))
    write('fuzz_tcp', 'connect-plain', u8(1) + u8(0))
    write('fuzz_tcp', 'connect-encrypted-split', u8(1) + u8(2 | 16) + u8(20))
    write('fuzz_tcp', 'connect-changed', u8(1) + u8(4) + u8(10) + u8(1))
    write('fuzz_tcp', 'connect-forged', u8(1) + u8(1) + bytes(range(56)))
    write('fuzz_tcp', 'connect-cut', u8(1) + u8(8) + u8(30))


# ---- fuzz_boot_root: timeout, finish, then hellos
def root_hello(rank, nranks, how=0, host=b'node', pid=100):
    return (u8(how) + u8(rank) + u8(nranks - 1) + u32(pid) + u32(rank) + u16(2)
            + u8(len(host)) + host[:1] + u32(rank + 1))


def boot_root():
    three = b''.join(root_hello(r, 3) for r in range(3))
    write('fuzz_boot_root', 'three-ranks', u16(0) + u8(0) + three)
    write('fuzz_boot_root', 'two-of-three-timeout', u16(0) + u8(3) + root_hello(0, 3) + root_hello(2, 3))
    write('fuzz_boot_root', 'duplicate-rank', u16(0) + u8(2) + root_hello(1, 3) + root_hello(1, 3))
    write('fuzz_boot_root', 'nranks-disagree', u16(0) + u8(0) + root_hello(0, 3) + root_hello(1, 4))
    write('fuzz_boot_root', 'rank-out-of-range', u16(0) + u8(0) + u8(4) + u32(2**31 - 1) + u8(2) + u32(1))
    write('fuzz_boot_root', 'impossible-nranks', u16(0) + u8(0) + u8(8) + u8(0) + u32(2**31 - 1))
    write('fuzz_boot_root', 'forged', u16(0) + u8(0) + u8(1) + bytes(range(200)))
    write('fuzz_boot_root', 'changed', u16(0) + u8(0) + u8(16) + u8(0) + u8(0) + u32(1) + u32(0) + u16(2)
          + u8(4) + b'n' + u32(1) + u8(9) + u8(1))
    write('fuzz_boot_root', 'long-host', u16(0) + u8(1) + u8(0) + u8(0) + u8(1) + u32(1) + u32(0) + u16(2)
          + u8(64) + b'x' + u32(1) + root_hello(1, 2))


# ---- fuzz_boot_rank: byte 0 % 4 picks the root's answer (0), ring hellos (1), link data (2), link hellos (3)
def boot_rank():
    # the answer: one entry per rank (the root sends those of the rank's link
    # ends), then, by `how`: 64 one entry changed (slot, kind, value), 16 a
    # byte flipped, 32 cut, 128 one entry of the gathered table changed
    def answer(n, rank, status=0, reason=0, entries=None, how=0, tail=b''):
        ents = entries if entries is not None else b''.join(u8(0) + u32(100 + r) for r in range(n))
        return (u8(0) + u8(n - 1) + u8(rank) + u8(how) + u32(0xaabbccdd) + u32(0x11223344)
                + u8(status) + u16(reason) + u8(1) + ents + tail)
    write('fuzz_boot_rank', 'answer-ok', answer(3, 1))
    write('fuzz_boot_rank', 'answer-refused', answer(3, 1, status=2, reason=40))
    write('fuzz_boot_rank', 'answer-reason-unterminated', answer(2, 0, status=3, reason=320))
    write('fuzz_boot_rank', 'answer-bad-table', answer(2, 0, entries=u8(1) + u32(5) + u32(1) + u8(2) + u16(1) + u32(2)))
    write('fuzz_boot_rank', 'answer-long-host', answer(2, 1, entries=u8(8) + u32(1) + u8(8) + u32(2)))
    write('fuzz_boot_rank', 'answer-forged', u8(0) + u8(2) + u8(0) + u8(1) + bytes(range(255)))
    write('fuzz_boot_rank', 'answer-changed', answer(2, 0)[:3] + u8(16) + answer(2, 0)[4:] + u16(400) + u8(1))
    write('fuzz_boot_rank', 'answer-cut', answer(2, 0)[:3] + u8(32) + answer(2, 0)[4:] + u16(300))
    write('fuzz_boot_rank', 'answer-one-rank', answer(1, 0))
    write('fuzz_boot_rank', 'answer-eight-ranks', answer(8, 5))
    # rank 1 of 3: entries up0 2, down0 0, up1 0, down1 2
    write('fuzz_boot_rank', 'answer-copies-disagree', answer(3, 1, how=64, tail=u8(2) + u8(0) + u8(5)))
    write('fuzz_boot_rank', 'answer-entry-wrong-rank', answer(3, 1, how=64, tail=u8(1) + u8(1) + u32(7)))
    # rank 0 of 8: entries 1, 7, 2, 6, 4, 4; the one for rank 1 (no copy) names rank 7
    write('fuzz_boot_rank', 'answer-lone-entry-wrong-rank', answer(8, 0, how=64, tail=u8(0) + u8(1) + u32(7)))
    write('fuzz_boot_rank', 'answer-gathered-disagrees', answer(3, 1, how=128, tail=u8(0) + u8(3)))
    # rank 0 of 8: ranks 3 and 5 are no link end, the root sent nothing for them
    write('fuzz_boot_rank', 'answer-gathered-not-a-link-end', answer(8, 0, how=128, tail=u8(3) + u8(3)))
    # ring: rank 1 of 3 (prev 0); nranks byte 1 -> 2 + 1 = 3
    write('fuzz_boot_rank', 'ring-hello', u8(1) + u8(1) + u8(1) + u8(0) + u8(0) + u8(0))
    write('fuzz_boot_rank', 'ring-hello-side-ring', u8(1) + u8(1) + u8(1) + u8(1) + u8(7) + u8(0) + u8(0))
    write('fuzz_boot_rank', 'ring-hello-wrong-rank', u8(1) + u8(1) + u8(1) + u8(0) + u8(0) + u8(2))
    write('fuzz_boot_rank', 'ring-hello-crowd', u8(1) + u8(1) + u8(1) + u8(6) + u8(1) + bytes(40) + u8(16) + u8(0)
          + u8(10) + u8(0) + u8(0) + u8(32) + u8(0) + u8(5) + u8(0) + u8(0))
    write('fuzz_boot_rank', 'ring-hello-forged', u8(1) + u8(0) + u8(0) + u8(0) + u8(1) + bytes(range(40)))
    steps = u8(0) + b'step one' + u8(0) + b'step two'
    write('fuzz_boot_rank', 'ring-data', u8(2) + u8(1) + u8(1) + u8(0) + u16(99) + steps)
    write('fuzz_boot_rank', 'ring-data-replayed', u8(2) + u8(1) + u8(1) + u8(0) + u16(99) + u8(0) + b'step one'
          + u8(2) + b'step two' + u8(0))
    write('fuzz_boot_rank', 'ring-data-changed', u8(2) + u8(1) + u8(1) + u8(0) + u16(99) + u8(8) + b'step one'
          + u16(3) + u8(1) + u8(0) + b'step two')
    # links accepted at once: rank 2 of 5 (links 0-2, from ranks 1, 0, 3); per
    # connection `what` then the link it is for
    write('fuzz_boot_rank', 'links-all', u8(3) + u8(3) + u8(2) + u8(2) + u8(0) + u8(2) + u8(0) + u8(0) + u8(0) + u8(1))
    write('fuzz_boot_rank', 'links-missing-one', u8(3) + u8(3) + u8(2) + u8(1) + u8(0) + u8(0) + u8(0) + u8(1))
    write('fuzz_boot_rank', 'links-duplicate-and-wrong-link', u8(3) + u8(3) + u8(2) + u8(4) + u8(0) + u8(0)
          + u8(0) + u8(0) + u8(2) + u8(1) + u8(1) + u8(3) + u8(0) + u8(1))
    write('fuzz_boot_rank', 'ring-data-cut', u8(2) + u8(1) + u8(1) + u8(1) + u16(99) + steps + u16(150))


# ---- fuzz_accept: byte 0 bit 0: hellos of 80 bytes (else 72); then, per
# connection, its kind (op % 8), what that kind reads, and whether accept()
# runs after it
def acc_genuine(ext=0, flags=0, now=1): return u8(0) + bytes(ext) + u8(flags) + u8(now)


def accept():
    write('fuzz_accept', 'genuine', u8(0) + acc_genuine())
    write('fuzz_accept', 'genuine-80', u8(1) + acc_genuine(8, 1) + acc_genuine(8, 0))
    write('fuzz_accept', 'forged', u8(0) + u8(0x81) + bytes(range(72)) + u8(1) + acc_genuine())
    write('fuzz_accept', 'changed', u8(0) + u8(2) + u8(0) + u8(5) + u8(7) + u8(1) + acc_genuine())
    write('fuzz_accept', 'cut-then-genuine', u8(0) + u8(3) + u8(0) + u8(40) + u8(1) + acc_genuine())
    write('fuzz_accept', 'silent', u8(0) + u8(3) + u8(0) + u8(0) + u8(0) + acc_genuine())
    write('fuzz_accept', 'replay', u8(0) + acc_genuine() + u8(4) + u8(0) + u8(1))
    write('fuzz_accept', 'replay-late', u8(0) + acc_genuine(now=0) + u8(4) + u8(0) + u8(1))
    write('fuzz_accept', 'eof', u8(0) + u8(5) + u8(0) + u8(1) + u8(6) + u8(1))
    write('fuzz_accept', 'two-pieces', u8(1) + u8(7) + bytes(8) + u8(0) + u8(30) + u8(1))
    # a flood of silent connections (beyond the 64 that may wait), then a real one
    write('fuzz_accept', 'flood', u8(0) + (u8(3) + u8(0) + u8(0) + u8(0)) * 70 + acc_genuine())


# ---- fuzz_ucx_msg: byte 0 bit 0: encrypted; then ops (op % 8)
def ux_recv(n): return u8(0) + u16(n)
def ux_msg(n, tag=5, how=0): return u8(1) + u16(n) + u8(tag) + u8(how)  # how: 0 eager, 1 kept, 2 rendezvous
def ux_flip(n, at, how=0): return u8(2) + u16(n) + u8(5) + u8(how) + u16(at)
def ux_replay(p, same=1, how=0): return u8(3) + u8(p) + u8(same) + u8(how)
def ux_raw(hdr, data, how=0): return u8(4) + u8(len(hdr)) + hdr + u8(len(data)) + data + u8(how)
UX_DROP, UX_TEST = u8(5), u8(7)
def ux_bye(n): return u8(6) + u8(n)


def ucx_msg():
    for enc, name in ((1, 'sealed'), (0, 'plain')):
        e = u8(enc)
        write('fuzz_ucx_msg', name + '-messages', e + ux_recv(1000) + ux_recv(3001) + ux_msg(1000) + ux_msg(3001, 7, 2)
              + UX_TEST)
        write('fuzz_ucx_msg', name + '-early', e + ux_msg(100, 1, 1) + ux_msg(2000, 2, 2) + ux_msg(3, 3, 0)
              + ux_recv(100) + ux_recv(2000) + ux_recv(3) + UX_TEST)
        write('fuzz_ucx_msg', name + '-replay', e + ux_recv(64) + ux_msg(64) + UX_TEST + ux_replay(0) + ux_recv(64)
              + UX_TEST)
        write('fuzz_ucx_msg', name + '-replay-moved', e + ux_recv(64) + ux_recv(64) + ux_msg(64) + ux_replay(0, 0)
              + UX_TEST)
        write('fuzz_ucx_msg', name + '-flip', e + ux_recv(500) + ux_flip(500, 17, 2) + UX_TEST)
        write('fuzz_ucx_msg', name + '-drop', e + ux_recv(10) + ux_recv(10) + UX_DROP + ux_msg(10) + UX_TEST)
        write('fuzz_ucx_msg', name + '-too-big', e + ux_recv(10) + ux_msg(100, 1, 1) + UX_TEST)
        write('fuzz_ucx_msg', name + '-bye', e + ux_recv(10) + ux_recv(10) + ux_bye(1) + ux_msg(10) + UX_TEST)
        hdr = u64(0x5eed5eed) + u64(0) + u64(9)
        write('fuzz_ucx_msg', name + '-short', e + ux_recv(10) + ux_raw(hdr, b'abcde') + UX_TEST)
        write('fuzz_ucx_msg', name + '-bad-header', e + ux_recv(10) + ux_raw(hdr[:20], b'abc', 2)
              + ux_raw(u64(1) + hdr[8:], b'x', 1) + ux_raw(u64(0x5eed5eed) + u64(2**63) + u64(0), b'', 2) + UX_TEST)


# ---- fuzz_ofi_msg: byte 0: bit 0 encrypted, bit 1 weft tag as CQ data (else
# in band), bits 2-3 chunk size (64 << k); then ops (op % 8)
def of_recv(n): return u8(0) + u16(n)
def of_msg(n, tag=5): return u8(1) + u16(n) + u8(tag)
def of_flip(n, at): return u8(2) + u16(n) + u8(5) + u16(at)
def of_replay(p, same=1): return u8(3) + u8(p) + u8(same)
def of_raw(which, how, n, data, wtag=9, olen=None):
    return u8(4) + u8(which) + u8(how) + u16(n) + data + u8(wtag) + (u64(olen) if olen is not None else b'')
OF_DROP, OF_PUMP, OF_TEST = u8(5), u8(6), u8(7)


def ofi_msg():
    for mode, name in ((3, 'sealed-cqdata'), (1, 'sealed-inband'), (2, 'plain-cqdata'), (0, 'plain-inband')):
        m = u8(mode)
        write('fuzz_ofi_msg', name + '-messages', m + of_recv(100) + of_recv(1000) + of_msg(100) + of_msg(1000, 7)
              + OF_TEST)
        write('fuzz_ofi_msg', name + '-early', m + of_msg(300, 1) + of_msg(5, 2) + of_recv(300) + of_recv(5) + OF_TEST)
        write('fuzz_ofi_msg', name + '-replay', m + of_recv(64) + of_recv(64) + of_msg(64) + of_replay(0, 0) + OF_TEST)
        write('fuzz_ofi_msg', name + '-flip', m + of_recv(500) + of_flip(500, 300) + OF_TEST)
        write('fuzz_ofi_msg', name + '-drop', m + of_recv(10) + of_recv(10) + OF_DROP + of_msg(10) + OF_TEST + OF_TEST)
        write('fuzz_ofi_msg', name + '-too-big', m + of_recv(10) + of_msg(100) + OF_TEST)
        write('fuzz_ofi_msg', name + '-raw', m + of_recv(40) + of_raw(0, 0x80, 40, bytes(range(40))) + OF_TEST)
        write('fuzz_ofi_msg', name + '-truncated', m + of_recv(40) + of_raw(0, 0x82, 40, bytes(40), olen=2**63)
              + OF_TEST)
        write('fuzz_ofi_msg', name + '-error', m + of_recv(300) + of_raw(1, 3, 0, b'') + OF_TEST)


if __name__ == '__main__':
    shm()
    tcp()
    boot_root()
    boot_rank()
    accept()
    ucx_msg()
    ofi_msg()
    sys.exit(0)
