// Mergedesk agent UI: the User options menu, the merge dialog and htmx errors. Everything else
// is plain HTML forms and links, enhanced by htmx attributes.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var optionsButton = document.getElementById("user-options");
    var menu = document.getElementById("user-options-menu");

    function closeMenu(focusButton) {
      if (!menu || menu.hidden) return;
      menu.hidden = true;
      optionsButton.setAttribute("aria-expanded", "false");
      if (focusButton) optionsButton.focus();
    }

    if (optionsButton && menu) {
      optionsButton.addEventListener("click", function () {
        var opening = menu.hidden;
        menu.hidden = !opening;
        optionsButton.setAttribute("aria-expanded", String(opening));
        if (opening) {
          var first = menu.querySelector("[role=menuitem]");
          if (first) first.focus();
        }
      });
      menu.addEventListener("keydown", function (e) {
        if (e.key === "Escape") closeMenu(true);
      });
      document.addEventListener("click", function (e) {
        if (!menu.contains(e.target) && e.target !== optionsButton) closeMenu(false);
      });
    }

    // Delegated, so buttons that htmx swaps in (the duplicates panel, a group
    // on the Duplicates page) open dialogs too. data-dialog-title names what
    // the dialog is about for that button until the dialog closes.
    document.addEventListener("click", function (e) {
      var el = e.target.closest("[data-open-dialog]");
      if (!el) return;
      var d = document.getElementById(el.getAttribute("data-open-dialog"));
      closeMenu(false);
      if (!d || d.open) return;
      var title = d.querySelector("h2");
      var label = el.getAttribute("data-dialog-title");
      if (title && label) {
        if (!title.hasAttribute("data-title")) title.setAttribute("data-title", title.textContent);
        title.textContent = label;
      }
      d.showModal();
    });

    // In a region marked data-show-errors (the duplicates panel and groups),
    // a failed htmx request never leaves the agent guessing: the server's
    // error fragment (or, without an answer, a sentence of our own) takes the
    // place of what was being loaded. Elsewhere htmx's default stands.
    function showsErrors(t) {
      return t && t.isConnected && t.closest("[data-show-errors]");
    }
    document.body.addEventListener("htmx:beforeSwap", function (e) {
      if (e.detail.xhr.status >= 400 && e.detail.xhr.getResponseHeader("HX-Redirect") === null && showsErrors(e.detail.target)) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
      }
    });
    document.body.addEventListener("htmx:sendError", function (e) {
      var t = e.detail.target;
      if (!showsErrors(t)) return;
      var p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = "The server did not answer. Check your connection and try again.";
      t.replaceChildren(p);
    });
    document.body.addEventListener("htmx:afterSettle", function (e) {
      if (e.target.id === "duplicates") e.target.removeAttribute("aria-busy");
    });

    var dialog = document.getElementById("merge-dialog");
    if (!dialog) return;
    var step = document.getElementById("merge-step");
    var initial = step.innerHTML;

    // Closing the dialog, at any step and by any means (Esc, the close button,
    // Cancel), throws away what was typed and chosen: nothing was changed yet.
    dialog.addEventListener("close", function () {
      var title = dialog.querySelector("h2[data-title]");
      if (title) title.textContent = title.getAttribute("data-title");
      step.innerHTML = initial;
      if (window.htmx) window.htmx.process(step);
    });
    dialog.addEventListener("click", function (e) {
      if (e.target.closest("[data-close-dialog]")) dialog.close();
    });
    // The Merge button is enabled only while an eligible user is selected, or
    // one whose blockers the preview offers a way out of (data-resolvable).
    dialog.addEventListener("change", function (e) {
      if (e.target.name !== "target") return;
      var button = document.getElementById("merge-button");
      if (button) button.disabled = e.target.getAttribute("data-eligible") !== "true" &&
        e.target.getAttribute("data-resolvable") !== "true";
    });
    // Enter in the search field searches; it must not submit the form.
    dialog.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && e.target.id === "merge-q") e.preventDefault();
    });
    document.body.addEventListener("htmx:afterSwap", function (e) {
      if (e.target.id === "merge-candidates") {
        var button = document.getElementById("merge-button");
        if (button) button.disabled = true;
      }
      if (e.target.id === "merge-step") {
        var title = document.getElementById("preview-title");
        if (title) title.focus();
      }
    });
  });
})();
