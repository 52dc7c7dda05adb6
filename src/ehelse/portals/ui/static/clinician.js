// Keyboard shortcuts of the clinician workspace (/helsepersonell/hurtigtaster lists them).
// Always Alt+Shift+letter, never a single key (WCAG 2.1.4 Character Key Shortcuts):
// an element with data-shortcut="<letter>" is focused (a text field) or clicked (a link).
// Alt+Shift+H goes to the day page, Alt+Shift+S to the patient search from anywhere.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return;
    var letter = (event.code || "").replace("Key", "").toLowerCase();
    if (letter.length !== 1) return;
    var target = document.querySelector('[data-shortcut="' + letter + '"]');
    if (target) {
      event.preventDefault();
      if (target.tagName === "INPUT" || target.tagName === "TEXTAREA") target.focus(); else target.click();
      return;
    }
    if (letter === "h" || letter === "s") {
      event.preventDefault();
      window.location.href = "/helsepersonell/" + (letter === "s" ? "pasienter" : "");
    }
  });
})();
