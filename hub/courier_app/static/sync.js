// The phone's store (IndexedDB via idb-keyval) and its conversation with the hub: signed requests,
// tus uploads of encrypted evidence, proofs posted once every evidence object is held.
import { get, set, setMany, keys as storedKeys, getMany } from './vendor/idb-keyval.js';
import { signedHeaders, b64 } from './crypto.js';

const TUS = { 'Tus-Resumable': '1.0.0' };
const CHUNK = 256 * 1024;
let clockOffset = 0;

export const loadIdentity = () => get('identity');
export const saveIdentity = (identity) => set('identity', identity);
export const loadTasks = async () => (await get('tasks')) || [];

export class HubRefusal extends Error {
  constructor(status, answer) {
    super(answer.reason || `HTTP ${status}`);
    Object.assign(this, { status, code: answer.error || '', reasonVi: answer.reason_vi || answer.reason || '' });
  }
}

async function refusal(response) {
  let answer = {};
  try { answer = await response.json(); } catch (e) { /* HEAD answers have no body */ }
  return new HubRefusal(response.status, answer);
}

export async function signedFetch(identity, method, url, body = new Uint8Array(0), headers = {}) {
  const signed = await signedHeaders(identity, method, url, body, clockOffset);
  const init = { method, headers: { ...headers, ...signed }, cache: 'no-store' };
  if (body.length && method !== 'GET' && method !== 'HEAD') init.body = body;
  const response = await fetch(url, init);
  const date = response.headers.get('Date');
  if (date) clockOffset = (Date.parse(date) - Date.now()) / 1000;  // the hub's clock, as desks learn it
  return response;
}

export async function enrol(token, publicKey, deviceName) {
  const response = await fetch('/v1/courier/enrol', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token, public_key: publicKey, device_name: deviceName }),
  });
  if (!response.ok) throw await refusal(response);
  return response.json();
}

export async function downloadTasks(identity) {
  const response = await signedFetch(identity, 'GET', '/v1/courier/tasks');
  if (!response.ok) throw await refusal(response);
  const answer = await response.json();
  await set('tasks', answer.tasks);
  return answer.tasks;
}

// A proof and its encrypted evidence are stored in one IndexedDB transaction.
export async function queueProof(envelope, evidence) {
  const entries = evidence.map((e) => [`ev:${e.sha256}`, { bytes: e.bytes, uploadUrl: null }]);
  entries.push([`proof:${envelope.document.record_id}`, { envelope, state: 'pending', error: '' }]);
  await setMany(entries);
}

export async function allProofs() {
  const names = (await storedKeys()).filter((k) => String(k).startsWith('proof:'));
  return (await getMany(names)).sort((a, b) => a.envelope.document.at.localeCompare(b.envelope.document.at));
}

async function upload(identity, sha256, item) {
  const held = await signedFetch(identity, 'HEAD', `/v1/objects/${sha256}`);
  if (held.status === 200) return;
  let url = item.uploadUrl;
  let offset = 0;
  if (url) {
    const head = await signedFetch(identity, 'HEAD', url, undefined, TUS);
    if (head.ok) offset = Number(head.headers.get('Upload-Offset')); else url = null;
  }
  if (!url) {
    const created = await signedFetch(identity, 'POST', '/v1/uploads', undefined, {
      ...TUS, 'Upload-Length': String(item.bytes.length),
      'Upload-Metadata': `sha256 ${btoa(sha256)},filename ${btoa('evidence.enc')}`,
    });
    if (created.status !== 201) throw await refusal(created);
    url = created.headers.get('Location');
    await set(`ev:${sha256}`, { ...item, uploadUrl: url });  // resumable after a lost link
  }
  while (offset < item.bytes.length) {
    const patched = await signedFetch(identity, 'PATCH', url, item.bytes.subarray(offset, offset + CHUNK), {
      ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset),
    });
    if (patched.status !== 204) throw await refusal(patched);
    offset = Number(patched.headers.get('Upload-Offset'));
  }
}

// Send every pending proof; network errors leave it pending, a hub refusal marks it (kept, exportable).
export async function sendPending(identity, onProgress = () => {}) {
  const report = { sent: 0, bytes: 0, refused: 0 };
  for (const proof of await allProofs()) {
    if (proof.state !== 'pending') continue;
    const record = proof.envelope.document.record_id;
    try {
      for (const item of proof.envelope.document.evidence || []) {
        const stored = await get(`ev:${item.sha256}`);
        await upload(identity, item.sha256, stored);
        report.bytes += stored.bytes.length;
      }
      const body = new TextEncoder().encode(JSON.stringify(proof.envelope));
      const answer = await signedFetch(identity, 'POST', '/v1/delivery-proofs', body, { 'Content-Type': 'application/json' });
      if (!answer.ok) throw await refusal(answer);
      report.bytes += body.length;
      await set(`proof:${record}`, { ...proof, state: 'sent', error: '' });
      report.sent += 1;
    } catch (error) {
      if (!(error instanceof HubRefusal)) throw error;  // no link: try again later
      if (error.status === 401) throw error;  // revoked or unknown phone: stop, keep everything
      await set(`proof:${record}`, { ...proof, state: 'refused', error: `${error.reasonVi} / ${error.message}` });
      report.refused += 1;
    }
    onProgress(report);
  }
  return report;
}

// Everything not yet accepted by the hub, with its encrypted evidence, for the desk to import by hand.
export async function exportUnsent() {
  const proofs = (await allProofs()).filter((p) => p.state !== 'sent');
  const out = [];
  for (const proof of proofs) {
    const evidence = [];
    for (const item of proof.envelope.document.evidence || []) {
      evidence.push({ sha256: item.sha256, data_base64: b64((await get(`ev:${item.sha256}`)).bytes) });
    }
    out.push({ envelope: proof.envelope, state: proof.state, error: proof.error, evidence });
  }
  return { schema: 'motcua.courier-export/1', device_id: (await loadIdentity())?.deviceId, proofs: out };
}
