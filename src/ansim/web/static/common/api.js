// Talks to the ansim API with the staff session cookie; changes carry the CSRF token.
export function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, redirectOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("ansim_csrf");
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 401 && redirectOn401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError(401, "log in first");
  }
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, payload.detail ?? response.statusText);
  return payload;
}

// Opens the live event stream; reconnects with back-off and resumes from the horizon reached.
// The server stamps `horizon` on an event when every event below it has been sent: that is the
// resume cursor (not an id: writers commit concurrently, so a lower id can commit later). Events
// from the horizon on come again after a reconnect and are dropped by id; each incident's (or, for
// a unit's own events, each unit's) events are applied in `seq` order, a later one held until the
// earlier arrives. Held events are released after HOLD_MS anyway (an officer is not sent an
// incident's events from before their unit was assigned, so some numbers never come).
const HOLD_MS = 2000;
export function createEventOrder(onEvent) {
  const seen = new Set();
  const lastSeq = new Map();
  const held = new Map();
  const apply = (key, event) => {
    lastSeq.set(key, event.seq);
    onEvent(event);
  };
  const drain = (key) => {
    const waiting = held.get(key);
    while (waiting && waiting.has(lastSeq.get(key) + 1)) {
      const next = waiting.get(lastSeq.get(key) + 1);
      waiting.delete(next.seq);
      apply(key, next);
    }
    if (waiting && waiting.size === 0) held.delete(key);
  };
  const release = (key) => {
    const waiting = held.get(key);
    if (!waiting) return;
    for (const seq of [...waiting.keys()].sort((a, b) => a - b)) {
      if (seq > (lastSeq.get(key) ?? 0)) apply(key, waiting.get(seq));
    }
    held.delete(key);
  };
  return (event) => {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    if (seen.size > 5000) seen.delete(seen.values().next().value);
    const key = event.incident_id ? `i:${event.incident_id}` : event.unit_id ? `u:${event.unit_id}` : null;
    if (key === null || event.seq == null) {
      onEvent(event);
      return;
    }
    const last = lastSeq.get(key);
    if (last === undefined || event.seq === last + 1) {
      apply(key, event);
      drain(key);
    } else if (event.seq > last + 1) {
      if (!held.has(key)) {
        held.set(key, new Map());
        setTimeout(() => release(key), HOLD_MS);
      }
      held.get(key).set(event.seq, event);
    }
  };
}

export function openStream(onEvent, onState) {
  let horizon = -1;
  let delay = 500;
  const deliver = createEventOrder(onEvent);
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?after=${horizon}`);
    socket.addEventListener("open", () => {
      delay = 500;
      onState(true);
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      // When the message reached the page: the surge benchmark measures from here to the DOM update.
      event.arrivedAt = performance.now();
      if (event.horizon != null) horizon = Math.max(horizon, event.horizon);
      deliver(event);
    });
    socket.addEventListener("close", (closed) => {
      onState(false);
      if (closed.code === 4401) {
        location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    });
  };
  return {
    // -1 asks for events from now on, 0 for every stored one; a reconnect resumes from the horizon.
    start(fromHorizon) {
      horizon = fromHorizon;
      connect();
    },
  };
}
