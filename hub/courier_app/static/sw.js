// Service worker: the app shell is cached at install and served cache-first, so the app opens with no
// signal; the hub API (/v1/) always goes to the network (tasks and proofs live in IndexedDB, not here).
// Bump CACHE whenever a file here changes, so phones drop the old shell.
const CACHE = 'motcua-courier-2';
const SHELL = ['./', 'index.html', 'app.js', 'crypto.js', 'sync.js', 'app.css', 'manifest.webmanifest', 'icon.svg',
  'vendor/idb-keyval.js', 'vendor/signature_pad.js', 'vendor/barcode-detector.js', 'vendor/zxing_reader.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.pathname.startsWith('/v1/')) return;
  event.respondWith(caches.match(event.request, { ignoreSearch: true })
    .then((hit) => hit || fetch(event.request)));
});
