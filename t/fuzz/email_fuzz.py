#!/usr/bin/python3
"""Random Email/set and Email/get calls against a running server.

usage: email_fuzz.py BASE_URL ACCOUNT_ID SEED COUNT   (user alice/alicepw)

Before the random calls it uploads a few blobs (text, binary, PNG, HTML, a
message) through the upload endpoint, creates a draft that attaches them
and reads the draft's attachments back with Email/get, so the random calls
can use blob ids that exist: uploaded blobIds, message blobIds and part
blobIds ("<blobId>_<partId>"). Calls also carry result references (#ids,
#properties with resultOf/name/path, good and bad) to earlier calls of the
same request, and part blobs are downloaded.

Every API answer must be HTTP 200 with a JSON body (method-level errors are
fine) and every download 200, or 404 with a JSON problem; anything else is
printed and makes the exit status 1. The caller checks the error log for
crashes.

Environment:
  JMAP_FUZZ_PART_BLOBS=0  do not attach part blobIds in Email/set (they
      are attached by default: forwarding a part once crashed a child)
  JMAP_FUZZ_CAPTURE=DIR   append every request to DIR/capture.<pid>.jsonl
      (seed corpora, t/fuzz/make-corpus.sh)
"""
import base64, json, os, random, sys, urllib.error, urllib.parse, urllib.request

base, acc = sys.argv[1], sys.argv[2]
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1500
auth = 'Basic ' + base64.b64encode(b'alice:alicepw').decode()
part_blobs = os.environ.get('JMAP_FUZZ_PART_BLOBS', '1') != '0'
capture = os.environ.get('JMAP_FUZZ_CAPTURE')
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
         "urn:ietf:params:jmap:smime-advanced"]


def record(method, url, body, ctype, status, resp):
    if not capture:
        return
    enc = lambda b: base64.b64encode(b).decode() if b is not None else None
    with open(os.path.join(capture, 'capture.%d.jsonl' % os.getpid()), 'a') as f:
        f.write(json.dumps({"test": "email_fuzz.py", "method": method, "url": url,
                            "status": status, "req_type": ctype, "req": enc(body),
                            "resp_type": None, "resp": enc(resp)}) + "\n")


def http(method, url, body=None, ctype=None):
    headers = {'Authorization': auth}
    if ctype:
        headers['Content-Type'] = ctype
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            st, data, rt = r.status, r.read(), r.headers.get('Content-Type', '')
    except urllib.error.HTTPError as e:
        st, data, rt = e.code, e.read(), e.headers.get('Content-Type', '')
    except (urllib.error.URLError, OSError) as e:   # connection reset: a crashed child
        st, data, rt = 0, str(e).encode(), ''
    record(method, url, body, ctype, st, data)
    return st, data, rt


def post(body):
    return http('POST', base + '/jmap/api', body, 'application/json')[:2]


def api(calls):
    st, data = post(json.dumps({"using": USING, "methodCalls": calls}).encode())
    if st != 200:
        sys.exit("setup call failed: %s %r" % (st, data[:300]))
    return json.loads(data)["methodResponses"]


def expand(tmpl, **v):
    for k, x in v.items():
        tmpl = tmpl.replace('{%s}' % k, urllib.parse.quote(x, safe=''))
    return tmpl


# ---- set-up: mailboxes, blobs, a draft with attachments, its part blob ids --
st, data, _ = http('GET', base + '/jmap/session')
session = json.loads(data) if st == 200 else {}
upload_url = session.get('uploadUrl', base + '/jmap/upload/{accountId}/')
download_url = session.get('downloadUrl',
                           base + '/jmap/download/{accountId}/{blobId}/{name}?type={type}')
boxes = api([["Mailbox/get", {"accountId": acc}, "m"]])[0][1]["list"]
mb = boxes[1]["id"]
uploads = [
    (b"plain attachment\r\nline two\r\n", "text/plain"),
    (bytes(range(256)), "application/octet-stream"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89",
     "image/png"),
    (b"<html><body><p>Hi</p></body></html>\r\n", "text/html"),
    (b"From: carol@example.com\r\nTo: alice@example.com\r\nSubject: inner\r\n"
     b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
     b"Content-Type: text/plain\r\n\r\ninner text\r\n--x\r\nContent-Type: application/pdf\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--x--\r\n", "message/rfc822"),
]
blobs = []
for data, ctype in uploads:
    st, resp, _ = http('POST', expand(upload_url, accountId=acc), data, ctype)
    if st not in (200, 201):
        sys.exit("upload failed: %s %r" % (st, resp[:300]))
    blobs.append(json.loads(resp)["blobId"])
