#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A reference PROXY protocol v2 receiver, written from HAProxy's proxy-protocol.txt (section
2.2) alone, sharing nothing with ward's C++ decoder: the independent end the e2e tests check
ward's headers against.

Listens on 127.0.0.1 (port 0 unless given), prints "listening PORT", and for each connection
reads the header, checks it strictly (signature, version, command, family, lengths, every TLV
inside the header, the CRC32C when present), then reads the client's first line and answers
with one JSON object (the decoded header and that line) and closes. A header that breaks the
specification gets {"error": "..."}.
"""
import json
import socket
import struct
import sys
import threading

SIG = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"

# CRC-32C (Castagnoli), table driven, reflected polynomial 0x82F63B78.
_TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def read_exact(conn, n):
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def tlvs(data):
    """(type, value) pairs; raises when one overruns."""
    i = 0
    out = []
    while i < len(data):
        if len(data) - i < 3:
            raise ValueError("truncated TLV")
        t = data[i]
        (length,) = struct.unpack(">H", data[i + 1:i + 3])
        if i + 3 + length > len(data):
            raise ValueError("TLV 0x%02x overruns" % t)
        out.append((t, data[i + 3:i + 3 + length], i))
        i += 3 + length
    return out


def decode(conn):
    head = read_exact(conn, 16)
    if head[:12] != SIG:
        raise ValueError("bad signature")
    ver, cmd = head[12] >> 4, head[12] & 0x0F
    if ver != 2:
        raise ValueError("version %d" % ver)
    if cmd not in (0, 1):
        raise ValueError("command %d" % cmd)
    fam, proto = head[13] >> 4, head[13] & 0x0F
    (length,) = struct.unpack(">H", head[14:16])
    body = read_exact(conn, length)
    out = {"command": "PROXY" if cmd == 1 else "LOCAL", "family": fam, "transport": proto, "tlvs": {}}
    if fam == 1:
        alen = 12
        if length < alen:
            raise ValueError("short IPv4 block")
        out["src"] = "%s:%d" % (socket.inet_ntop(socket.AF_INET, body[0:4]), struct.unpack(">H", body[8:10])[0])
        out["dst"] = "%s:%d" % (socket.inet_ntop(socket.AF_INET, body[4:8]), struct.unpack(">H", body[10:12])[0])
    elif fam == 2:
        alen = 36
        if length < alen:
            raise ValueError("short IPv6 block")
        out["src"] = "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, body[0:16]), struct.unpack(">H", body[32:34])[0])
        out["dst"] = "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, body[16:32]), struct.unpack(">H", body[34:36])[0])
    elif fam == 0:
        alen = 0
    else:
        raise ValueError("family %d" % fam)
    for t, v, at in tlvs(body[alen:]):
        if t == 0x01:
            out["alpn"] = v.decode()
        elif t == 0x02:
            out["authority"] = v.decode()
        elif t == 0x03:
            if len(v) != 4:
                raise ValueError("CRC32C TLV of %d bytes" % len(v))
            offset = 16 + alen + at + 3
            whole = head + body
            zeroed = whole[:offset] + b"\0\0\0\0" + whole[offset + 4:]
            if crc32c(zeroed) != struct.unpack(">I", v)[0]:
                raise ValueError("CRC32C mismatch")
            out["crc32c"] = "ok"
        elif t == 0x20:
            if len(v) < 5:
                raise ValueError("short SSL TLV")
            ssl = {"client": v[0], "verify": struct.unpack(">I", v[1:5])[0]}
            for st, sv, _ in tlvs(v[5:]):
                name = {0x21: "version", 0x22: "cn", 0x23: "cipher", 0x24: "sig_alg", 0x25: "key_alg"}.get(st)
                if name:
                    ssl[name] = sv.decode()
            out["ssl"] = ssl
        else:
            out["tlvs"]["0x%02x" % t] = v.hex()
    return out


def serve(conn):
    conn.settimeout(10)
    try:
        try:
            result = decode(conn)
        except (ValueError, EOFError) as e:
            result = {"error": str(e)}
        else:
            line = b""
            while not line.endswith(b"\n") and len(line) < 4096:
                chunk = conn.recv(1)
                if not chunk:
                    break
                line += chunk
            result["first_line"] = line.decode(errors="replace").rstrip("\r\n")
        conn.sendall(json.dumps(result, sort_keys=True).encode() + b"\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    print("listening %d" % s.getsockname()[1], flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
