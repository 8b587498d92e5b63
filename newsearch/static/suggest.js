// Completions for the search box from /api/suggest (titles and keywords; pinyin works too).
(function () {
  "use strict";
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
