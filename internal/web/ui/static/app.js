// Mergedesk agent UI: the User options menu and the merge dialog. Everything else
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

    document.querySelectorAll("[data-open-dialog]").forEach(function (el) {
      el.addEventListener("click", function () {
        var d = document.getElementById(el.getAttribute("data-open-dialog"));
        closeMenu(false);
        if (d && !d.open) d.showModal();
      });
    });

    var dialog = document.getElementById("merge-dialog");
    if (!dialog) return;
    var step = document.getElementById("merge-step");
    var initial = step.innerHTML;

    // Closing the dialog, at any step and by any means (Esc, the close button,
    // Cancel), throws away what was typed and chosen: nothing was changed yet.
    dialog.addEventListener("close", function () {
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
