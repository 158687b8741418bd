#!/usr/bin/python3
"""Random Email/set and Email/get calls against a running server.

usage: email_fuzz.py BASE_URL ACCOUNT_ID SEED COUNT   (user alice/alicepw)
Every answer must be HTTP 200 with a JSON body (method-level errors are
fine); anything else is printed and makes the exit status 1. The caller
checks the error log for crashes."""
import json, random, sys, base64, urllib.request
base, acc = sys.argv[1], sys.argv[2]
auth = 'Basic ' + base64.b64encode(b'alice:alicepw').decode()
def post(body):
    req = urllib.request.Request(base + '/jmap/api', data=body, headers={'Authorization': auth, 'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=30) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
r = json.loads(post(json.dumps({"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[["Mailbox/get",{"accountId":acc},"m"]]}).encode())[1])
mb = r["methodResponses"][0][1]["list"][1]["id"]
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
def rnd_scalar():
    return random.choice([None, True, False, 0, -1, 2**62, 1.5, "", "x", "a\r\nB: c", "é\u0001z\t", "<x@y>", "a@b", "=?utf-8?b?x?=", "x"*5000, [], {}])
def rnd_val(d=0):
    if d > 3: return rnd_scalar()
    k = random.random()
    if k < 0.5: return rnd_scalar()
    if k < 0.75: return [rnd_val(d+1) for _ in range(random.randint(0,3))]
    return {random.choice(["name","email","type","partId","blobId","subParts","value","charset","disposition","cid","headers","header:X-A","size","language","location"]): rnd_val(d+1) for _ in range(random.randint(0,4))}
props = ["from","to","cc","bcc","sender","replyTo","subject","sentAt","messageId","inReplyTo","references","headers","header:X-Foo","header:From:asAddresses","header:To:asGroupedAddresses","header:Subject:asText","header:Date:asDate","header:List-Post:asURLs","header:Message-ID:asMessageIds","header:X-Raw:asRaw","header:Comments:all","bodyStructure","textBody","htmlBody","attachments","bodyValues","keywords","receivedAt","smimeSign","smimeEncrypt","headerProtect","smimeSignOpaque","hasAttachment","preview","id"]
codes = {}
bad = 0
for n in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1500):
    c = {"mailboxIds": {mb: True}, "from": [{"email": "alice@example.com"}], "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": "hi"}}}
    for _ in range(random.randint(1, 5)):
        c[random.choice(props)] = rnd_val()
    if random.random() < 0.3:
        c["bodyStructure"] = {"type": random.choice(["multipart/mixed","text/plain","multipart/alternative","image/png",None,5]), "subParts": [rnd_val() for _ in range(random.randint(0,3))], "partId": random.choice(["t", None, 3])}
        c.pop("textBody", None)
    call = ["Email/set", {"accountId": acc, "create": {"k": c}}, "s"]
    if random.random() < 0.2:
        call = ["Email/get", {"accountId": acc, "ids": None, "properties": random.choice([None, ["subject","bodyStructure","header:From:asAddresses","preview","bodyValues"], [rnd_scalar()]]), "fetchAllBodyValues": True, "maxBodyValueBytes": random.choice([0, 1, 3, 100])}, "g"]
    body = json.dumps({"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail","urn:ietf:params:jmap:smime-advanced"],"methodCalls":[call]}).encode()
    st, resp = post(body)
    codes[st] = codes.get(st, 0) + 1
    if st != 200:
        bad += 1
        print("status", st, body[:300], resp[:200])
    else:
        json.loads(resp)
print(codes)
sys.exit(1 if bad else 0)
