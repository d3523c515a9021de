#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Tiny authoritative DNS responder (UDP, stdlib only) for ward's XMPP e2e tests.

Prosody resolves outgoing s2s through libunbound; its config points unbound
at this stub (unbound = { forward = "127.0.0.1@PORT", ... }), so that the s2s
connection for a domain goes to a chosen 127.0.0.1:<port> (ward's outbound
listener, or another prosody directly).

Usage:
  dns_stub.py [--port N] DOMAIN=IP:PORT [DOMAIN=IP:PORT ...]

For each mapping it answers
  _xmpp-server._tcp.DOMAIN  SRV  0 0 PORT DOMAIN.
  DOMAIN                    A    IP
and, for those names, an empty NOERROR to any other type (AAAA, TLSA,
_xmpps-server SRV...). Any other name gets NXDOMAIN.

Binds 127.0.0.1 (port 0 = any free port), then prints the bound port alone
on one line on stdout when ready. Stops on SIGTERM/SIGINT.
"""

import argparse
import signal
import socket
import struct
import sys

TYPE_A, TYPE_SRV = 1, 33
CLASS_IN = 1
TTL = 60


def encode_name(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        out += bytes([len(label)]) + label.encode('ascii')
    return out + b'\0'


def parse_question(msg):
    """Return (qname, qtype, qclass, end offset) of the first question."""
    labels, i = [], 12
    while msg[i]:
        if msg[i] & 0xC0:
            raise ValueError('compressed name in question')
        labels.append(msg[i + 1:i + 1 + msg[i]].decode('ascii'))
        i += 1 + msg[i]
    qtype, qclass = struct.unpack('!HH', msg[i + 1:i + 5])
    return '.'.join(labels), qtype, qclass, i + 5


def build_records(mappings):
    """{(lowercase name, type): [rdata, ...]} for every mapped domain."""
    records = {}
    for domain, ip, port in mappings:
        domain = domain.lower().rstrip('.')
        records[(domain, TYPE_A)] = [socket.inet_aton(ip)]
        srv = struct.pack('!HHH', 0, 0, port) + encode_name(domain)
        records[('_xmpp-server._tcp.' + domain, TYPE_SRV)] = [srv]
    return records


def answer(query, records, names):
    txid, flags, qdcount = struct.unpack('!HHH', query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None  # not a standard query
    try:
        qname, qtype, qclass, end = parse_question(query)
    except (IndexError, ValueError, UnicodeDecodeError, struct.error):
        return None
    key = qname.lower()
    rdatas = records.get((key, qtype), []) if qclass == CLASS_IN else []
    rcode = 0 if key in names else 3  # NOERROR / NXDOMAIN
    # QR, opcode 0, AA, RD copied from the query, RA
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    out = struct.pack('!HHHHHH', txid, rflags, 1, len(rdatas), 0, 0)
    out += query[12:end]  # the question, as asked (keeps 0x20 case)
    for rdata in rdatas:
        # name = pointer to the question name at offset 12
        out += struct.pack('!HHHIH', 0xC00C, qtype, CLASS_IN, TTL, len(rdata)) + rdata
    return out


def parse_mapping(text):
    try:
        domain, target = text.split('=', 1)
        ip, port = target.rsplit(':', 1)
        socket.inet_aton(ip)
        return domain, ip, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError('expected DOMAIN=IP:PORT, got %r' % text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--port', type=int, default=0, help='UDP port to bind (default: any)')
    p.add_argument('mapping', nargs='+', type=parse_mapping, help='DOMAIN=IP:PORT')
    args = p.parse_args()

    records = build_records(args.mapping)
    names = {name for name, _ in records}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(sock.getsockname()[1], flush=True)
    try:
        while True:
            query, peer = sock.recvfrom(4096)
            reply = answer(query, records, names)
            if reply:
                sock.sendto(reply, peer)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
