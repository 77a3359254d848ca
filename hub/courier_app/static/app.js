// The courier's screens: pairing, task list (find by code or scanned postal item number), delivery and
// failed-attempt forms. Works offline: everything is stored first, sent when a link appears (sync.js).
import SignaturePad from './vendor/signature_pad.js';
import { b64url, hex, sha256, newDeviceKey, publicPoint, keyIdOf, signDocument, sealEvidence, downscale,
  ENC_SCHEMA } from './crypto.js';
import { loadIdentity, saveIdentity, loadTasks, enrol, downloadTasks, queueProof, allProofs, sendPending,
  exportUnsent, HubRefusal } from './sync.js';

const LABEL = 'motcua.delivery-proof/1';
const RELATIONS = ['Bản thân / Self', 'Vợ/chồng / Spouse', 'Cha/mẹ / Parent', 'Con / Child', 'Người được ủy quyền / Authorised'];
const REASONS = { not_home: 'Không có người nhận tại nhà / Nobody at home', wrong_address: 'Sai địa chỉ / Wrong address',
  refused: 'Người nhận từ chối / Refused', moved: 'Đã chuyển đi / Moved away',
  phone_unreachable: 'Không liên lạc được / Phone unreachable', other: 'Lý do khác / Other' };
const $ = (sel) => document.querySelector(sel);
const view = $('#view');
const drafts = {};  // per dossier: fields and signature strokes survive an error and "back"
let identity = null;
let pad = null;

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function banner(text, ok = false) {
  const el = $('#banner');
  el.hidden = !text; el.textContent = text || ''; el.className = ok ? 'banner ok' : 'banner';
}
const utcNow = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

async function refreshFooter() {
  const proofs = await allProofs();
  const pending = proofs.filter((p) => p.state === 'pending').length;
  const refused = proofs.filter((p) => p.state === 'refused').length;
  $('#queue').textContent = `Chờ gửi / pending: ${pending}` + (refused ? ` · bị từ chối / refused: ${refused}` : '');
  $('#queue').dataset.pending = pending;
  $('#net').textContent = navigator.onLine ? 'Trực tuyến / online' : 'Ngoại tuyến / offline';
  $('#net').className = navigator.onLine ? 'pill' : 'pill off';
  $('#export').hidden = !(identity && identity.revoked) && !refused;
}

function showPairing(token) {
  view.innerHTML = `<div class="card"><h3>Ghép điện thoại / Pair this phone</h3>
    <p class="muted">Quét mã QR trên máy của trưởng bộ phận một cửa. / Scan the QR shown at the desk.</p>
    <label for="who">Tên điện thoại / Phone name</label><input id="who" value="Điện thoại giao nhận">
    <div class="row"><button id="pair" class="primary" ${token ? '' : 'disabled'}>Ghép / Pair</button></div></div>`;
  $('#pair').onclick = async () => {
    try {
      const keys = await newDeviceKey();
      const point = await publicPoint(keys);
      const answer = await enrol(token, b64url(point), $('#who').value);
      const expected = new URLSearchParams(location.hash.slice(1)).get('kid');
      if (expected && expected !== answer.hub_key_id) throw new Error('hub key id differs from the QR');
      identity = { deviceId: answer.device_id, keyId: await keyIdOf(point), keys, site: answer.site,
        courierName: answer.courier_name, hubEvidenceKey: answer.hub_evidence_key, hubKeyId: answer.hub_key_id };
      await saveIdentity(identity);
      history.replaceState(null, '', location.pathname);  // the token is spent; keep it out of history
      banner('Đã ghép điện thoại / phone paired', true);
      await refreshTasks();
    } catch (error) { banner(`Không ghép được / pairing failed: ${error.reasonVi || ''} ${error.message}`); }
  };
}

async function refreshTasks() {
  try {
    await downloadTasks(identity);
  } catch (error) {
    if (error instanceof HubRefusal) await refused(error); else banner('Chưa tải được nhiệm vụ (không có mạng) / no link to download tasks');
  }
  await showList();
}

async function showList(query = '') {
  const tasks = await loadTasks();
  const done = new Map((await allProofs()).map((p) => [p.envelope.document.dossier_id, p.envelope.document.kind]));
  const q = query.trim().toUpperCase();
  const shown = tasks.filter((t) => !q || t.dossier_code.toUpperCase().includes(q) || t.postal_item === q);
  view.innerHTML = `<div class="row"><input id="find" placeholder="Mã hồ sơ hoặc số bưu gửi / code or postal item"
      value="${esc(query)}"><label class="button" for="scan">Quét mã vạch / Scan</label>
      <input id="scan" type="file" accept="image/*" capture="environment" hidden><button id="reload">Tải lại / Reload tasks</button></div>
    <p class="muted">${esc(identity.courierName)} · ${esc(identity.site)} · ${tasks.length} nhiệm vụ / tasks</p>` +
    shown.map((t) => `<div class="card task ${done.get(t.dossier_id) === 'delivered' || t.delivered ? 'done' : ''}"
      data-id="${t.dossier_id}"><h3>${esc(t.name)}</h3><div>${esc(t.address)}</div>
      <div class="muted">${esc(t.dossier_code)} · ☎ <a href="tel:${esc(t.phone)}">${esc(t.phone)}</a>
      ${t.postal_item ? `· <span class="tag">${esc(t.postal_item)}</span>` : ''}
      ${done.has(t.dossier_id) ? `· <b>${done.get(t.dossier_id) === 'delivered' ? 'Đã giao / delivered' : 'Chưa giao được / failed'}</b>` : ''}</div>
      </div>`).join('');
  $('#find').oninput = (e) => showList(e.target.value).then(() => { $('#find').focus(); });
  $('#reload').onclick = refreshTasks;
  $('#scan').onchange = (e) => e.target.files[0] && scan(e.target.files[0]);
  view.querySelectorAll('.task').forEach((el) => { el.onclick = () => showTask(tasks.find((t) => t.dossier_id === el.dataset.id)); });
  await refreshFooter();
}

