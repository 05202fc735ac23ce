// The playground's only script: re-run the query as you type (debounced), replacing the
// results with the server-rendered (escaped) fragment. Without JavaScript the form works.
(function () {
  "use strict";
  var form = document.getElementById("playground");
  var input = document.getElementById("q");
  var since = document.getElementById("since");
  var results = document.getElementById("results");
  if (!form || !input || !since || !results) return;
  var timer = null;
  var inflight = null;

  function run() {
    var params = new URLSearchParams({ q: input.value, since: since.value });
    if (inflight) inflight.abort();
    inflight = new AbortController();
    results.classList.add("busy");
    fetch("/playground/results?" + params.toString(), {
      credentials: "same-origin",
      signal: inflight.signal,
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/login") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        results.innerHTML = html;
        results.classList.remove("busy");
        history.replaceState(null, "", "/playground?" + params.toString());
      })
      .catch(function (error) {
        if (error.name !== "AbortError") results.classList.remove("busy");
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(run, 300);
  }

  input.addEventListener("input", later);
  since.addEventListener("change", run);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    run();
  });
})();
