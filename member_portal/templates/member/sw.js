// The member pages' service worker (scope /member/). It keeps the card page and its scripts and
// styles, so that the offline card code shows in airplane mode after one visit online. It never
// keeps the offline key (the page holds it in the browser's storage) nor any JSON endpoint.
"use strict";

const VERSION = {{ version | tojson }};
const CACHE = "member-card-" + VERSION;
const CARD_PAGE = {{ card_page | tojson }};
const HOME = {{ home | tojson }};
const SHELL = {{ shell | tojson }};
const STATIC_PREFIXES = {{ static_prefixes | tojson }};
// On a weak counter signal the kept page shows after this long; the network copy replaces it
// in the cache when it arrives.
const NETWORK_WAIT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL);
      await keepCardPage(cache, await fetch(CARD_PAGE, { credentials: "same-origin" }));
      await self.skipWaiting();
    })()
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("member-card-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })()
  );
});

// Only the card page itself as the signed-in member saw it: never a sign-in page or an error.
async function keepCardPage(cache, response) {
  if (response.ok && !response.redirected && response.type === "basic") {
    await cache.put(CARD_PAGE, response.clone());
  }
  return response;
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The card page: the network's copy when it comes quickly, else the kept one.
async function cardPage(event) {
  const cache = await caches.open(CACHE);
  const network = fetch(event.request).then((response) => keepCardPage(cache, response));
  event.waitUntil(network.catch(() => null));
  const kept = await cache.match(CARD_PAGE);
  if (!kept) return network;
  const timeout = delay(NETWORK_WAIT_MS).then(() => kept);
  try {
    const response = await Promise.race([network, timeout]);
    // A server error at the counter: the kept page still shows the code.
    return response.status >= 500 ? kept : response;
  } catch (error) {
    return kept;
  }
}

// Another member page while offline: the card page (the installed app starts at /member/).
async function memberPage(event) {
  try {
    return await fetch(event.request);
  } catch (error) {
    const kept = await caches.match(CARD_PAGE);
    if (kept) return Response.redirect(CARD_PAGE, 303);
    throw error;
  }
}

// Scripts, styles, icons: the kept copy at once, refreshed in the background.
async function staticFile(event) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(event.request);
  const network = fetch(event.request).then(async (response) => {
    if (response.ok) await cache.put(event.request, response.clone());
    return response;
  });
  if (!kept) return network;
  event.waitUntil(network.catch(() => null));
  return kept;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname === CARD_PAGE && request.mode === "navigate") {
    event.respondWith(cardPage(event));
  } else if (request.mode === "navigate" && url.pathname.startsWith(HOME)) {
    event.respondWith(memberPage(event));
  } else if (STATIC_PREFIXES.some((prefix) => url.pathname.startsWith(prefix))) {
    event.respondWith(staticFile(event));
  }
  // Everything else (the JSON code endpoints above all) goes to the network, never kept.
});