// Postal item barcode (Code 128 on the handover list): a photo of it, read by the browser's BarcodeDetector
// where it has one (Chrome on Android), else by the vendored ZXing WebAssembly ponyfill (iPhones, desktops).
async function barcodeDetector() {
  const formats = ['code_128'];
  if ('BarcodeDetector' in window) return new window.BarcodeDetector({ formats });
  if (!window.BarcodeDetectionAPI) {
    await new Promise((resolve, reject) => document.head.append(Object.assign(document.createElement('script'),
      { src: 'vendor/barcode-detector.js', onload: resolve, onerror: reject })));
    window.BarcodeDetectionAPI.prepareZXingModule({ overrides: { locateFile: (path, prefix) =>
      (path.endsWith('.wasm') ? new URL('vendor/zxing_reader.wasm', location.href).href : prefix + path) } });
  }
  return new window.BarcodeDetectionAPI.BarcodeDetector({ formats });
}

async function scan(file) {
  try {
    const found = await (await barcodeDetector()).detect(await createImageBitmap(file));
    const item = found.map((f) => f.rawValue).find((v) => /^[A-Z]{2}\d{9}[A-Z]{2}$/.test(v));
    if (!item) { banner('Không đọc được mã vạch; hãy nhập số bưu gửi / no postal barcode found: type the number'); return; }
    banner('');
    await showList(item);
  } catch (error) { banner(`Không quét được / scan failed: ${error.message}`); }
}

function saveDraft(task) {
  const form = {};
  view.querySelectorAll('[data-field]').forEach((el) => { form[el.dataset.field] = el.value; });
  drafts[task.dossier_id] = { ...drafts[task.dossier_id], form, strokes: pad ? pad.toData() : [] };
}

function showTask(task, mode = 'delivered') {
  banner('');
  const draft = drafts[task.dossier_id] || {};
  const val = (name, fallback = '') => esc(draft.form?.[name] ?? fallback);
  view.innerHTML = `<div class="card"><h3>${esc(task.name)}</h3><div>${esc(task.address)}</div>
    <div class="muted">${esc(task.dossier_code)} · ${esc(task.hand_over)}</div></div>
    <div class="row"><button id="as-delivered" class="${mode === 'delivered' ? 'primary' : ''}">Giao được / Delivered</button>
    <button id="as-failed" class="${mode === 'failed' ? 'primary' : ''} warn">Không giao được / Failed</button></div>
    <div class="card" id="form">${mode === 'delivered' ? `
      <label for="rname">Người nhận / Receiver</label><input id="rname" data-field="rname" value="${val('rname', task.name)}">
      <label for="relation">Quan hệ / Relation</label><select id="relation" data-field="relation">${RELATIONS.map((r) =>
        `<option ${draft.form?.relation === r ? 'selected' : ''}>${r}</option>`).join('')}</select>
      <label for="last4">4 số cuối CCCD / last 4 ID digits</label>
      <input id="last4" data-field="last4" inputmode="numeric" maxlength="4" value="${val('last4')}">
      <label>Chữ ký / Signature</label><canvas class="pad" id="pad"></canvas>
      <div class="row"><button id="clear" type="button">Xoá chữ ký / Clear</button></div>
      <label for="photo">Ảnh (không bắt buộc) / Photo (optional)</label>
      <input id="photo" type="file" accept="image/*" capture="environment">` : `
      <label for="reason">Lý do / Reason</label><select id="reason" data-field="reason">${Object.entries(REASONS).map(([k, v]) =>
        `<option value="${k}" ${draft.form?.reason === k ? 'selected' : ''}>${v}</option>`).join('')}</select>
      <label for="note">Ghi chú / Note</label><textarea id="note" data-field="note">${val('note')}</textarea>
      <label for="next">Hẹn lần sau / Next attempt</label><input id="next" type="date" data-field="next" value="${val('next')}">`}
      <p id="problem" class="error"></p>
      <div class="row"><button id="save" class="primary">Lưu / Save</button><button id="back">Quay lại / Back</button></div></div>`;
  pad = null;
  if (mode === 'delivered') {
    const canvas = $('#pad');
    canvas.width = canvas.offsetWidth; canvas.height = canvas.offsetHeight;
    pad = new SignaturePad(canvas, { backgroundColor: 'rgb(255,255,255)' });
    if (draft.strokes?.length) pad.fromData(draft.strokes);
    $('#clear').onclick = () => pad.clear();
  }
  $('#as-delivered').onclick = () => { saveDraft(task); showTask(task, 'delivered'); };
  $('#as-failed').onclick = () => { saveDraft(task); showTask(task, 'failed'); };
  $('#back').onclick = () => { saveDraft(task); showList(); };
  $('#save').onclick = async () => {
    saveDraft(task);
    $('#save').disabled = true;
    try {
      await (mode === 'delivered' ? recordDelivery(task) : recordFailure(task));
      delete drafts[task.dossier_id];
      banner('Đã lưu trên máy; sẽ tự gửi khi có mạng / saved on the phone; sent when online', true);
      await showList();
      trySend();
    } catch (error) {
      $('#problem').textContent = error.message;
      $('#save').disabled = false;
    }
  };
}

