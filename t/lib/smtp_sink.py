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
"""
import asyncio
import json
import os
import re
import signal
import smtplib
import sys
import threading

from aiosmtpd.controller import Controller


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
    controller = Controller(RawDirHandler(outdir), hostname=host, port=port,
                            decode_data=False, data_size_limit=100 * 1024 * 1024)
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
