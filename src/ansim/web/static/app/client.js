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

export async function untilAcknowledged(send, { tries = 30 } = {}) {
  // The same idempotency key on every try: a retry never makes a second incident.
  let wait = 500;
  for (let attempt = 0; attempt < tries; attempt += 1) {
    try {
      const answer = await send();
      if (answer.status < 500) return answer;
    } catch (error) { /* offline: try again */ }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 8000);
  }
  throw new Error("not acknowledged");
}