async function evidenceItem(kind, mediaType, plain) {
  const sealed = await sealEvidence(plain, identity.hubEvidenceKey);
  const item = { kind, media_type: mediaType, sha256: hex(await sha256(sealed)), size: sealed.length,
    encryption: ENC_SCHEMA, plain_sha256: hex(await sha256(plain)) };
  return { item, bytes: sealed };
}

function baseDocument(task, kind) {
  return { schema: LABEL, record_id: crypto.randomUUID(), kind, dossier_id: task.dossier_id, dossier_code: task.dossier_code,
    device_id: identity.deviceId, at: utcNow(), attempt: 1, courier: identity.courierName, batch: task.batch, gps: null };
}

async function recordDelivery(task) {
  const last4 = $('#last4').value.trim();
  if (!/^\d{4}$/.test(last4)) throw new Error('Nhập đủ 4 số cuối CCCD / enter the last 4 ID digits');
  if (last4 !== task.id_last4) throw new Error('4 số cuối CCCD không khớp; kiểm tra lại giấy tờ / the last 4 digits do not match the ID on record');
  if (!$('#rname').value.trim()) throw new Error('Nhập tên người nhận / enter the receiver\'s name');
  if (pad.isEmpty()) throw new Error('Người nhận cần ký trên màn hình / the receiver must sign');
  const png = new Uint8Array(await (await fetch(pad.toDataURL('image/png'))).arrayBuffer());
  const evidence = [await evidenceItem('signature', 'image/png', png)];
  const file = $('#photo').files[0];
  if (file) evidence.push(await evidenceItem('photo', 'image/jpeg', await downscale(file)));
  const document = { ...baseDocument(task, 'delivered'),
    recipient: { name: $('#rname').value.trim(), relation: $('#relation').value, id_last_digits: last4 },
    evidence: evidence.map((e) => e.item) };
  await queueProof(await signDocument(identity, LABEL, document), evidence.map((e) => ({ sha256: e.item.sha256, bytes: e.bytes })));
}

async function recordFailure(task) {
  const document = { ...baseDocument(task, 'failed'), reason: $('#reason').value, note: $('#note').value.trim(),
    next_attempt: $('#next').value || null };
  await queueProof(await signDocument(identity, LABEL, document), []);
}

async function refused(error) {
  if (error.status === 401) {
    identity = { ...identity, revoked: true };
    await saveIdentity(identity);
    banner(`Điện thoại này bị trung tâm từ chối: ${error.reasonVi}. Biên bản chưa gửi vẫn lưu trên máy — bấm "Xuất biên bản" ` +
      `và đưa tệp cho bộ phận một cửa. / This phone was refused: ${error.message}. Unsent proofs are kept: export them.`);
  } else banner(`${error.reasonVi} / ${error.message}`);
  await refreshFooter();
}

let sending = false;
async function trySend() {
  if (!identity || sending || !navigator.onLine) return refreshFooter();
  sending = true;
  try {
    const report = await sendPending(identity);
    if (report.sent) banner(`Đã gửi ${report.sent} biên bản / ${report.sent} proofs sent`, true);
  } catch (error) {
    if (error instanceof HubRefusal) await refused(error);
  } finally { sending = false; await refreshFooter(); }
}

$('#send').onclick = trySend;
$('#export').onclick = async () => {
  const blob = new Blob([JSON.stringify(await exportUnsent())], { type: 'application/json' });
  const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: 'bien-ban-giao.json' });
  link.click();
};
window.addEventListener('online', trySend);
window.addEventListener('offline', refreshFooter);
setInterval(trySend, 30000);
if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js');

(async () => {
  identity = await loadIdentity();
  const token = new URLSearchParams(location.hash.slice(1)).get('pair');
  if (!identity) { showPairing(token); await refreshFooter(); return; }
  if (identity.revoked) await refused(new HubRefusal(401, { reason: 'revoked', reason_vi: 'đã thu hồi' }));
  await showList();
  trySend();
})();
