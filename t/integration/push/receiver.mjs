// A push service stand-in for t/integration/44-push-subscription.t: an
// https server on 127.0.0.1 that decrypts what the JMAP server pushes with
// http_ece (the reference RFC 8188 implementation, RFC 8291 keys) and
// verifies the VAPID token (RFC 8292) with node:crypto against the key the
// session advertised. Every request becomes one JSON line in LOG.
//   node receiver.mjs PORT CERT KEY KEYS_FILE LOG [VAPID_KEY]
// KEYS_FILE holds the user agents' key pairs (made on the first start, kept
// across restarts). Paths: /c/NAME answers 201, /gone/NAME 410; NAME's keys
// (if the subscription was given them) decrypt the body.
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import ece from 'http_ece';

const [port, certFile, keyFile, keysFile, logFile, vapidKey] = process.argv.slice(2);
const b64u = (b) => Buffer.from(b).toString('base64url');

let clients = {};
if (fs.existsSync(keysFile)) {
  clients = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
} else {
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    clients[name] = { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(crypto.randomBytes(16)),
                      priv: b64u(ecdh.getPrivateKey()) };
  }
  fs.writeFileSync(keysFile, JSON.stringify(clients));
}

function checkVapid(header, origin) {
  if (!header) return { ok: false, why: 'no Authorization' };
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header);
  if (!m) return { ok: false, why: 'not "vapid t=..., k=..."' };
  const [, jwt, k] = m;
  if (vapidKey && k !== vapidKey) return { ok: false, why: 'k is not the advertised key' };
  const [h, c, s] = jwt.split('.');
  const head = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(c, 'base64url'));
  const raw = Buffer.from(k, 'base64url');
  const pub = crypto.createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256',
    x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33, 65)) } });
  const sig = Buffer.from(s, 'base64url');
  const good = sig.length === 64 && crypto.verify('sha256', Buffer.from(`${h}.${c}`),
    { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
  const now = Date.now() / 1000;
  if (head.alg !== 'ES256') return { ok: false, why: `alg ${head.alg}` };
  if (!good) return { ok: false, why: 'signature does not verify' };
  if (claims.aud !== origin) return { ok: false, why: `aud ${claims.aud}, not ${origin}` };
  if (!(claims.exp > now && claims.exp <= now + 86400)) return { ok: false, why: 'exp' };
  return { ok: true, sub: claims.sub };
}

const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  (req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const [, kind, name] = req.url.split('/');
      const entry = { at: Date.now(), path: req.url, method: req.method, name,
                      contentType: req.headers['content-type'] || null,
                      encoding: req.headers['content-encoding'] || null,
                      ttl: req.headers.ttl || null,
                      vapid: checkVapid(req.headers.authorization,
                                        `https://${req.headers.host}`) };
      try {
        let text = body;
        if (entry.encoding === 'aes128gcm') {
          const ecdh = crypto.createECDH('prime256v1');
          ecdh.setPrivateKey(Buffer.from(clients[name].priv, 'base64url'));
          text = ece.decrypt(body, { version: 'aes128gcm', privateKey: ecdh,
                                     authSecret: clients[name].auth });
        }
        entry.payload = JSON.parse(text.toString('utf8'));
      } catch (e) {
        entry.error = String(e);
      }
      const status = kind === 'gone' ? 410 : 201;
      entry.status = status;
      fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
      res.writeHead(status);
      res.end();
    });
  });
server.listen(Number(port), '127.0.0.1', () => {
  fs.writeFileSync(`${logFile}.ready`, String(process.pid));
});
