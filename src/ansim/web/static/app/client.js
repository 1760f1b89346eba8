// Talking to ansim: signed requests, retried until acknowledged.
// Scheme v2: X-Ansim-Signature: v2=<hex HMAC-SHA256 of "v2\nMETHOD\n/path?query\ntimestamp\nhex sha256(body)">,
// so a captured request is good for its own method and path only (docs/intake.md).
const encoder = new TextEncoder();

async function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function signingKey(credential) {
  const secret = credential.split(".", 2)[1];
  const derived = await hex(await crypto.subtle.digest("SHA-256", encoder.encode(secret)));
  return crypto.subtle.importKey("raw", encoder.encode(derived), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

// The headers of a request signed now, for the method and the path and query the browser will send.
async function signed(method, path, raw, credential) {
  const url = new URL(path, location.href);
  const stamp = String(Math.floor(Date.now() / 1000));
  const digest = await hex(await crypto.subtle.digest("SHA-256", encoder.encode(raw)));
  const text = ["v2", method, url.pathname + url.search, stamp, digest].join("\n");
  const signature = await crypto.subtle.sign("HMAC", await signingKey(credential), encoder.encode(text));
  return { authorization: `Bearer ${credential}`, "x-ansim-timestamp": stamp, "x-ansim-signature": `v2=${await hex(signature)}` };
}

// Every try (the offline SOS retry included) is signed afresh, with the clock of that try.
export async function post(path, body, { credential = null, key = null } = {}) {
  const raw = JSON.stringify(body);
  const headers = { "content-type": "application/json" };
  if (credential) Object.assign(headers, await signed("POST", path, raw, credential));
  if (key) headers["idempotency-key"] = key;
  const answer = await fetch(path, { method: "POST", headers, body: raw });
  const result = await answer.json().catch(() => ({}));
  return { status: answer.status, body: result };
}

// A read with the app's bearer credential (signed over the empty body).
export async function get(path, { credential }) {
  const answer = await fetch(path, { headers: await signed("GET", path, "", credential) });
  const result = await answer.json().catch(() => ({}));
  return { status: answer.status, body: result };
}

// Worth another try: the network, the server's own trouble, or "slow down". Any other answer is final.
export function retryable(status) {
  return status === 0 || status >= 500 || status === 408 || status === 425 || status === 429;
}

export async function untilAcknowledged(send, { tries = Infinity, onRetry = () => {} } = {}) {
  // The same idempotency key on every try: a retry never makes a second incident.
  // An SOS never gives up by itself (tries = Infinity): backoff 0.5 s doubling to 8 s.
  let wait = 500;
  for (let attempt = 1; attempt <= tries; attempt += 1) {
    let status = 0;
    try {
      const answer = await send();
      if (!retryable(answer.status)) return answer;
      status = answer.status;
    } catch (error) { /* offline: try again */ }
    onRetry({ attempt, status, waitMs: wait });
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 8000);
  }
  throw new Error("not acknowledged");
}
