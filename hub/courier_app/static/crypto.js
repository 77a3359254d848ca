// Crypto for the courier phone: canonical JSON, ECDSA P-256 request/document signatures,
// motcua.enc-p256/1 evidence encryption (docs/protocol.md 10b), photo downscaling. WebCrypto only.
const enc = new TextEncoder();

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
export function b64(bytes) {
  let text = '';
  const view = new Uint8Array(bytes);
  for (let i = 0; i < view.length; i += 0x8000) text += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(text);
}
export const b64url = (bytes) => b64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
export function b64urlDecode(text) {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
export const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
export const sha256 = async (data) => new Uint8Array(await crypto.subtle.digest('SHA-256', data));

// RFC 8785-style, as sync_protocol.canonical: keys sorted by UTF-16 code units (JS's own order), integers only.
export function canonical(value) {
  if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']';
  if (value !== null && typeof value === 'object') {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonical(value[k])).join(',') + '}';
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error('canonical JSON: integers only');
  return JSON.stringify(value);
}

// The device key never leaves WebCrypto (non-extractable); IndexedDB stores the CryptoKey object itself.
export const newDeviceKey = () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
export const publicPoint = async (keys) => new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
export const keyIdOf = async (point) => 'p256:' + hex(await sha256(point)).slice(0, 32);
const sign = async (keys, bytes) =>
  new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, bytes));

export async function signDocument(identity, label, document) {
  const signature = await sign(identity.keys, enc.encode(label + '\n' + canonical(document)));
  return { document, key_id: identity.keyId, signature: b64url(signature) };
}

// The request signature of sync_protocol.request_signing, alg "ecdsa-p256-sha256".
export async function signedHeaders(identity, method, url, body, clockOffset) {
  const target = new URL(url, location.href);
  const digest = 'sha-256=:' + b64(await sha256(body)) + ':';
  const created = Math.floor(Date.now() / 1000 + clockOffset);
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
  const params = `("@method" "@path" "@query" "content-digest");created=${created};nonce="${nonce}";` +
    `keyid="${identity.keyId}";alg="ecdsa-p256-sha256"`;
  const base = [`"@method": ${method.toUpperCase()}`, `"@path": ${target.pathname}`,
    `"@query": ?${target.search.slice(1)}`, `"content-digest": ${digest}`, `"@signature-params": ${params}`].join('\n');
  const signature = await sign(identity.keys, enc.encode(base));
  return { 'Content-Digest': digest, 'Signature-Input': 'motcua=' + params, Signature: 'motcua=:' + b64(signature) + ':' };
}

const MAGIC = enc.encode('motcuaP1');
const SCHEMA = 'motcua.enc-p256/1';

// motcua.enc-p256/1: ECDH P-256 (fresh ephemeral key) -> HKDF-SHA256 -> AES-256-GCM, header as associated data.
export async function sealEvidence(plain, hubPointText) {
  const recipientRaw = b64urlDecode(hubPointText);
  const recipient = await crypto.subtle.importKey('raw', recipientRaw, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  const ephemeral = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const ephemeralRaw = new Uint8Array(await crypto.subtle.exportKey('raw', ephemeral.publicKey));
  const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: recipient }, ephemeral.privateKey, 256);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const header = concat(MAGIC, (await sha256(recipientRaw)).slice(0, 16), ephemeralRaw, salt);
  const info = concat(enc.encode(SCHEMA), ephemeralRaw, recipientRaw);
  const ikm = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey']);
  const key = await crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt, info }, ikm,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
  const body = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12), additionalData: header }, key, plain);
  return concat(header, new Uint8Array(body));
}
export const ENC_SCHEMA = SCHEMA;

// Phone photos are never refused for size: scaled to <= 1600 px and re-encoded until <= 300 KB.
export async function downscale(file, maxSide = 1600, maxBytes = 300 * 1024) {
  const bitmap = await createImageBitmap(file);
  let scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  for (let round = 0; round < 8; round++) {
    const canvas = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * scale)),
      Math.max(1, Math.round(bitmap.height * scale)));
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.8, 0.6, 0.45]) {
      const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
      if (blob.size <= maxBytes) return new Uint8Array(await blob.arrayBuffer());
    }
    scale *= 0.7;
  }
  throw new Error('photo could not be reduced');
}
