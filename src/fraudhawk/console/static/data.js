// fraudhawk console, data pages: copy an s3:// URI to the clipboard.
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      button.addEventListener("click", () => {
        const text = button.dataset.copy;
        const done = () => {
          button.textContent = "Copied";
          window.setTimeout(() => (button.textContent = "Copy"), 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, () => {});
        } else {
          // without a secure context: select the URI beside the button for the user to copy
          const code = button.parentElement.querySelector("code");
          const range = document.createRange();
          range.selectNodeContents(code);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          try { document.execCommand("copy"); done(); } catch (e) { /* selected: the user copies */ }
        }
      });
    });
  });
})();

// The mapping form: the preview of the converted rows follows the choices as they change.
(function () {
  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("mapping");
    const target = document.getElementById("transformed");
    if (!form || !target) return;
    let timer = null;
    let asked = 0;
    const refresh = () => {
      const body = new URLSearchParams(new FormData(form));
      body.set("action", "preview");
      const mine = ++asked;
      consoleFetch(form.getAttribute("action"), { // not form.action: the buttons named "action" shadow it
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
        body: body.toString(),
      })
        .then((response) => response.text())
        .then((html) => {
          if (mine !== asked) return; // a later change already asked again
          const answer = new DOMParser().parseFromString(html, "text/html");
          const fresh = answer.getElementById("transformed");
          const problems = Array.from(answer.querySelectorAll(".field-error"));
          if (problems.length) {
            target.replaceChildren();
            const heading = document.createElement("h2");
            heading.textContent = "3. What will be stored";
            const list = document.createElement("ul");
            list.className = "error-summary";
            problems.forEach((problem) => {
              const item = document.createElement("li");
              const label = answer.querySelector(`label[for="${problem.id.replace(/^e-/, "f-")}"]`);
              item.textContent = (label ? label.textContent.replace("*", "").trim() + ": " : "") + problem.textContent;
              list.appendChild(item);
            });
            target.append(heading, list);
          } else if (fresh) {
            target.replaceChildren(...Array.from(fresh.childNodes).map((node) => document.importNode(node, true)));
          }
        })
        .catch(() => {});
    };
    form.addEventListener("change", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    });
    form.addEventListener("input", (event) => {
      if (event.target.type !== "text") return;
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 600);
    });
  });
})();
