#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An Exchange Web Services stand-in for ward's exchange-egress tests.

HTTPS with HTTP/1.1 keep-alive. It authenticates like IIS in front of EWS: a request without
credentials gets 401 with the offered schemes; NTLM (or Negotiate carrying raw NTLMSSP) runs
NEGOTIATE -> CHALLENGE -> AUTHENTICATE on one connection and authenticates that connection;
Basic goes with every request. The NTLMv2 response, the MIC and the channel bindings are
verified with python3-ntlm-auth (Debian), an implementation independent of ward's.
Authenticated `GetUserAvailability` requests get a canned SOAP answer.

It never accepts an NTLMv1 or LM response: one (an NtChallengeResponse of 24 bytes, or an
LmChallengeResponse that is neither zero nor a valid LMv2) is printed as a "violation" event.

One JSON line per event on stdout: listening, connection, negotiate, auth, refused, request,
violation. MD4 needs OpenSSL's legacy provider, loaded through a configuration written here
before hashlib is imported.
"""
import os
import tempfile

_conf = tempfile.NamedTemporaryFile("w", suffix=".cnf", delete=False)
_conf.write("openssl_conf = i\n[i]\nproviders = p\n[p]\ndefault = d\nlegacy = l\n[d]\nactivate = 1\n[l]\nactivate = 1\n")
_conf.close()
os.environ["OPENSSL_CONF"] = _conf.name

import argparse  # noqa: E402
import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import http.server  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import socketserver  # noqa: E402
import ssl  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from ntlm_auth import compute_hash  # noqa: E402
from ntlm_auth.compute_response import ComputeResponse  # noqa: E402
from ntlm_auth.gss_channel_bindings import GssChannelBindingsStruct  # noqa: E402
from ntlm_auth.rc4 import ARC4  # noqa: E402

os.unlink(_conf.name)

KEY_EXCH = 0x40000000
SOAP_RESPONSE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<GetUserAvailabilityResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">'
    '<FreeBusyResponseArray><FreeBusyResponse><ResponseMessage ResponseClass="Success">'
    '<ResponseCode>NoError</ResponseCode></ResponseMessage>'
    '<FreeBusyView><FreeBusyViewType xmlns="http://schemas.microsoft.com/exchange/services/2006/types">'
    'FreeBusy</FreeBusyViewType><MergedFreeBusy xmlns="http://schemas.microsoft.com/exchange/services/2006/types">'
    '000000002200</MergedFreeBusy></FreeBusyView></FreeBusyResponse></FreeBusyResponseArray>'
    '</GetUserAvailabilityResponse></s:Body></s:Envelope>'
)

lock = threading.Lock()
connection_ids = itertools.count(1)


def emit(**event):
    with lock:
        sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
        sys.stdout.flush()


def utf16(s):
    return s.encode("utf-16-le")


def field(msg, at):
    length, _, offset = struct.unpack_from("<HHI", msg, at)
    if offset + length > len(msg):
        raise ValueError("field outside the message")
    return msg[offset:offset + length]


def av_pairs(info):
    pairs, at = {}, 0
    while at + 4 <= len(info):
        av_id, length = struct.unpack_from("<HH", info, at)
        if av_id == 0:
            break
        pairs.setdefault(av_id, info[at + 4:at + 4 + length])
        at += 4 + length
    return pairs


class RawTargetInfo:
    def __init__(self, raw):
        self.raw = raw

    def pack(self):
        return self.raw


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"

    def setup(self):
        super().setup()
        self.conn_id = next(connection_ids)
        self.ntlm_user = None
        self.negotiate = None
        self.challenge = None
        emit(event="connection", conn=self.conn_id)

    def log_message(self, *args):
        pass

    # --- answers ---------------------------------------------------------------------------
    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def unauthorized(self, token=None):
        opts = self.server.options
        headers = []
        if token is not None:
            headers.append(("WWW-Authenticate", "%s %s" % (self.scheme, base64.b64encode(token).decode())))
        else:
            if opts.offer == "ntlm":
                headers += [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
            elif opts.offer == "negotiate":
                headers.append(("WWW-Authenticate", "Negotiate"))
            if opts.basic:
                headers.append(("WWW-Authenticate", 'Basic realm="ews.example"'))
        self.answer(401, b"401 - Unauthorized", headers)

    def serve(self, method):
        body = self.body
        ok = self.path == "/EWS/Exchange.asmx" and b"GetUserAvailabilityRequest" in body
        emit(event="request", conn=self.conn_id, auth=method, path=self.path, ok=ok,
             user_agent=self.headers.get("User-Agent", ""), host=self.headers.get("Host", ""))
        if not ok:
            return self.answer(400, b"not a GetUserAvailability request")
        extra = self.server.options.hostile == "extra-record"
        if extra:  # the answer and a second, unasked one in one TCP segment (two TLS records)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        self.answer(200, SOAP_RESPONSE.encode(), [("Content-Type", "text/xml; charset=utf-8")])
        if extra:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED")
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    # --- NTLM ------------------------------------------------------------------------------
    def challenge_message(self, negotiate_flags):
        opts = self.server.options
        flags = 0x00000001 | 0x00000200 | 0x00010000 | 0x00080000 | 0x02000000
        flags |= negotiate_flags & (0x00000004 | 0x00008000 | 0x20000000 | KEY_EXCH | 0x80000000)
        name = utf16("EXAMPLE")
        info = b""
        if opts.ntlm != "v1-only":
            flags |= 0x00800000
            for av_id, value in ((2, utf16("EXAMPLE")), (1, utf16("EWS")), (3, utf16("localhost"))):
                info += struct.pack("<HH", av_id, len(value)) + value
            if opts.timestamp:
                stamp = int((time.time() + 11644473600) * 10_000_000)
                info += struct.pack("<HHQ", 7, 8, stamp)
            info += struct.pack("<HH", 0, 0)
        self.server_challenge = os.urandom(8)
        header = b"NTLMSSP\0" + struct.pack("<I", 2)
        header += struct.pack("<HHI", len(name), len(name), 56)
        header += struct.pack("<I", flags) + self.server_challenge + b"\0" * 8
        header += struct.pack("<HHI", len(info), len(info), 56 + len(name))
        header += bytes([10, 0, 0x63, 0x45, 0, 0, 0, 15])
        return header + name + info

    def verify_authenticate(self, msg):
        """The NTLMv2 response checked with ntlm-auth; returns (ok, details)."""
        opts = self.server.options
        lm, nt = field(msg, 12), field(msg, 20)
        domain = field(msg, 28).decode("utf-16-le")
        user = field(msg, 36).decode("utf-16-le")
        workstation = field(msg, 44).decode("utf-16-le")
        encrypted_key = field(msg, 52)
        flags = struct.unpack_from("<I", msg, 60)[0]
        details = {"user": user, "domain": domain, "workstation": workstation}
        if len(nt) == 24:
            emit(event="violation", what="an NTLMv1 response (24-byte NtChallengeResponse)", conn=self.conn_id)
            return False, details
        if len(nt) < 48:
            return False, dict(details, why="NtChallengeResponse too short")
        temp = nt[16:]
        timestamp, client_challenge, target_info = temp[8:16], temp[16:24], temp[28:-4]
        expected, session_base_key = ComputeResponse._get_NTLMv2_response(
            opts.user, opts.password, opts.domain, self.server_challenge, client_challenge, timestamp,
            RawTargetInfo(target_info))
        ntowf = compute_hash._ntowfv2(opts.user, opts.password, opts.domain)
        if len(lm) == 24 and lm != b"\0" * 24:
            lmv2 = hmac.new(ntowf, self.server_challenge + lm[16:], hashlib.md5).digest() + lm[16:]
            if lm != lmv2:
                emit(event="violation", what="an LM response that is not LMv2", conn=self.conn_id)
                return False, details
            details["lm"] = "lmv2"
        else:
            details["lm"] = "zero"
        if expected != nt:
            return False, dict(details, why="the NTLMv2 response does not verify")
        pairs = av_pairs(target_info)
        details["mic"] = False
        if 6 in pairs and struct.unpack("<I", pairs[6])[0] & 0x2:
            exported = ARC4(session_base_key).update(encrypted_key) if flags & KEY_EXCH else session_base_key
            zeroed = msg[:72] + b"\0" * 16 + msg[88:]
            mic = hmac.new(exported, self.negotiate + self.challenge + zeroed, hashlib.md5).digest()
            if mic != msg[72:88]:
                return False, dict(details, why="the MIC does not verify")
            details["mic"] = True
        if 10 in pairs:
            bindings = GssChannelBindingsStruct()
            bindings[bindings.APPLICATION_DATA] = b"tls-server-end-point:" + self.server.end_point
            details["cbt"] = "ok" if hashlib.md5(bindings.get_data()).digest() == pairs[10] else "bad"
            if details["cbt"] != "ok":
                return False, dict(details, why="the channel bindings do not match")
        else:
            details["cbt"] = "absent"
            if opts.require_cbt:
                return False, dict(details, why="no channel bindings (Extended Protection required)")
        if 9 in pairs:
            details["spn"] = pairs[9].decode("utf-16-le")
        if user.upper() != opts.user.upper() or domain != opts.domain:
            return False, dict(details, why="another user or domain")
        return True, details

    # --- requests --------------------------------------------------------------------------
    def hostile(self):
        """What a broken or hostile server does instead of answering (--hostile)."""
        mode = self.server.options.hostile
        emit(event="hostile", conn=self.conn_id, mode=mode)
        if mode == "silent":  # never answers (ward must time out)
            time.sleep(30)
        elif mode == "cut":  # closes inside its answer
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<partial")
            self.wfile.flush()
        elif mode == "garbage":  # not HTTP at all
            self.wfile.write(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
            self.wfile.flush()
        elif mode == "101":  # switches protocols unasked
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            self.wfile.flush()
        elif mode == "bad-challenge":  # a CHALLENGE that is not base64, then one that is not NTLM
            self.server.options.hostile = "bad-challenge-2"
            return self.answer(401, b"", [("WWW-Authenticate", "NTLM !!not-base64!!"), ("WWW-Authenticate", "Basic realm=x")])
        elif mode == "bad-challenge-2":
            return self.answer(401, b"", [("WWW-Authenticate", "NTLM " + base64.b64encode(b"NTLMSSP\0\2\0\0\0" + b"\xff" * 40).decode())])
        self.close_connection = True

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.body = self.rfile.read(length) if length else b""
        opts = self.server.options
        authorization = self.headers.get("Authorization", "")
        if opts.hostile in ("silent", "cut", "garbage", "101") or (
                opts.hostile.startswith("bad-challenge") and authorization.lower().startswith("ntlm")):
            return self.hostile()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "basic" and not opts.basic:
            emit(event="violation", what="Basic sent to a server that does not offer it", conn=self.conn_id)
            return self.unauthorized()
        if scheme.lower() == "basic":
            user, _, password = base64.b64decode(token).decode().partition(":")
            if user == opts.user and password == opts.password:
                return self.serve("basic")
            emit(event="refused", conn=self.conn_id, method="basic")
            return self.unauthorized()
        if scheme.lower() in ("ntlm", "negotiate") and opts.offer in ("ntlm", "negotiate"):
            self.scheme = scheme
            msg = base64.b64decode(token)
            kind = struct.unpack_from("<I", msg, 8)[0]
            if kind == 1 and opts.ntlm == "negotiate-503":
                emit(event="negotiate", conn=self.conn_id, scheme=scheme, answer=503)
                return self.answer(503, b"Service Unavailable", [("Retry-After", "5")])
            if kind == 1:
                self.negotiate = msg
                self.challenge = self.challenge_message(struct.unpack_from("<I", msg, 12)[0])
                emit(event="negotiate", conn=self.conn_id, scheme=scheme)
                return self.unauthorized(self.challenge)
            if kind == 3 and self.challenge is not None:
                ok, details = self.verify_authenticate(msg)
                if ok and opts.ntlm != "refuse":
                    self.ntlm_user = details["user"]
                    emit(event="auth", conn=self.conn_id, method="ntlmv2", scheme=scheme, **details)
                    return self.serve("ntlmv2")
                emit(event="refused", conn=self.conn_id, method="ntlmv2", **details)
                self.challenge = None
                return self.unauthorized()
        if self.ntlm_user is not None and not authorization:
            self.served = getattr(self, "served", 0) + 1
            if opts.reauth_after and self.served > opts.reauth_after and not getattr(self.server, "reauthed", False):
                self.server.reauthed = True  # once: this connection must authenticate again
                self.ntlm_user = None
                emit(event="reauth", conn=self.conn_id)
                return self.unauthorized()
            return self.serve("ntlmv2-connection")
        return self.unauthorized()

    do_GET = handle_any
    do_POST = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--offer", choices=["ntlm", "negotiate", "basic"], default="ntlm")
    parser.add_argument("--ntlm", choices=["accept", "refuse", "v1-only", "negotiate-503"], default="accept")
    parser.add_argument("--no-timestamp", dest="timestamp", action="store_false")
    parser.add_argument("--hostile", choices=["", "silent", "cut", "garbage", "101", "bad-challenge", "extra-record"], default="")
    parser.add_argument("--no-basic", dest="basic", action="store_false", help="never offer Basic")
    parser.add_argument("--require-cbt", action="store_true", help="refuse an AUTHENTICATE without channel bindings")
    parser.add_argument("--reauth-after", type=int, default=0,
                        help="once, after this many requests on an authenticated connection, ask it to authenticate again")
    options = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(options.cert, options.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.options = options
    with open(options.cert, "rb") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read().decode())
    server.end_point = hashlib.sha256(der).digest()  # ECDSA-SHA256 certificates: SHA-256 (RFC 5929)
    emit(event="listening", port=server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
