// fraudhawk console: small helpers shared by the pages. Every page works without this file; it adds
// live updates (jobs, training), and fetches that carry the session's CSRF token.
"use strict";
(function () {
  const token = () => document.querySelector('meta[name="csrf-token"]').content;

  // A fetch to the console that carries the CSRF token (needed for anything but GET).
  window.consoleFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({ "x-csrf-token": token() }, options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };

  // <div data-poll="/url" data-poll-ms="1500">: its content is replaced by the URL's answer (an HTML
  // fragment) every few seconds until the answer carries data-final (the job or training ended).
  function poll(box) {
    const url = box.dataset.poll;
    const every = Number(box.dataset.pollMs || 1500);
    const tick = () => {
      fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } })
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          box.innerHTML = html;
          if (box.querySelector("[data-final]")) {
            if (box.dataset.pollReload !== undefined) window.location.reload();
            return;
          }
          window.setTimeout(tick, every);
        })
        .catch(() => window.setTimeout(tick, every * 2));
    };
    window.setTimeout(tick, every);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.querySelector(".menu-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => {
        const open = document.getElementById("main-nav").classList.toggle("open");
        toggle.setAttribute("aria-expanded", String(open));
      });
    }
    document.querySelectorAll("[data-poll]").forEach((box) => {
      if (!box.querySelector("[data-final]")) poll(box);
    });
    // Buttons with data-confirm ask before a destructive step.
    document.querySelectorAll("[data-confirm]").forEach((element) => {
      element.addEventListener("click", (event) => {
        if (!window.confirm(element.dataset.confirm)) event.preventDefault();
      });
    });
  });
})();
