// Signature pad (pointer events, works with finger, pen or mouse) and an optional GPS fix.
(function () {
  var pad = document.getElementById("sigpad"), field = document.getElementById("signature");
  if (pad) {
    var ctx = pad.getContext("2d"), drawing = false, inked = false;
    ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.strokeStyle = "#000";
    function pos(e) { var r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; }
    pad.addEventListener("pointerdown", function (e) { drawing = true; pad.setPointerCapture(e.pointerId); var p = pos(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]); });
    pad.addEventListener("pointermove", function (e) { if (!drawing) return; var p = pos(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); inked = true; });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (n) { pad.addEventListener(n, function () { drawing = false; }); });
    document.getElementById("sig-clear").addEventListener("click", function () { ctx.clearRect(0, 0, pad.width, pad.height); inked = false; });
    pad.closest("form").addEventListener("submit", function () { field.value = inked ? pad.toDataURL("image/png") : ""; });
  }
  var gps = document.getElementById("gps-btn");
  if (gps) gps.addEventListener("click", function () {
    var state = document.getElementById("gps-state");
    if (!navigator.geolocation) { state.textContent = "GPS?"; return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      document.getElementById("lat").value = p.coords.latitude; document.getElementById("lon").value = p.coords.longitude;
      document.getElementById("accuracy").value = Math.round(p.coords.accuracy);
      state.textContent = p.coords.latitude.toFixed(5) + ", " + p.coords.longitude.toFixed(5);
    }, function (err) { state.textContent = err.message; }, {timeout: 10000});
  });
})();
