// The subscription picker: a filter box that narrows the grouped list of deadlines as one
// types. Progressive enhancement: without this script the full grouped list works as is.
(function () {
  "use strict";

  function fold(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function visible(element) {
    return element.querySelector("[data-picker-item]:not([hidden])") !== null;
  }

  function enhance(picker) {
    var box = picker.querySelector("[data-picker-filter]");
    var input = box.querySelector("input");
    var count = picker.querySelector("[data-picker-count]");
    var none = picker.querySelector("[data-picker-none]");
    var items = Array.prototype.slice.call(picker.querySelectorAll("[data-picker-item]"));
    var groups = Array.prototype.slice.call(picker.querySelectorAll(".picker-group"));
    var regulations = Array.prototype.slice.call(picker.querySelectorAll(".picker-regulation"));
    var wasOpen = regulations.map(function (details) { return details.open; });
    items.forEach(function (item) { item.dataset.folded = fold(item.dataset.search || ""); });

    function apply() {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (item) {
        var match = words.every(function (word) { return item.dataset.folded.indexOf(word) !== -1; });
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      groups.forEach(function (group) { group.hidden = !visible(group); });
      regulations.forEach(function (details, i) {
        details.hidden = !visible(details);
        details.open = words.length ? true : wasOpen[i];
      });
      none.hidden = shown !== 0;
      count.textContent = words.length
        ? shown + " of " + items.length + " deadline" + (items.length === 1 ? "" : "s") + " match."
        : "";
    }

    input.addEventListener("input", apply);
    // Enter in the filter box filters; it does not send the form half-filled.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); apply(); }
    });
    box.hidden = false;
  }

  document.querySelectorAll("[data-picker]").forEach(enhance);
})();
