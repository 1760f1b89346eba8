// Talking to ansim: signed requests (HMAC-SHA256 of "<timestamp>.<body>"), retried until acknowledged.
const encoder = new TextEncoder();

async function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function signingKey(credential) {
  const secret = credential.split(".", 2)[1];
  const derived = await hex(await crypto.subtle.digest("SHA-256", encoder.encode(secret)));
  return crypto.subtle.importKey("raw", encoder.encode(derived), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

export async function post(path, body, { credential = null, key = null } = {}) {
  const raw = JSON.stringify(body);
  const headers = { "content-type": "application/json" };
  if (credential) {
    const stamp = String(Math.floor(Date.now() / 1000));
    const signature = await crypto.subtle.sign("HMAC", await signingKey(credential), encoder.encode(`${stamp}.${raw}`));
    Object.assign(headers, {
      authorization: `Bearer ${credential}`,
      "x-ansim-timestamp": stamp,
      "x-ansim-signature": await hex(signature),
    });
  }
  if (key) headers["idempotency-key"] = key;
  const answer = await fetch(path, { method: "POST", headers, body: raw });
  const result = await answer.json().catch(() => ({}));
  return { status: answer.status, body: result };
}

// A read with the app's bearer credential (signed like a post of an empty body).
export async function get(path, { credential }) {
  const stamp = String(Math.floor(Date.now() / 1000));
  const signature = await crypto.subtle.sign("HMAC", await signingKey(credential), encoder.encode(`${stamp}.`));
  const answer = await fetch(path, {
    headers: { authorization: `Bearer ${credential}`, "x-ansim-timestamp": stamp, "x-ansim-signature": await hex(signature) },
  });
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
