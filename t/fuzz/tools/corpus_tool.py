#!/usr/bin/python3
"""Raw seed inputs for the fuzz targets (t/fuzz/make-corpus.sh runs this).

  corpus_tool.py capture CAPTURE_DIR OUT_DIR
      From the HTTP traffic the integration tests made (t/fuzz/tools/
      FuzzCapture.pm, email_fuzz.py with JMAP_FUZZ_CAPTURE): request bodies
      for fuzz_request, Email/set creation objects for fuzz_email_set and
      the messages the server stored (downloads) or was given (uploads)
      for fuzz_mime_get. Ids of the test server are replaced by the
      placeholders the targets resolve against their fake store ($ACCOUNT,
      $MBOXn, $BLOBn, $MSGn, $PARTn, $EMAILn, $IDENTn; see fz_subst).
  corpus_tool.py synth OUT_DIR
      Hand-made inputs: large arrays (addresses, references, attachments,
      headers, calls), deep nesting, every header form, result references,
      odd MIME.
  corpus_tool.py pki PKI_DIR OUT_DIR
      fuzz_certdir inputs from the test PKI of t/lib/mkpki.sh (its CA as an
      extra trust anchor, its certificates and CRLs).

OUT_DIR gets one directory per target; file names are content hashes.
"""
import base64, glob, hashlib, json, os, re, struct, subprocess, sys

TARGETS = ("fuzz_request", "fuzz_email_set", "fuzz_mime_get", "fuzz_certdir")
MAX_SEED = 64 * 1024
CAPS = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
        "urn:ietf:params:jmap:submission", "urn:ietf:params:jmap:smime-advanced"]
ROLES = ["inbox", "drafts", "sent", "archive", "junk", "trash"]
BLOB_SLOT = {"text/plain": 0, "application/octet-stream": 1, "image/png": 2,
             "text/html": 3, "message/rfc822": 4}


