// jam-test.mjs — drive mod_jmap_smime with the jmap-jam client library.
// Env: JMAP_SESSION_URL (e.g. http://127.0.0.1:PORT/.well-known/jmap),
//      JMAP_USER, JMAP_PASS. Prints one JSON object with the results of
// each step ({ok: true, ...} or {ok: false, error: ...}); the calling .t
// file judges them. Exit status 0 unless the script itself breaks.
import JamClient from "jmap-jam";

const sessionUrl = process.env.JMAP_SESSION_URL;
const basic = "Basic " + Buffer.from(`${process.env.JMAP_USER}:${process.env.JMAP_PASS}`).toString("base64");

// jmap-jam only knows bearer tokens; the server here uses httpd Basic auth.
// Wrap fetch so every request jam makes (session, API, upload, download)
// carries Basic credentials instead.
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set("Authorization", basic);
  return realFetch(input, { ...init, headers });
};

const out = {};
async function step(name, fn) {
  try {
    out[name] = { ok: true, ...(await fn()) };
  } catch (e) {
    out[name] = { ok: false, error: e instanceof Error ? `${e.message} ${e.cause ? JSON.stringify(e.cause) : ""}` : e };
  }
}

const jam = new JamClient({ sessionUrl, bearerToken: "unused" });
jam.authHeader = basic;

await step("session", async () => {
  const s = await jam.session;
  return { username: s.username, apiUrl: s.apiUrl, accounts: Object.keys(s.accounts || {}),
           primaryMail: await jam.getPrimaryAccount(), state: s.state };
});
const accountId = out.session.ok ? out.session.primaryMail : undefined;

await step("echo", async () => {
  const [data, meta] = await jam.request(["Core/echo", { hello: "jam", n: [1, 2, 3] }]);
  return { data, sessionState: meta.sessionState };
});

await step("mailboxGet", async () => {
  const [data] = await jam.api.Mailbox.get({ accountId, ids: null });
  return { accountId: data.accountId, count: (data.list || []).length,
           names: (data.list || []).map((m) => m.name), state: data.state };
});

await step("requestMany", async () => {
  const [res] = await jam.requestMany((t) => {
    const all = t.Mailbox.get({ accountId, ids: null });
    const again = t.Mailbox.get({ accountId, ids: all.$ref("/list/*/id"), properties: ["name"] });
    return { all, again };
  });
  return { all: res.all.list.length, again: res.again.list.length, notFound: res.again.notFound };
});

await step("unknownMethod", async () => {
  try {
    await jam.request(["Foo/bar", {}]);
    return { threw: false };
  } catch (e) {
    return { threw: true, type: e && e.type };
  }
});

await step("blob", async () => {
  const payload = "hello from jmap-jam\r\n";
  const up = await jam.uploadBlob(accountId, new Blob([payload], { type: "text/plain" }),
                                  { headers: { Authorization: basic, "Content-Type": "text/plain" } });
  const res = await jam.downloadBlob({ accountId, blobId: up.blobId, mimeType: "text/plain",
                                       fileName: "jam.txt" });
  const text = await res.text();
  return { blobId: up.blobId, size: up.size, type: up.type, roundTrip: text === payload,
           contentType: res.headers.get("content-type") };
});

console.log(JSON.stringify(out));
