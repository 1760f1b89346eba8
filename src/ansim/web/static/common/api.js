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

// Opens the live event stream; reconnects with back-off and resumes after the last event seen.
export function openStream(onEvent, onState) {
  let lastId = 0;
  let delay = 500;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?after=${lastId}`);
    socket.addEventListener("open", () => {
      delay = 500;
      onState(true);
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      lastId = Math.max(lastId, event.id);
      onEvent(event);
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
    // afterId -1 asks for events from now on; after a reconnect we resume from the last one seen.
    start(afterId) {
      lastId = afterId;
      connect();
    },
  };
}
