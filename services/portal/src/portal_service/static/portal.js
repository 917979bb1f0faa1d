/* Mon Espace: the little the pages need from the browser. Every page works without it. */
(function () {
  "use strict";

  // A form is sent once: its buttons are disabled as soon as it leaves. A form that only
  // asks for a download (data-repeatable) leaves the page in place and may be sent again.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-repeatable")) { return; }
    if (form.getAttribute("data-sent") === "true") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "true");
    var buttons = form.querySelectorAll("button");
    // After this tick, so that the clicked button's name and value still go with the form.
    window.setTimeout(function () {
      buttons.forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-disabled", "true");
        button.classList.add("is-busy");
      });
      var status = form.querySelector("[data-sending]");
      if (status) { status.textContent = status.getAttribute("data-sending"); }
    }, 0);
  });

  // Back to a page kept in the browser's memory: its forms can be used again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
      form.querySelectorAll("button").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
        button.classList.remove("is-busy");
      });
    });
  });

  // After a refused form, the list of problems takes the focus (screen readers read it).
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  // Waiting pages: look for a change every few seconds, and show it when it comes: the whole
  // page again, or only the watched part when it names its own address (data-fragment), so
  // that the rest of the page stays as the person left it.
  var watched = document.querySelector("[data-poll]");
  if (watched && window.fetch) {
    var url = watched.getAttribute("data-poll");
    var fragment = watched.getAttribute("data-fragment");
    var version = watched.getAttribute("data-version");
    var tries = 0;
    var busy = false;
    var timer = window.setInterval(function () {
      tries += 1;
      if (tries > 200) { window.clearInterval(timer); return; }
      if (busy) { return; }
      busy = true;
      window.fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state || String(state.version) === version) { return null; }
          if (!fragment) {
            window.clearInterval(timer);
            window.location.reload();
            return null;
          }
          return window.fetch(fragment, { credentials: "same-origin" })
            .then(function (response) { return response.ok ? response.text() : null; })
            .then(function (html) {
              if (html === null) { return; }
              version = String(state.version);
              watched.innerHTML = html;
              if (watched.querySelector("[data-final]")) { window.clearInterval(timer); }
            });
        })
        .catch(function () { /* try again at the next tick */ })
        .then(function () { busy = false; });
    }, 3000);
  }
})();
