#!/usr/bin/python3
"""Byte-exact SMTP sink for mod_jmap_smime tests and the demo.

Usage: /usr/bin/python3 t/lib/smtp_sink.py HOST PORT OUTDIR [PIDFILE]

Every accepted message is stored unchanged (the DATA bytes as received, CRLF
line ends kept, no added headers) as OUTDIR/NNNN.eml, and its envelope as
OUTDIR/NNNN.json: {"mail_from": ..., "rcpt_tos": [...], "peer": ...}.
The .json is written after the .eml, so a reader that sees NNNN.json finds the
complete message. RCPT TO an address whose local part starts with "reject" is
answered with 550, one whose local part starts with "defer" with 451 (a
temporary failure), so tests can provoke per-recipient failures.

The reply to a message names its queue id: "250 2.0.0 Ok: queued as NNNN".
A message whose Message-ID the sink has saved before for the same
recipients is not saved again: it is answered with the first copy's queue
id (as a relay that recognises a retried message would) and recorded as a
line "NNNN <message-id>" in OUTDIR/duplicates.log. A file OUTDIR/delay-data holding a number of
seconds makes the sink wait that long after it saved a message before it
answers (the relay has the message; a client that dies meanwhile never
hears so).
PIDFILE (default OUTDIR/sink.pid) is written once the socket listens and
removed on SIGTERM/SIGINT. Needs Debian's python3-aiosmtpd (run with
/usr/bin/python3, not a pyenv python).

With SMTP_SINK_LMTP=HOST:PORT:DOMAIN in the environment (tools/demo), a
saved message is also handed to the LMTP listener at HOST:PORT for its
recipients in DOMAIN, so mail sent to the demo users lands in their Inbox;
the LMTP replies are printed (the SMTP client still gets 250).

TLS and AUTH (none of them set: plain SMTP as above, no AUTH):
  SMTP_SINK_TLS_CERT=PEM SMTP_SINK_TLS_KEY=PEM  offer STARTTLS (RFC 3207)
                                with that certificate chain and key
  SMTP_SINK_TLS_REQUIRED=1      refuse commands but EHLO/STARTTLS/QUIT
                                before STARTTLS (530)
  SMTP_SINK_SMTPS=1             TLS from the connect on (implicit TLS,
                                RFC 8314) instead of STARTTLS
  SMTP_SINK_AUTH=user:password  offer AUTH PLAIN and LOGIN (RFC 4954) and
                                require it before MAIL (530); a wrong
                                password gets 535 5.7.8. Only over TLS
                                (538 in clear) unless
  SMTP_SINK_AUTH_PLAINTEXT=1    also allows AUTH without TLS.
  SMTP_SINK_COMMANDS=1          append one line per command to
                                OUTDIR/commands.log: "CONN VERB tls=0|1"
                                (verbs only, never arguments).
With any of these, NNNN.json also has "tls" (the session was TLS) and
"auth_user" (the user it authenticated as, or null).
"""
import asyncio
import json
import os
import re
import signal
import smtplib
import sys
import threading

import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

ENV = os.environ.get
TLS_CERT, TLS_KEY = ENV("SMTP_SINK_TLS_CERT"), ENV("SMTP_SINK_TLS_KEY")
SMTPS = ENV("SMTP_SINK_SMTPS") == "1"
AUTH = ENV("SMTP_SINK_AUTH")
COMMANDS = ENV("SMTP_SINK_COMMANDS") == "1"
EXTENDED = bool(TLS_CERT or SMTPS or AUTH or COMMANDS)


def is_tls(server):
    t = server.transport
    return bool(t is not None and t.get_extra_info("ssl_object") is not None)


class SinkSMTP(SMTP):
    """aiosmtpd's SMTP, noting each command in commands.log when asked."""
    outdir = None
    conns = 0

    def connection_made(self, transport):
        if getattr(self, "conn_no", None) is None:
            SinkSMTP.conns += 1
            self.conn_no = SinkSMTP.conns
        super().connection_made(transport)

    def note(self, verb):
        if COMMANDS:
            with open(os.path.join(self.outdir, "commands.log"), "a") as f:
                f.write("%d %s tls=%d\n" % (self.conn_no, verb, is_tls(self)))

    async def smtp_EHLO(self, arg):
        self.note("EHLO")
        return await super().smtp_EHLO(arg)

    async def smtp_STARTTLS(self, arg):
        self.note("STARTTLS")
        return await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg):
        self.note("AUTH " + (arg or "").split(" ")[0].upper())
        return await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg):
        self.note("MAIL")
        return await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        self.note("RCPT")
        return await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        self.note("DATA")
        return await super().smtp_DATA(arg)


class SinkController(Controller):
    def factory(self):
        return SinkSMTP(self.handler, **self.SMTP_kwargs)


