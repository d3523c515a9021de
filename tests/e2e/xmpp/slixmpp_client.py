#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Minimal XMPP client for ward's end-to-end tests (Debian 12 python3-slixmpp 1.8).

Run it with /usr/bin/python3 (the Debian interpreter that has slixmpp).

Logs in as --jid to --host:--port (no DNS lookups: the domain of the JID is
only used as the stream 'to' and as the TLS server name), then optionally
sends one message and/or waits for one with a given body.

Transport, exactly one of:
  --starttls    plain TCP, then STARTTLS; refuses to authenticate without TLS
  --direct-tls  TLS from the first byte (XEP-0368), ALPN "xmpp-client"
  --plain       no TLS at all; SASL PLAIN allowed in clear (tests only)
With --ca FILE the server certificate must chain to FILE and match the JID's
domain; without it the system trust store is used (verification stays on).

Output, one line each, on stdout:
  SESSION <full-jid> tls=<version|none> alpn=<protocol|none>
  READY                   session started, presence sent
  SENT <to> <body>        message handed to the server (and a ping answered)
  RECEIVED <body>         the expected message arrived
  OK                      everything asked for succeeded (exit status 0)
  FAIL <reason>           anything else (exit status 1)

Example, receiver first, then sender:
  slixmpp_client.py --jid bob@b.example --password pw --host 127.0.0.1 \
      --port 5222 --starttls --ca ca.pem --expect hello
  slixmpp_client.py --jid alice@a.example --password pw --host 127.0.0.1 \
      --port 5222 --starttls --ca ca.pem --send-to bob@b.example --body hello
"""

import argparse
import asyncio
import logging
import sys

import slixmpp


def say(line):
    print(line, flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, args):
        plugin_config = {}
        if args.plain:
            # slixmpp refuses SASL PLAIN on an unencrypted stream by default.
            plugin_config['feature_mechanisms'] = {'unencrypted_plain': True}
        super().__init__(args.jid, args.password, sasl_mech=args.sasl_mech,
                         plugin_config=plugin_config)
        self.args = args
        self.result = asyncio.get_event_loop().create_future()
        self.received = args.expect is None
        self.sent = args.send_to is None
        self.register_plugin('xep_0199')  # ping, to confirm the send

        if args.ca:
            self.ca_certs = args.ca
        if args.direct_tls:
            self.ssl_context.set_alpn_protocols(['xmpp-client'])
        # Name the certificate must carry (TLS SNI + hostname check).
        self.default_domain = self.boundjid.domain

        # slixmpp 1.8 ignores force_starttls: refuse to authenticate in clear
        # by guarding the SASL feature handler ourselves.
        if not args.plain:
            handler, restart = self._stream_feature_handlers['mechanisms']

            def guarded(features):
                if self.tls_version() is None:
                    self.finish('server did not offer STARTTLS; not authenticating in clear')
                    return True
                return handler(features)
            self._stream_feature_handlers['mechanisms'] = (guarded, restart)

        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('failed_auth', lambda _: self.finish('authentication failed'))
        self.add_event_handler('ssl_invalid_chain',
                               lambda e: self.finish('certificate rejected: %s' % e))
        self.add_event_handler('connection_failed',
                               lambda e: self.finish('connection failed: %s' % e))
        self.add_event_handler('disconnected',
                               lambda _: self.finish('disconnected by peer'))
        self.add_event_handler('stream_error',
                               lambda e: self.finish('stream error: %s' % e['condition']))

    async def get_dns_records(self, domain, port=None):
        # Never resolve: always connect to the given host:port.
        return [(self.boundjid.domain, self.args.host, self.args.port)]

    def tls_version(self):
        ssl_object = self.transport and self.transport.get_extra_info('ssl_object')
        return ssl_object.version() if ssl_object else None

    def finish(self, failure=None):
        if self.result.done():
            return
        if failure is None and not (self.sent and self.received):
            return
        say('OK' if failure is None else 'FAIL ' + failure)
        self.cancel_connection_attempt()  # no reconnect loop after a failure
        self.result.set_result(failure is None)

    async def on_session_start(self, _):
        ssl_object = self.transport.get_extra_info('ssl_object')
        alpn = ssl_object.selected_alpn_protocol() if ssl_object else None
        say('SESSION %s tls=%s alpn=%s' % (self.boundjid.full, self.tls_version() or 'none',
                                          alpn or 'none'))
        self.send_presence()
        say('READY')
        if self.args.send_to:
            self.send_message(mto=self.args.send_to, mbody=self.args.body, mtype='chat')
            # Stanzas are handled in order: once the server answers this ping,
            # it has taken the message.
            try:
                await self['xep_0199'].send_ping(self.boundjid.domain, timeout=10)
            except Exception as e:  # IqTimeout / IqError
                self.finish('no answer to ping after sending: %r' % e)
                return
            say('SENT %s %s' % (self.args.send_to, self.args.body))
            self.sent = True
        self.finish()

    def on_message(self, msg):
        if msg['type'] in ('chat', 'normal') and msg['body'] == self.args.expect:
            say('RECEIVED %s' % msg['body'])
            self.received = True
            self.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--jid', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument('--starttls', action='store_true')
    mode.add_argument('--direct-tls', action='store_true')
    mode.add_argument('--plain', action='store_true')
    p.add_argument('--ca', help='PEM file of the CA the server certificate must chain to')
    p.add_argument('--send-to', help='JID to send one chat message to')
    p.add_argument('--body', default='hello from ward e2e')
    p.add_argument('--expect', help='wait for a chat message with exactly this body')
    p.add_argument('--sasl-mech', help='force one SASL mechanism, e.g. PLAIN')
    p.add_argument('--timeout', type=float, default=20, help='overall deadline in seconds')
    p.add_argument('--debug', action='store_true', help='slixmpp debug log (with XML) on stderr')
    args = p.parse_args()
    if args.plain and args.ca:
        p.error('--ca makes no sense with --plain')

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format='%(levelname)s %(name)s: %(message)s')
    loop = asyncio.get_event_loop()
    xmpp = Client(args)
    loop.call_later(args.timeout, xmpp.finish, 'timeout after %gs' % args.timeout)
    xmpp.connect((args.host, args.port), use_ssl=args.direct_tls,
                 force_starttls=args.starttls, disable_starttls=args.plain)
    ok = loop.run_until_complete(xmpp.result)
    if xmpp.transport:
        loop.run_until_complete(xmpp.disconnect(wait=2))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
