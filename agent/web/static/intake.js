// Show the document checklist of the chosen procedure; offer postal return only where allowed.
(function () {
  var select = document.getElementById("procedure_code");
  if (!select) return;
  function update() {
    document.querySelectorAll(".doclist").forEach(function (el) {
      var on = el.dataset.procedure === select.value;
      el.hidden = !on;
      el.querySelectorAll("input").forEach(function (i) { i.disabled = !on; if (!on) i.checked = false; });
    });
    var opt = select.options[select.selectedIndex];
    var post = document.querySelector('input[name=return_method][value=post]');
    if (post && opt) { post.disabled = opt.dataset.postal === "0"; if (post.disabled && post.checked) document.querySelector('input[name=return_method][value=counter]').checked = true; }
  }
  select.addEventListener("change", update);
  update();
})();

// Chip ID card: an image of the front, or the text a keyboard-wedge QR reader types (then Enter),
// goes to /intake/card; the "Quét thẻ CCCD" button scans it on the flatbed (/intake/card/scan); a card
// the hot folder read in the last minutes is offered as "thẻ vừa quét" (/intake/card/latest, taken once
// with /intake/card/take). Every answer fills the applicant's fields and puts the cursor on the phone.
(function () {
  var form = document.getElementById("intake-form");
  if (!form) return;
  var status = document.getElementById("card-status");
  var csrf = form.querySelector("input[name=csrf]").value;
  function bad(j) { status.textContent = j.error + " " + (j.hint || ""); status.className = "bad"; }
  function fill(j) {
    Object.keys(j).forEach(function (k) { var el = document.getElementById(k); if (el) el.value = j[k]; });
    document.getElementById("birth_year").value = (j.birth_date || "").slice(6);
    if (j.card_copy_kept) {  // the procedure wants a copy of the card: it goes with the form's scans
      var box = document.getElementById("card-copy"), label = document.createElement("label");
      var tick = document.createElement("input");
      tick.type = "checkbox"; tick.name = "keep_scan"; tick.value = j.card_copy_kept; tick.checked = true;
      label.className = "check"; label.appendChild(tick); label.appendChild(document.createTextNode(" " + box.dataset.label));
      box.appendChild(label); box.hidden = false;
    }
    status.textContent = status.dataset.ok || "✓"; status.className = "ok";
    document.getElementById("phone").focus();
  }
  function send(url, data, done) {
    data.append("csrf", csrf);
    status.textContent = "…"; status.className = "";
    fetch(url, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) { if (res[0]) fill(res[1]); else bad(res[1]); })
      .catch(function () { status.textContent = "✗"; status.className = "bad"; })
      .then(function () { if (done) done(); });
  }
  var image = document.getElementById("card_image");
  image.addEventListener("change", function () {
    if (!image.files.length) return;
    var data = new FormData(); data.append("card_image", image.files[0]); send("/intake/card", data);
    image.value = "";  // the card image is not kept
  });
  var wedge = document.getElementById("qr_text");
  wedge.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    e.preventDefault();
    var data = new FormData(); data.append("qr_text", wedge.value); send("/intake/card", data);
    wedge.value = "";
  });
  var scan = document.getElementById("scan-card");
  scan.addEventListener("click", function () {
    var label = scan.textContent, data = new FormData();
    scan.disabled = true; scan.textContent = scan.dataset.busy;
    data.append("form_key", form.querySelector("input[name=form_key]").value);
    data.append("procedure_code", document.getElementById("procedure_code").value);
    send("/intake/card/scan", data, function () { scan.disabled = false; scan.textContent = label; });
  });
  var offer = document.getElementById("card-offer"), offerText = document.getElementById("card-offer-text");
  var use = document.getElementById("use-card"), shown = null;
  function poll() {
    fetch("/intake/card/latest", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (j) {
        if (!j.id || j.id === shown) return;
        shown = j.id;
        offerText.textContent = offerText.dataset.label + " " + j.at + (j.ok ? "" : ": " + j.error);
        use.style.display = j.ok ? "" : "none"; offer.hidden = false;  // (a styled button ignores [hidden])
        if (!j.ok) bad(j);
      })
      .catch(function () {});
  }
  use.addEventListener("click", function () {
    var data = new FormData(); data.append("id", shown);
    offer.hidden = true; send("/intake/card/take", data);
  });
  poll();
  setInterval(poll, 3000);
})();

// Submit once: the button is disabled while the form (and its scans) upload, with progress shown.
(function () {
  var form = document.getElementById("intake-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var button = document.getElementById("submit-intake");
  var bar = document.getElementById("upload-progress");
  form.addEventListener("submit", function (e) {
    if (button.disabled) { e.preventDefault(); return; }
    e.preventDefault();
    button.disabled = true; button.textContent = button.dataset.busy; bar.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (p) { if (p.lengthComputable) bar.value = Math.round(100 * p.loaded / p.total); };
    xhr.onload = function () {
      if (xhr.status < 300 && xhr.responseURL && xhr.responseURL.indexOf("/intake") === -1) { location.replace(xhr.responseURL); return; }
      document.open(); document.write(xhr.responseText); document.close();
    };
    xhr.onerror = function () { button.disabled = false; bar.hidden = true; };
    xhr.send(new FormData(form));
  });
})();