def out(root, target, data, prefix=""):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, prefix + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def dumps(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- capture

def load_capture(cdir):
    recs = []
    for fn in sorted(glob.glob(os.path.join(cdir, "capture.*.jsonl"))):
        with open(fn) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                for k in ("req", "resp"):
                    r[k] = base64.b64decode(r[k]) if r.get(k) is not None else None
                recs.append(r)
    return recs


def jload(b):
    try:
        return json.loads(b)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def learn_ids(recs):
    """id in the test server -> placeholder"""
    m = {}
    nblob = {}
    nemail = [0]
    nident = [0]

    def put(k, v):
        if isinstance(k, str) and k and k not in m:
            m[k] = v
    for r in recs:
        resp = jload(r["resp"]) if r["resp"] else None
        url = r["url"]
        if "/jmap/session" in url and isinstance(resp, dict):
            for acc in (resp.get("accounts") or {}):
                put(acc, "$ACCOUNT")
        if "/jmap/upload/" in url and isinstance(resp, dict) and "blobId" in resp:
            slot = BLOB_SLOT.get((resp.get("type") or "").split(";")[0].strip().lower(), 1)
            put(resp["blobId"], "$BLOB%d" % slot)
        if "/jmap/api" in url and isinstance(resp, dict):
            for inv in resp.get("methodResponses") or []:
                if not (isinstance(inv, list) and len(inv) == 3 and isinstance(inv[1], dict)):
                    continue
                name, args = inv[0], inv[1]
                if isinstance(args.get("accountId"), str):
                    put(args["accountId"], "$ACCOUNT")
                if name == "Mailbox/get":
                    for mb in args.get("list") or []:
                        if isinstance(mb, dict) and mb.get("role") in ROLES:
                            put(mb.get("id"), "$MBOX%d" % ROLES.index(mb["role"]))
                if name == "Email/set":
                    for c in (args.get("created") or {}).values():
                        if isinstance(c, dict):
                            k = nemail[0] % 7
                            nemail[0] += 1
                            put(c.get("id"), "$EMAIL%d" % k)
                            put(c.get("blobId"), "$MSG%d" % k)
                            put(c.get("threadId"), "$EMAIL%d" % k)
                if name == "Identity/get":
                    for i in args.get("list") or []:
                        if isinstance(i, dict):
                            put(i.get("id"), "$IDENT%d" % (nident[0] % 3))
                            nident[0] += 1
    return m


PART_RE = re.compile(r"G[0-9a-f]{64}_[0-9]+")
BLOB_RE = re.compile(r"G[0-9a-f]{64}")


def replace_ids(text, m):
    def part(mo):
        n = int(mo.group(0).split("_")[1])
        return "$PART%d" % (n % 10)
    text = PART_RE.sub(part, text)
    for k in sorted(m, key=len, reverse=True):
        if len(k) >= 8:
            text = text.replace(k, m[k])
    # blobs nobody uploaded in this capture: some stored blob
    return BLOB_RE.sub("$BLOB1", text)


def smime_flags(args, create):
    f = 0
    def get(name, default):
        v = create.get(name, args.get(name, default)) if isinstance(create, dict) else default
        return bool(v) if isinstance(v, bool) else default
    if get("smimeSign", False):
        f |= 1
    if get("smimeEncrypt", False):
        f |= 2
    if not get("headerProtect", True):
        f |= 4
    if not get("smimeSignOpaque", True):
        f |= 8
    return f


def looks_like_message(b):
    head = b[:2000]
    return bool(re.match(rb"^[!-9;-~]+:", head)) and (b"\n\n" in b or b"\r\n\r\n" in b
                                                       or b"From:" in head)


def cmd_capture(cdir, root):
    recs = load_capture(cdir)
    m = learn_ids(recs)
    counts = dict.fromkeys(TARGETS, 0)
    for r in recs:
        url = r["url"]
        if "/jmap/api" in url and r["method"] == "POST" and r["req"]:
            try:
                text = r["req"].decode("utf-8")
            except UnicodeDecodeError:
                out(root, "fuzz_request", r["req"])
                continue
            text = replace_ids(text, m)
            out(root, "fuzz_request", text)
            counts["fuzz_request"] += 1
            req = jload(text)
            calls = req.get("methodCalls") if isinstance(req, dict) else None
            for inv in calls if isinstance(calls, list) else []:
                if (isinstance(inv, list) and len(inv) == 3 and inv[0] == "Email/set"
                        and isinstance(inv[1], dict) and isinstance(inv[1].get("create"), dict)):
                    for c in inv[1]["create"].values():
                        out(root, "fuzz_email_set",
                            bytes([smime_flags(inv[1], c)]) + dumps(c).encode())
                        counts["fuzz_email_set"] += 1
        elif "/jmap/download/" in url and r["status"] == 200 and r["resp"]:
            if looks_like_message(r["resp"]):
                out(root, "fuzz_mime_get", r["resp"])
                counts["fuzz_mime_get"] += 1
        elif "/jmap/upload/" in url and r["req"] and looks_like_message(r["req"]):
            out(root, "fuzz_mime_get", r["req"])
            counts["fuzz_mime_get"] += 1
    print("capture: %d records, %d ids mapped; %s" % (len(recs), len(m), counts))


# ---------------------------------------------------------------- synth

def addr(i, dom="example.com"):
    return {"name": "Person %d" % i, "email": "p%d@%s" % (i, dom)}


def base_create(**kw):
    c = {"mailboxIds": {"$MBOX1": True}, "keywords": {"$draft": True},
         "from": [{"name": "Alice", "email": "alice@example.com"}],
         "to": [{"name": "Bob", "email": "bob@example.com"}],
         "subject": "synthetic", "textBody": [{"partId": "t", "type": "text/plain"}],
         "bodyValues": {"t": {"value": "Hello\nworld\r\n"}}}
    c.update(kw)
    return c


def nested(depth):
    part = {"partId": "leaf", "type": "text/plain"}
    for i in range(depth):
        part = {"type": "multipart/%s" % ("mixed", "alternative", "related")[i % 3],
                "subParts": [part, {"blobId": "$BLOB%d" % (i % 7)}]}
    return part


HEADER_FORMS = [
    ("header:X-Raw:asRaw", " raw value"),
    ("header:X-Text:asText", "Caf\u00e9 \u65e5\u672c =?not?= encoded"),
    ("header:X-Addr:asAddresses", [addr(1), {"name": None, "email": "q@x.org"}]),
    ("header:X-Group:asGroupedAddresses",
     [{"name": "Team", "addresses": [addr(2), addr(3)]}, {"name": None, "addresses": [addr(4)]}]),
    ("header:X-Ids:asMessageIds", ["a@b", "c.d@e"]),
    ("header:X-Date:asDate", "2026-12-01T10:20:30+05:30"),
    ("header:List-Post:asURLs", ["mailto:list@example.com", "https://example.com/p"]),
    ("header:X-All:all", [" one", " two", " three"]),
    ("header:X-Text-All:asText:all", ["x", "y\u00fc"]),
    ("header:Comments:asText", "a comment"),
]


def creates():
    """(flags, creation object) pairs"""
    c = []
    c.append((0, base_create()))
    c.append((1, base_create(smimeSign=True)))
    c.append((3, base_create(smimeSign=True, smimeEncrypt=True, bcc=[addr(9)])))
    c.append((2, base_create(smimeEncrypt=True, headerProtect=False)))
    c.append((9, base_create(smimeSignOpaque=False)))
    c.append((0x13, base_create(subject="legacy display", keywords={"$draft": True},
                                htmlBody=[{"partId": "h", "type": "text/html"}],
                                bodyValues={"t": {"value": "x"},
                                            "h": {"value": "<html><body><p>x</p></body></html>"}})))
    c.append((0x83, base_create(**{"from": [{"email": "sales@example.com"}]})))
    c.append((0x63, base_create(subject="cbc oaep")))
    # large arrays
    c.append((0, base_create(to=[addr(i) for i in range(300)],
                             cc=[addr(i, "cc.example") for i in range(100)])))
    c.append((2, base_create(to=[addr(i) for i in range(40)], bcc=[addr(i, "b.example") for i in range(20)])))
    c.append((0, base_create(references=["r%d@example.com" % i for i in range(200)],
                             inReplyTo=["r199@example.com"], messageId=["self@example.com"])))
    c.append((0, base_create(attachments=[{"blobId": "$BLOB%d" % (i % 7), "name": "f%d.bin" % i}
                                          for i in range(60)])))
    c.append((1, base_create(attachments=[{"blobId": "$MSG%d" % i, "type": "message/rfc822"}
                                          for i in range(7)])))
    c.append((0, base_create(attachments=[{"blobId": "$PART%d" % i} for i in range(10)])))
    c.append((3, base_create(attachments=[{"blobId": "$PART0", "type": "image/png",
                                           "name": "fwd.png", "disposition": "inline", "cid": "x@y"}])))
    c.append((0, base_create(headers=[{"name": "X-H%d" % i, "value": " v%d" % i} for i in range(100)])))
    c.append((0, base_create(**dict(HEADER_FORMS))))
    c.append((1, base_create(**dict(HEADER_FORMS))))
    # bodyStructure
    bs = {"type": "multipart/mixed", "header:X-Root": " root field", "subParts": [
        {"type": "multipart/alternative", "subParts": [
            {"partId": "t", "type": "text/plain", "language": ["en", "de-CH"],
             "location": "https://example.com/t"},
            {"type": "multipart/related", "subParts": [
                {"partId": "h", "type": "text/html"},
                {"blobId": "$BLOB2", "type": "image/png", "cid": "img1@x", "disposition": "inline"}]}]},
        {"blobId": "$BLOB0", "type": "text/plain", "charset": "iso-8859-1", "name": "\u00e4\u00f6.txt",
         "header:Content-Description:asText": "d\u00e9scription", "headers": [{"name": "X-P", "value": " p"}]},
        {"blobId": "$BLOB4", "type": "message/rfc822", "name": "fwd.eml"},
        {"blobId": "$BLOB5", "type": "text/plain"}]}
    for f in (0, 1, 3, 0x19):
        c.append((f, {"mailboxIds": {"$MBOX0": True}, "from": [{"email": "alice@example.com"}],
                      "to": [{"email": "carol@example.com"}], "subject": "tree", "bodyStructure": bs,
                      "bodyValues": {"t": {"value": "text"}, "h": {"value": "<p>html<img src=cid:img1@x>"}}}))
    c.append((0, {"mailboxIds": {"$MBOX1": True}, "from": [{"email": "alice@example.com"}],
                  "bodyStructure": nested(60), "bodyValues": {"leaf": {"value": "deep"}}}))
    c.append((1, {"mailboxIds": {"$MBOX1": True}, "from": [{"email": "alice@example.com"}],
                  "sender": [{"email": "sales@example.com"}], "sentAt": "2026-01-02T03:04:05Z",
                  "replyTo": [{"email": "r@example.com"}], "bodyStructure": nested(5),
                  "bodyValues": {"leaf": {"value": "x" * 3000}}}))
    # odd but maybe valid
    c.append((0, {"mailboxIds": {"$MBOX1": True}}))
    c.append((0, base_create(subject="=?utf-8?q?not_decoded?= \u0000 nul", bodyValues={"t": {"value": "\r\r\n\n\u2028"}})))
    c.append((0, base_create(**{"header:Subject:asText": "dup", "subject": "dup"})))
    c.append((3, base_create(to=[], cc=None, bcc=[{"email": "only-bcc@example.com"}])))
    c.append((3, base_create(to=[{"email": "down@example.com"}, {"email": "dave@example.com"},
                                 {"email": "erin@example.com"}, {"email": "grace@example.com"}])))
    return c


def requests():
    r = []
    def req(calls, using=CAPS, **kw):
        d = {"using": using, "methodCalls": calls}
        d.update(kw)
        return dumps(d)
    acc = "$ACCOUNT"
    r.append(req([["Core/echo", {"hello": [1, {"x": True}]}, "c"]]))
    r.append(req([["Mailbox/get", {"accountId": acc}, "m"],
                  ["Mailbox/get", {"accountId": acc, "#ids": {"resultOf": "m", "name": "Mailbox/get",
                                                              "path": "/list/*/id"},
                                   "properties": ["role", "name", "totalEmails"]}, "n"]]))
    r.append(req([["Identity/get", {"accountId": acc}, "i"],
                  ["Identity/get", {"accountId": acc, "ids": ["$IDENT0", "$IDENT1", "nope"],
                                    "properties": ["email", "name"]}, "j"]]))
    allprops = ["id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
                "headers", "messageId", "inReplyTo", "references", "sender", "from", "to", "cc",
                "bcc", "replyTo", "subject", "sentAt", "bodyStructure", "bodyValues", "textBody",
                "htmlBody", "attachments", "hasAttachment", "preview"] + [k for k, _ in HEADER_FORMS] + [
                "header:From:asAddresses", "header:To:asGroupedAddresses:all", "header:Date:asDate",
                "header:Message-ID:asMessageIds", "header:Subject:asText:all"]
    bprops = ["partId", "blobId", "size", "headers", "name", "type", "charset", "disposition",
              "cid", "language", "location", "subParts", "header:Content-Type:asRaw"]
    r.append(req([["Email/get", {"accountId": acc, "ids": ["$EMAIL%d" % i for i in range(7)],
                                 "properties": allprops, "bodyProperties": bprops,
                                 "fetchAllBodyValues": True, "maxBodyValueBytes": 10}, "g"]]))
    r.append(req([["Email/get", {"accountId": acc, "ids": None, "fetchTextBodyValues": True,
                                 "fetchHTMLBodyValues": True}, "g"]]))
    # chains of result references
    r.append(req([["Email/set", {"accountId": acc, "create": {"k1": creates()[0][1]}}, "s"],
                  ["Email/get", {"accountId": acc, "#ids": {"resultOf": "s", "name": "Email/set",
                                                            "path": "/created/k1/id"},
                                 "properties": ["attachments", "bodyStructure", "preview"]}, "g"],
                  ["Email/get", {"accountId": acc, "ids": ["#k1"]}, "h"],
                  ["Core/echo", {"#x": {"resultOf": "g", "name": "Email/get",
                                        "path": "/list/*/bodyStructure/subParts/*/blobId"}}, "e"],
                  ["Core/echo", {"#x": {"resultOf": "s", "name": "Email/set", "path": "/created/*/blob~1Id"}}, "e2"]]))
    r.append(req([["Email/get", {"accountId": acc, "ids": ["$EMAIL0"], "properties": ["attachments"]}, "g"],
                  ["Email/set", {"accountId": acc, "create": {"fwd": base_create(
                      attachments=[{"blobId": "$PART0"}, {"blobId": "$PART3", "type": "text/plain"}])}}, "s"]]))
    r.append(req([["Email/set", {"accountId": acc, "smimeSign": True, "smimeEncrypt": True,
                                 "create": {"k%d" % i: base_create(to=[addr(i)] + [{"email": "bob@example.com"}])
                                            for i in range(3)}}, "s"],
                  ["Email/get", {"accountId": acc, "#ids": {"resultOf": "s", "name": "Email/set",
                                                            "path": "/created/*/id"}}, "g"]]))
    r.append(req([["Email/set", {"accountId": acc, "create": {"a": creates()[2][1], "b": creates()[1][1]},
                                 "update": {"$EMAIL0": {"keywords": {}}}, "destroy": ["$EMAIL1"],
                                 "ifInState": "0"}, "s"]]))
    r.append(req([["Email/set", {"accountId": acc, "create": {"k%d" % i: base_create() for i in range(40)}}, "s"]]))
    r.append(req([["Core/echo", {"i": i}, "c%d" % i] for i in range(32)]))
    r.append(req([["Core/echo", {}, "c%d" % i] for i in range(33)]))
    r.append(req([["Mailbox/get", {"accountId": acc, "ids": ["$MBOX%d" % (i % 6) for i in range(500)]}, "m"]]))
    r.append(req([["Email/get", {"accountId": acc, "ids": ["$EMAIL%d" % (i % 7) for i in range(501)]}, "m"]]))
    r.append(req([["Mailbox/get", {"accountId": acc}, "m"]], createdIds={"x": "M1", "y": "$EMAIL0"}))
    r.append(req([["Email/set", {"accountId": acc, "create": {"x": creates()[0][1]}}, "s"],
                  ["Email/set", {"accountId": acc, "create": {"y": base_create(mailboxIds={"#x": True})}}, "t"]],
                 createdIds={}))
    r.append(req([["Email/set", {"accountId": acc, "create": {"k": c}}, "s"] for _, c in creates()[8:16]]))
    r.append(req([["Email/get", {"accountId": "nope"}, "a"], ["Email/get", {}, "b"],
                  ["Foo/bar", {}, "c"], ["Email/get", {"accountId": acc, "ids": "x"}, "d"],
                  ["Email/get", {"accountId": acc, "properties": ["bogus"]}, "e"],
                  ["Email/get", {"accountId": acc, "bodyProperties": ["bogus"]}, "f"]],
                 using=["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]))
    r.append(req([["Email/set", {"accountId": acc, "smimeSign": True, "create": {"k": creates()[0][1]}}, "s"]],
                 using=["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]))
    r.append(req([["Identity/get", {"accountId": acc}, "i"]], using=["urn:ietf:params:jmap:core"]))
    r.append('{"using":[],"methodCalls":[]}')
    r.append('{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"#a":{"resultOf":"x","name":"y","path":"/~0~1*"}},"x"]]}')
    return r


def messages():
    m = []
    crlf = lambda s: s.replace("\n", "\r\n")
    m.append(crlf("From: a@example.com\nTo: Undisclosed:;\nSubject: =?iso-2022-jp?B?GyRCJEokbBsoQg==?=\n"
                  "Date: Mon, 32 Foo 2026 25:61:61 +9999\nMessage-ID: <a@b> junk <c@d\n"
                  "Content-Type: text/plain; charset=utf-16le\n\n") + "h\x00i\x00\r\x00\n\x00")
    parts = "".join("--b\r\nContent-Type: text/plain; name=\"p%d.txt\"\r\nContent-Disposition: %s\r\n\r\npart %d\r\n"
                    % (i, ("inline", "attachment", "inline; filename*=UTF-8''%E2%82%AC.txt")[i % 3], i)
                    for i in range(200))
    m.append("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + "--b--\r\n")
    deep = "leaf\r\n"
    for i in range(120):
        deep = ("Content-Type: multipart/%s; boundary=d%d\r\n\r\n--d%d\r\n%s\r\n--d%d--\r\n"
                % (("mixed", "alternative", "related")[i % 3], i, i,
                   deep if i else "Content-Type: text/plain\r\n\r\nleaf", i))
    m.append("From: deep@example.com\r\n" + deep)
    rfc822 = "From: inner@example.com\r\nSubject: inner\r\n\r\nbody\r\n"
    for i in range(30):
        rfc822 = "From: l%d@example.com\r\nContent-Type: message/rfc822\r\n\r\n%s" % (i, rfc822)
    m.append(rfc822)
    m.append("From: =?utf-8?b?w6TDtsO8?= <x@example.com>, \"q\\\"uote\" <y@example.com>, bad@, @bad, <>\r\n"
             "To: g1: a@b, c@d;, g2:;, e@f\r\nCc: (comment) a@b (x)\r\nBcc: \r\n"
             "Reply-To: =?utf-8?q?=E2=82=AC?= <e@x>\r\nSender: s@x\r\nSender: t@x\r\n"
             "References: <1@x>\r\n <2@x>\r\n\t<3@x>\r\nIn-Reply-To: <bad\r\n"
             "List-Unsubscribe: <mailto:u@x?subject=unsub>, <https://x/u>\r\n"
             "Subject: " + "long " * 400 + "\r\n"
             "X-NUL: a\x00b\r\nX-8bit: caf\xe9\r\n"
             "Content-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
             "<html><body><p>caf=E9 <b>=\r\nbold</b></p><script>x</script></body></html>\r\n")
    m.append("Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--a\r\nContent-Type: text/html\r\n"
             "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n#86)C\r\n`\r\nend\r\n--a--")
    m.append("From: lf@example.com\nSubject: bare LF\nContent-Type: text/plain; charset=\"us-ascii\"; format=flowed\n\nline one \nline two\n")
    m.append("Subject: no end of headers")
    m.append("")
    m.append("\r\n\r\nbody only")
    m.append("From: a@b\r\nContent-Type: multipart/signed; boundary=s; protocol=\"application/pkcs7-signature\"\r\n\r\n"
             "--s\r\nContent-Type: text/plain\r\n\r\nsigned\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--s--\r\n")
    m.append("From: a@b\r\nContent-Type: application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\nMIAGCyqGSIb3DQEJEAEXoIA=\r\n")
    m.append("From: a@b\r\nContent-Type: text/plain; charset=x-unknown-charset\r\nContent-Language: en, , de\r\n"
             "Content-Location:  https://x/\r\n  folded\r\nContent-ID: <cid@x>\r\n\r\n\xff\xfe text\r\n")
    return m


def cmd_synth(root):
    for f, c in creates():
        out(root, "fuzz_email_set", bytes([f]) + dumps(c).encode(), "synth-")
    for r in requests():
        out(root, "fuzz_request", r, "synth-")
    for m in messages():
        out(root, "fuzz_mime_get", m.encode("latin-1", "replace") if isinstance(m, str) else m, "synth-")
    print("synth: %d creations, %d requests, %d messages" % (len(creates()), len(requests()), len(messages())))


# ---------------------------------------------------------------- pki

def rec(kind, data):
    return kind.encode() + struct.pack(">H", min(len(data), 65535)) + data[:65535]


def der(path, what="x509"):
    try:
        return subprocess.run(["openssl", what, "-in", path, "-outform", "DER"], check=True,
                              capture_output=True).stdout
    except (subprocess.CalledProcessError, OSError):
        return None


def cmd_pki(pki, root):
    ca = open(os.path.join(pki, "ca.pem"), "rb").read()
    crl = der(os.path.join(pki, "ca.crl"), "crl") if os.path.exists(os.path.join(pki, "ca.crl")) else None
    n = 0
    for pem in sorted(glob.glob(os.path.join(pki, "*.pem"))):
        name = os.path.basename(pem)[:-4]
        if name in ("ca", "sub") or name.endswith("-full") or name.endswith("-all"):
            continue
        d = der(pem)
        if not d:
            continue
        address = ("%s@example.com" % name.split("-")[0]).encode()
        for flags in (0x00, 0x03, 0x21):
            data = bytes([flags]) + rec("T", ca) + rec("C", d) + rec("L", address)
            if crl and flags & 2:
                data += rec("R", crl)
            out(root, "fuzz_certdir", data, "pki-")
            n += 1
    # the PKCS#7 bundles and the DER CA, if any
    for p7 in glob.glob(os.path.join(pki, "*.p7b")) + glob.glob(os.path.join(pki, "*.p7c")):
        d = der(p7, "pkcs7")
        if d:
            out(root, "fuzz_certdir", bytes([0]) + rec("T", ca) + rec("S", d), "pki-")
            n += 1
    print("pki: %d inputs" % n)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "capture":
        cmd_capture(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "synth":
        cmd_synth(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "pki":
        cmd_pki(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
