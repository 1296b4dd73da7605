// Keeps the property pages a visitor opened, and their photos, available offline.
// Pages: network first (a visitor online always sees the current listing), the saved copy
// when the network fails. Photos: the saved copy first (a photo URL names one image).
// The page asks the worker to save it (and its photos) once the worker is active, so even
// the first visit, which no worker controls yet, is kept.
"use strict";
const PAGES = "homes-pages-v1";
const PHOTOS = "homes-photos-v1";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((n) => n !== PAGES && n !== PHOTOS).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()));
});

function isPage(request) {
  const url = new URL(request.url);
  return request.mode === "navigate" && url.origin === self.location.origin &&
    url.pathname.startsWith("/homes/");
}

async function pageFirstFromNetwork(request) {
  const pages = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    if (response.ok) await pages.put(new URL(request.url).pathname, response.clone());
    return response;
  } catch (offline) {
    const saved = await pages.match(new URL(request.url).pathname);
    if (saved) return saved;
    throw offline;
  }
}

async function photoFromCache(request) {
  const photos = await caches.open(PHOTOS);
  const saved = await photos.match(request.url);
  if (saved) return saved;
  const response = await fetch(request);
  if (response.ok || response.type === "opaque") await photos.put(request.url, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (isPage(request)) {
    event.respondWith(pageFirstFromNetwork(request));
  } else if (request.destination === "image") {
    event.respondWith(photoFromCache(request));
  }
});

async function save(path, photoUrls, client) {
  const pages = await caches.open(PAGES);
  if (!(await pages.match(path))) {
    const response = await fetch(path, { credentials: "same-origin" });
    if (response.ok) await pages.put(path, response);
  }
  const photos = await caches.open(PHOTOS);
  await Promise.all(photoUrls.map(async (url) => {
    if (await photos.match(url)) return;
    try {
      const response = await fetch(url, { mode: "no-cors" });
      if (response.ok || response.type === "opaque") await photos.put(url, response);
    } catch (unreachable) {
      // A photo that cannot be fetched now is saved the next time it is shown.
    }
  }));
  if (client) client.postMessage({ saved: path });
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (typeof data.save !== "string" || !data.save.startsWith("/homes/")) return;
  const photoUrls = Array.isArray(data.photos) ? data.photos.filter((u) => typeof u === "string") : [];
  event.waitUntil(save(data.save, photoUrls, event.source));
});
