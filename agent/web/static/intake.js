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
