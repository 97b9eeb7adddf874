// fraudhawk console, detector pages: the rule editor's live check and its side panel of names.
// The forms work without this file (the server checks every expression on save); with it, the
// expression is checked while it is typed, by the same compiler, and the error's place is shown.
"use strict";
(function () {
  const WAIT_MS = 300; // after the last key press: one request per pause, not one per key

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // user text is only ever set as text, never as HTML
    return node;
  }

  function setUp(editor) {
    const area = editor.querySelector("[data-rule-expression]");
    const out = editor.querySelector("[data-rule-check]");
    const gutter = editor.querySelector("[data-gutter]");
    const eventType = editor.dataset.eventType;
    const models = JSON.parse(editor.dataset.models || "null");
    let timer = null;
    let sent = 0;

    const lines = () => area.value.split("\n");

    function paintGutter(errorLine) {
      gutter.textContent = "";
      lines().forEach((_, index) => {
        const number = element("span", index + 1 === errorLine ? "error-line" : "", String(index + 1));
        gutter.appendChild(number);
        gutter.appendChild(document.createTextNode("\n"));
      });
      gutter.scrollTop = area.scrollTop;
    }

    function offsetOf(line, column) {
      const all = lines();
      let offset = 0;
      for (let i = 0; i < line - 1 && i < all.length; i += 1) offset += all[i].length + 1;
      return Math.min(offset + column - 1, area.value.length);
    }

    function showProblem(answer) {
      area.classList.add("has-error");
      out.appendChild(element("p", "check-error", `Line ${answer.line}, column ${answer.column}: ${answer.problem}`));
      const text = lines()[answer.line - 1] || "";
      const snippet = element("pre", "rule-snippet");
      const prefix = `${answer.line} | `;
      const at = answer.column - 1;
      snippet.appendChild(document.createTextNode(prefix + text.slice(0, at)));
      snippet.appendChild(element("mark", "", text.slice(at, at + 1) || " "));
      snippet.appendChild(document.createTextNode(text.slice(at + 1) + "\n"));
      snippet.appendChild(element("span", "caret", " ".repeat(prefix.length + at) + "^"));
      snippet.setAttribute("aria-hidden", "true");
      out.appendChild(snippet);
      const go = element("button", "link", "Go to the error");
      go.type = "button";
      go.addEventListener("click", () => {
        const offset = offsetOf(answer.line, answer.column);
        area.focus();
        area.setSelectionRange(offset, Math.min(offset + 1, area.value.length));
      });
      out.appendChild(go);
      paintGutter(answer.line);
    }

    function show(answer) {
      out.textContent = "";
      area.classList.remove("has-error");
      if (answer.ok) {
        const reads = answer.reads.length ? `; it reads ${answer.reads.map((n) => "$" + n).join(", ")}` : "";
        out.appendChild(element("p", "check-ok", `No problems: a valid condition${reads}.`));
        if (answer.warning) out.appendChild(element("p", "check-warning", answer.warning));
        paintGutter(null);
      } else if (answer.line) {
        showProblem(answer);
      } else {
        out.appendChild(element("p", "check-error", answer.problem || "The expression could not be checked."));
      }
    }

    function check() {
      const expression = area.value;
      if (!expression.trim()) {
        out.textContent = "";
        area.classList.remove("has-error");
        paintGutter(null);
        return;
      }
      const mine = ++sent;
      const body = { eventType, expression };
      if (models !== null) body.models = models;
      out.setAttribute("aria-busy", "true");
      window
        .consoleFetch("/rules/check", {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify(body),
        })
        .then((response) => response.json())
        .then((answer) => {
          if (mine === sent) show(answer); // an older answer arriving late is dropped
        })
        .catch(() => {
          if (mine === sent) {
            out.textContent = "";
            out.appendChild(element("p", "check-warning", "Could not check the expression now; it is checked when saved."));
          }
        })
        .finally(() => out.removeAttribute("aria-busy"));
    }

    area.addEventListener("input", () => {
      paintGutter(null);
      window.clearTimeout(timer);
      timer = window.setTimeout(check, WAIT_MS);
    });
    area.addEventListener("scroll", () => {
      gutter.scrollTop = area.scrollTop;
    });

    // The side panel: a name is inserted at the cursor (or replaces the selection).
    editor.querySelectorAll("[data-insert]").forEach((button) => {
      button.addEventListener("click", () => {
        const text = button.dataset.insert;
        const start = area.selectionStart;
        const end = area.selectionEnd;
        const before = area.value.slice(0, start);
        const spaced = before && !/\s$/.test(before) ? " " + text : text;
        area.setRangeText(spaced, start, end, "end");
        area.focus();
        area.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });

    paintGutter(null);
    if (area.value.trim()) check();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-rule-editor]").forEach(setUp);
  });
})();
