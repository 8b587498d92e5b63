// The search form: completions for the search box from /api/suggest (titles and
// keywords; pinyin works too), and no empty or default fields in the URL it submits.
(function () {
  "use strict";
  var form = document.querySelector("form.search");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && field.name !== "q" && (field.value === "" || (field.name === "sort" && field.value === "relevance"))) {
          field.disabled = true;  // left out of the query string
        }
      });
    });
    // Coming back with the back button, the page may be restored as it was left.
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) { field.disabled = false; });
    });
  }
  // Unticking an active filter submits at once; the button is for pages without scripts.
  var filters = document.querySelector("form.active-filters");
  if (filters) {
    filters.classList.add("live");
    filters.addEventListener("change", function () {
      if (filters.requestSubmit) filters.requestSubmit(); else filters.submit();
    });
  }
  var box = document.querySelector('form.search input[name="q"]');
  var list = document.getElementById("suggestions");
  if (!box || !list || !window.fetch) return;
  var timer = null, asked = "";
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var prefix = box.value.trim();
      if (!prefix || prefix === asked) return;
      asked = prefix;
      fetch("/api/suggest?limit=8&q=" + encodeURIComponent(prefix))
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (data) {
          if (box.value.trim() !== prefix) return;
          list.replaceChildren.apply(list, data.suggestions.map(function (s) {
            var option = document.createElement("option");
            option.value = s.text;  // textContent-safe: never parsed as HTML
            return option;
          }));
        })
        .catch(function () {});
    }, 150);
  });
})();