def authenticator(server, session, envelope, mechanism, auth_data):
    user, _, password = AUTH.partition(":")
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == user.encode() and auth_data.password == password.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class RawDirHandler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.lock = threading.Lock()
        self.count = len([f for f in os.listdir(outdir) if f.endswith(".eml")])
        self.by_msgid = {}
        for f in sorted(os.listdir(outdir)):
            if f.endswith(".eml"):
                with open(os.path.join(outdir, f), "rb") as fh:
                    mid = message_id(fh.read())
                try:
                    with open(os.path.join(outdir, f[:-4] + ".json")) as fh:
                        rcpts = json.load(fh)["rcpt_tos"]
                except (OSError, ValueError, KeyError):
                    continue
                key = (mid, tuple(sorted(r.lower() for r in rcpts)))
                if mid and key not in self.by_msgid:
                    self.by_msgid[key] = f[:-4]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].lower().startswith("reject"):
            return "550 5.1.1 <%s>: recipient rejected by test sink" % address
        if address.split("@", 1)[0].lower().startswith("defer"):
            return "451 4.2.0 <%s>: try again later (test sink)" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        if data is None:
            data = envelope.content if isinstance(envelope.content, bytes) \
                else envelope.content.encode("utf-8", "surrogateescape")
        mid = message_id(data)
        key = (mid, tuple(sorted(r.lower() for r in envelope.rcpt_tos)))
        with self.lock:
            first = self.by_msgid.get(key) if mid else None
            if first is None:
                self.count += 1
                qid = "%04d" % self.count
                if mid:
                    self.by_msgid[key] = qid
        if first is not None:
            with open(os.path.join(self.outdir, "duplicates.log"), "a") as f:
                f.write("%s <%s>\n" % (first, mid))
            print("smtp_sink: %s again (Message-ID <%s>), not saved" % (first, mid),
                  flush=True)
            return "250 2.0.0 Ok: queued as %s" % first
        base = os.path.join(self.outdir, qid)
        tmp = base + ".eml.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, base + ".eml")
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "peer": str(session.peer[0]) if session.peer else None,
                "size": len(data)}
        if EXTENDED:
            meta["tls"] = is_tls(server)
            login = getattr(session.auth_data, "login", None) \
                if session.authenticated else None
            meta["auth_user"] = login.decode("utf-8", "replace") \
                if isinstance(login, bytes) else login
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        print("smtp_sink: saved %s.eml (%d bytes) from <%s> to %s"
              % (base, len(data), envelope.mail_from, ", ".join(envelope.rcpt_tos)),
              flush=True)
        if LMTP:
            await asyncio.get_running_loop().run_in_executor(
                None, relay, envelope.mail_from, envelope.rcpt_tos, data)
        try:
            with open(os.path.join(self.outdir, "delay-data")) as f:
                await asyncio.sleep(float(f.read().strip() or 0))
        except (OSError, ValueError):
            pass
        return "250 2.0.0 Ok: queued as %s" % qid


def message_id(data):
    """The Message-ID of the header section, or None."""
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
    m = re.search(rb"^message-id:\s*<([^>\r\n]*)>", head, re.I | re.M)
    return m.group(1).decode("utf-8", "replace") if m else None


# SMTP_SINK_LMTP=HOST:PORT:DOMAIN (see the docstring)
LMTP = os.environ.get("SMTP_SINK_LMTP", "").split(":") \
    if os.environ.get("SMTP_SINK_LMTP") else None


def relay(mail_from, rcpt_tos, data):
    host, port, domain = LMTP[0], int(LMTP[1]), LMTP[2].lower()
    mine = [r for r in rcpt_tos if r.rsplit("@", 1)[-1].lower() == domain]
    if not mine:
        return
    try:
        c = smtplib.LMTP(host, port)
        refused = c.sendmail(mail_from or "", mine, data)
        c.quit()
    except (OSError, smtplib.SMTPException) as e:
        print("smtp_sink: LMTP delivery to %s failed: %s" % (", ".join(mine), e),
              flush=True)
        return
    for r in mine:
        print("smtp_sink: LMTP %s: %s" % (r, refused.get(r, "delivered")), flush=True)


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    host, port, outdir = argv[1], int(argv[2]), argv[3]
    pidfile = argv[4] if len(argv) > 4 else os.path.join(outdir, "sink.pid")
    os.makedirs(outdir, exist_ok=True)
    # decode_data=False keeps envelope.original_content as raw bytes.
    kw = {}
    if TLS_CERT or SMTPS:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(TLS_CERT, TLS_KEY)
        if SMTPS:
            kw["ssl_context"] = ctx     # server side TLS on the listener
        else:
            kw["tls_context"] = ctx
            kw["require_starttls"] = ENV("SMTP_SINK_TLS_REQUIRED") == "1"
    if AUTH:
        kw["authenticator"] = authenticator
        kw["auth_required"] = True
        # aiosmtpd refuses AUTH before STARTTLS; with implicit TLS it does
        # not know the session is TLS, so that check is off there
        kw["auth_require_tls"] = not (SMTPS or ENV("SMTP_SINK_AUTH_PLAINTEXT") == "1")
    SinkSMTP.outdir = outdir
    controller = SinkController(RawDirHandler(outdir), hostname=host, port=port,
                                decode_data=False, data_size_limit=100 * 1024 * 1024,
                                **kw)
    controller.start()
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
    print("smtp_sink: listening on %s:%d, saving to %s (pid %d)"
          % (host, port, outdir, os.getpid()), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    controller.stop()
    try:
        os.unlink(pidfile)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
