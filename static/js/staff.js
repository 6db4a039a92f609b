// Staff console: "select all" and a live count for bulk actions. Everything works without it.
(function () {
  "use strict";
  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][name=ids][form=bulk]'));
  }
  function update() {
    var all = boxes();
    var chosen = all.filter(function (b) { return b.checked; }).length;
    var label = document.querySelector("[data-selected-count]");
    if (label) { label.textContent = chosen + " selected"; }
    var master = document.querySelector("[data-select-all]");
    if (master) {
      master.checked = chosen > 0 && chosen === all.length;
      master.indeterminate = chosen > 0 && chosen < all.length;
    }
    Array.prototype.forEach.call(document.querySelectorAll("#bulk button[name=action]"), function (b) {
      b.disabled = chosen === 0;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var master = document.querySelector("[data-select-all]");
    if (master) {
      master.hidden = false;
      master.addEventListener("change", function () {
        boxes().forEach(function (b) {
          b.checked = master.checked;
          b.closest("tr").classList.toggle("selected", master.checked);
        });
        update();
      });
    }
    boxes().forEach(function (b) {
      b.addEventListener("change", function () {
        b.closest("tr").classList.toggle("selected", b.checked);
        update();
      });
    });
    if (boxes().length) { update(); }
  });
})();
