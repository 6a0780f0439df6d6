#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets into tests/fuzz/corpus/<target>/.

A handful of valid inputs each, so the fuzzers start from real frames, requests and settings
instead of discovering the formats byte by byte. Rerun after a wire-format change.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1
COMM = 0xC0FFEE


def checksum(header: bytes) -> int:
    """transport/wire_format.cc header_checksum: multiply-xorshift over the 8 words."""
    h = header[:20] + b"\0\0\0\0" + header[24:]
    acc = 0x9E3779B97F4A7C15
    for (w,) in struct.iter_unpack("<Q", h):
        acc = ((acc ^ w) * 0xFF51AFD7ED558CCD) & MASK
        acc ^= acc >> 32
    return (acc ^ (acc >> 29)) & 0xFFFFFFFF


def frame(kind, op=1, dtype=7, redop=0, root=-1, tag=0, seq=1, msg_id=0, count=0, length=0,
          flags=0, comm=COMM) -> bytes:
    h = struct.pack("<IBBBBBBHiII5Q", 0x31464352, 1, kind, op, dtype, redop, flags, 0, root,
                    tag, 0, comm, seq, msg_id, count, length)
    return h[:20] + struct.pack("<I", checksum(h)) + h[24:]


def data(msg_id, payload: bytes, op=1, dtype=7, count=None, seq=1, tag=0, root=-1) -> bytes:
    esz = {0: 1, 1: 1, 2: 4, 3: 4, 4: 8, 5: 8, 6: 2, 7: 4, 8: 8, 9: 2}[dtype]
    n = len(payload) // esz if count is None else count
    return frame(1, op=op, dtype=dtype, seq=seq, tag=tag, root=root, msg_id=msg_id, count=n,
                 length=len(payload)) + payload


def request(cmd, key: bytes, value=b"", arg=0) -> bytes:
    return struct.pack("<IB3xIIq", 0x31534352, cmd, len(key), len(value), arg) + key + value


def write(target, name, content):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())


floats = struct.pack("<8f", *range(8))
write("wire_fuzz", "data", frame(1, count=8, length=32))
write("wire_fuzz", "error", frame(2, tag=3, root=1, length=12))
write("wire_fuzz", "hello", frame(3, root=2, seq=0x1234, msg_id=1))
write("wire_fuzz", "chunk", frame(4, count=1024, length=4096))
write("wire_fuzz", "ack_ping", frame(5, flags=1))
write("wire_fuzz", "read", frame(6, dtype=8, redop=4, count=2, length=16))
write("wire_fuzz", "read_done", frame(7, msg_id=9))

# connection_fuzz: control bytes (bit 0 seal, bit 1 own comm, bit 2 reduce; receives; max read),
# then the stream. Checksums are right, so the unsealed variants reach past validation too.
write("connection_fuzz", "one_recv", bytes([0, 1, 0, 0]) + data(0, floats))
write("connection_fuzz", "reduce_cut", bytes([4, 2, 7, 0]) + data(0, floats) +
      data(1, struct.pack("<4d", 1, 2, 3, 4), dtype=8, seq=2))
write("connection_fuzz", "unexpected", bytes([1, 0, 0, 0]) + data(0, b"abcdefgh", op=10,
                                                                   dtype=1, tag=5))
write("connection_fuzz", "error_frame", bytes([0, 1, 5, 0]) +
      frame(2, tag=3, root=0, length=11) + b"peer failed")
write("connection_fuzz", "p2p_then_gather", bytes([3, 3, 0, 0]) + data(0, b"x" * 5, op=10,
                                                                        dtype=0, tag=1) +
      data(1, floats, op=6, root=1, seq=3) + data(2, b"", op=11, dtype=1, seq=4))
write("connection_fuzz", "two_streams", bytes([0x41, 2, 0, 0]) + data(0, floats) +
      data(2, floats, seq=2))

write("store_fuzz", "set_get", b"\0" + request(1, b"k", b"value") + request(2, b"k", arg=1000))
write("store_fuzz", "add_check", b"\x05" + request(3, b"count", arg=1) +
      request(3, b"count", arg=-7) + request(4, b"count"))
write("store_fuzz", "job_key", b"\0" + request(5, b""))
write("store_fuzz", "add_to_text", b"\x1b" + request(1, b"c", b"12abc") + request(3, b"c", arg=30))

write("config_fuzz", "launcher", "RAILCC_RANK=1\nRAILCC_WORLD_SIZE=4\nRAILCC_LOCAL_RANK=1\n"
      "RAILCC_STORE_ADDR=127.0.0.1:29500\n")
write("config_fuzz", "torchrun", "RANK=0\nWORLD_SIZE=2\nLOCAL_RANK=0\nLOCAL_WORLD_SIZE=2\n"
      "MASTER_ADDR=[::1]\nMASTER_PORT=29500\n")
write("config_fuzz", "slurm", "SLURM_PROCID=3\nSLURM_NTASKS=8\nSLURM_LOCALID=1\n"
      "SLURM_NTASKS_PER_NODE=4(x2)\n")
write("config_fuzz", "tuning", "RAILCC_TIMEOUT=0.5\nRAILCC_TRANSPORT=tcp\nRAILCC_LOG_LEVEL=debug\n"
      "RAILCC_DEBUG=config,algo\nRAILCC_CHUNK_BYTES=512K\nRAILCC_ALGO=hier\n"
      "RAILCC_COST_INTRA=10,1.2\nRAILCC_SHM_RING_BYTES=4M\nRAILCC_TCP_SOCKETS=4\n")
write("config_fuzz", "rails", "RAILCC_RAILS=rail0,10.77.1.1\nRAILCC_RAIL_CHUNK_BYTES=128K\n"
      "RAILCC_RAIL_TIMEOUT=0.5\nRAILCC_IB_HCA=mlx5_0:1,mlx5_1\nRAILCC_IB_GID_INDEX=-1\n"
      "RAILCC_IB_RING_BYTES=1M\nCUDA_VISIBLE_DEVICES=\n")