draft = {"mailboxIds": {mb: True}, "keywords": {"$draft": True},
         "from": [{"email": "alice@example.com"}], "to": [{"email": "bob@example.com"}],
         "subject": "attachments", "textBody": [{"partId": "t", "type": "text/plain"}],
         "bodyValues": {"t": {"value": "see attached"}},
         "attachments": [{"blobId": b, "type": t, "name": "f%d" % i}
                         for i, (b, (_, t)) in enumerate(zip(blobs, uploads))]}
r = api([["Email/set", {"accountId": acc, "create": {"d": draft}}, "s"],
         ["Email/get", {"accountId": acc, "ids": ["#d"],
                        "properties": ["blobId", "attachments", "textBody"]}, "g"]])
created = r[0][1].get("created", {}).get("d")
if not created:
    sys.exit("draft not created: %r" % r[0])
emails = [created["id"]]
msg_blobs = [created["blobId"]]
if r[1][0] != "Email/get":
    sys.exit("draft not read back: %r" % (r[1],))
got = r[1][1]["list"][0]
part_ids = [p["blobId"] for p in got["attachments"] + got["textBody"] if p.get("blobId")]

# ---- random values ----------------------------------------------------------
def rnd_scalar():
    return random.choice([None, True, False, 0, -1, 2**62, 1.5, "", "x", "a\r\nB: c", "é\u0001z\t",
                          "<x@y>", "a@b", "=?utf-8?b?x?=", "x" * 5000, [], {}])


def rnd_blob(for_set):
    pool = blobs + msg_blobs + (part_ids if (part_blobs or not for_set) else [])
    k = random.random()
    if k < 0.8:
        return random.choice(pool)
    if k < 0.9:
        return random.choice(part_ids)[:-1] + "9" if part_ids and (part_blobs or not for_set) \
            else "G" + "0" * 64
    return rnd_scalar()


def rnd_val(d=0):
    if d > 3:
        return rnd_scalar()
    k = random.random()
    if k < 0.45:
        return rnd_scalar()
    if k < 0.55:
        return rnd_blob(True)
    if k < 0.75:
        return [rnd_val(d + 1) for _ in range(random.randint(0, 3))]
    return {random.choice(["name", "email", "type", "partId", "blobId", "subParts", "value", "charset",
                           "disposition", "cid", "headers", "header:X-A", "size", "language",
                           "location"]): rnd_val(d + 1) for _ in range(random.randint(0, 4))}


def rnd_attachment():
    a = {"blobId": rnd_blob(True)}
    for k, vals in (("type", ["text/plain", "image/png", "message/rfc822", "application/pdf", None, "x"]),
                    ("name", ["a.txt", "ü.bin", None, "x" * 300]),
                    ("disposition", ["inline", "attachment", None]),
                    ("cid", ["c1@x", None]), ("charset", ["utf-8", "iso-8859-1", None])):
        if random.random() < 0.4:
            a[k] = random.choice(vals)
    return a


def rnd_ref(prev_ids):
    """a ResultReference to an earlier call of the request (or a bad one)"""
    cid, name = random.choice(prev_ids) if prev_ids else ("zz", "Email/set")
    path = random.choice(["/created/k/id", "/created/*/id", "/list/*/id", "/list/0/id",
                          "/list/*/attachments/*/blobId", "/ids", "/notFound", "", "/created",
                          "/list/*/mailboxIds", "/~1x", "/list/99/id"])
    ref = {"resultOf": cid, "name": name, "path": path}
    if random.random() < 0.1:
        ref = random.choice([{"resultOf": cid}, "notaref", {"resultOf": 1, "name": name, "path": path}])
    return ref


