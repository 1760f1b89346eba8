// The 112 app's service worker: the shell works offline; API calls always go to the network.
// A new name when the list or the signing changes, so an installed app drops the old shell.
// v3: client.js signs method and path (scheme v2), and the shared i18n/ui/base files are cached.
const SHELL = "ansim-app-v3";
const FILES = ["/app/", "/static/app/app.css", "/static/app/app.js", "/static/app/client.js", "/static/app/icon.svg",
  "/static/common/i18n.js", "/static/common/ui.js", "/static/common/base.css", "/app/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.pathname.startsWith("/api/")) return;
  // Network first so an update is seen at once; the cache answers only when offline.
  event.respondWith(fetch(event.request).catch(() => caches.match(event.request)));
});