props = ["from", "to", "cc", "bcc", "sender", "replyTo", "subject", "sentAt", "messageId", "inReplyTo",
         "references", "headers", "header:X-Foo", "header:From:asAddresses", "header:To:asGroupedAddresses",
         "header:Subject:asText", "header:Date:asDate", "header:List-Post:asURLs",
         "header:Message-ID:asMessageIds", "header:X-Raw:asRaw", "header:Comments:all", "bodyStructure",
         "textBody", "htmlBody", "attachments", "bodyValues", "keywords", "receivedAt", "smimeSign",
         "smimeEncrypt", "headerProtect", "smimeSignOpaque", "hasAttachment", "preview", "id"]
get_props = [None, ["subject", "bodyStructure", "header:From:asAddresses", "preview", "bodyValues"],
             ["attachments", "blobId", "size"], ["textBody", "htmlBody", "hasAttachment"]]


def email_set_call():
    c = {"mailboxIds": {mb: True}, "from": [{"email": "alice@example.com"}],
         "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": "hi"}}}
    for _ in range(random.randint(1, 5)):
        c[random.choice(props)] = rnd_val()
    if random.random() < 0.4:
        c["attachments"] = [rnd_attachment() for _ in range(random.randint(1, 4))]
    if random.random() < 0.3:
        c["bodyStructure"] = {"type": random.choice(["multipart/mixed", "text/plain", "multipart/alternative",
                                                     "image/png", None, 5]),
                              "subParts": [random.choice([rnd_val(), rnd_attachment()])
                                           for _ in range(random.randint(0, 3))],
                              "partId": random.choice(["t", None, 3])}
        c.pop("textBody", None)
        c.pop("attachments", None)
    return ["Email/set", {"accountId": acc, "create": {"k": c}}, "s"]


def email_get_call(prev):
    a = {"accountId": acc, "properties": random.choice(get_props + [[rnd_scalar()]]),
         "fetchAllBodyValues": random.choice([True, False]),
         "maxBodyValueBytes": random.choice([0, 1, 3, 100])}
    if random.random() < 0.5 and prev:
        a["#ids"] = rnd_ref(prev)
    else:
        a["ids"] = random.choice([None, emails, emails + ["Mnope"], [rnd_blob(False)]])
    if random.random() < 0.2:
        a["bodyProperties"] = random.choice([["partId", "blobId", "type"], ["headers", "subParts"], ["x"]])
    return ["Email/get", a, "g"]


codes = {}
bad = 0
for n in range(count):
    k = random.random()
    calls = []
    if k < 0.55:
        calls = [email_set_call()]
    elif k < 0.7:
        calls = [email_get_call([])]
    elif k < 0.9:
        # a chain: create, then read it back or reference something else
        calls = [email_set_call()]
        prev = [("s", "Email/set")]
        if random.random() < 0.5:
            calls.append(["Mailbox/get", {"accountId": acc, "properties": ["role"]}, "m"])
            prev.append(("m", "Mailbox/get"))
        g = email_get_call(prev)
        g[2] = "g2"
        calls.append(g)
        if random.random() < 0.3:
            calls.append(["Core/echo", {"#x": rnd_ref(prev + [("g2", "Email/get")])}, "e"])
    else:
        blob = random.choice(part_ids + msg_blobs + blobs)
        url = expand(download_url, accountId=acc, blobId=blob, name="f.bin",
                     type=random.choice(["application/octet-stream", ""]))
        st, data, rt = http('GET', url)
        codes[st] = codes.get(st, 0) + 1
        if st != 200 and not (st == 404 and 'json' in rt):
            bad += 1
            print("download", st, url, data[:200])
        continue
    body = json.dumps({"using": USING, "methodCalls": calls}).encode()
    st, resp = post(body)
    codes[st] = codes.get(st, 0) + 1
    if st != 200:
        bad += 1
        print("status", st, body[:300], resp[:200])
    else:
        try:
            json.loads(resp)
        except ValueError:
            bad += 1
            print("not JSON", body[:300], resp[:200])
        else:
            for inv in json.loads(resp)["methodResponses"]:
                if inv[0] == "Email/set":
                    for c in (inv[1].get("created") or {}).values():
                        if len(emails) < 20:
                            emails.append(c["id"])
                            msg_blobs.append(c["blobId"])
print(codes, "blobs", len(blobs), "parts", len(part_ids), "emails", len(emails))
sys.exit(1 if bad else 0)
