// wabapool portal behaviour: the number picker's live counter, the
// deactivate confirmation dialog, dismissible flashes, the CSRF header for
// htmx, and double-submit protection. Everything also works without it.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // Number picker: "N of M selected"; unchecked boxes disable at M.
  function updatePicker(picker) {
    var counter = picker.querySelector("[data-selection-counter]");
    var boxes = picker.querySelectorAll('input[type="checkbox"][name="phone_number_ids"]');
    var max = counter ? parseInt(counter.getAttribute("data-max"), 10) || 10 : 10;
    var checked = 0;
    boxes.forEach(function (box) {
      if (box.checked) {
        checked += 1;
      }
    });
    // A pool's numbers come from one WABA: once one is ticked, the other
    // WABAs' numbers wait, each group saying why.
    var groups = Array.prototype.slice.call(picker.querySelectorAll("fieldset.number-group"));
    var chosen = groups.filter(function (group) {
      return group.querySelector('input[name="phone_number_ids"]:checked');
    })[0];
    groups.forEach(function (group) {
      var waiting = Boolean(chosen) && group !== chosen;
      var note = group.querySelector("[data-waba-note]");
      if (note) {
        var legend = chosen ? chosen.querySelector("legend").textContent.trim() : "";
        note.textContent = waiting ? "A pool's numbers come from one WABA: clear the ticks in " + legend + " to choose here." : "";
        note.hidden = !waiting;
      }
      group.querySelectorAll('input[name="phone_number_ids"]').forEach(function (box) {
        var off = !box.checked && (checked >= max || waiting);
        box.disabled = off;
        var row = box.closest(".number-choice");
        if (row) {
          row.classList.toggle("is-disabled", off);
        }
      });
    });
    if (counter) {
      counter.textContent = checked + " of " + max + " selected";
      counter.classList.toggle("at-limit", checked >= max);
    }
  }

  function updateAllPickers(root) {
    (root || document).querySelectorAll("[data-number-picker]").forEach(updatePicker);
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches('input[name="phone_number_ids"]')) {
      var picker = target.closest("[data-number-picker]");
      if (picker) {
        updatePicker(picker);
      }
    }
    // A select htmx drives (hx-get) is left to htmx; any other submits its form.
    if (target.matches && target.matches("select[data-autosubmit]") && !(window.htmx && target.hasAttribute("hx-get")) && target.form) {
      target.form.submit();
    }
  });

  // Copy buttons: the text of the element named by data-copy goes to the
  // clipboard, or is selected for Ctrl+C where the clipboard is not offered.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var told = button.parentNode.querySelector("[data-copied]");
    var tell = function (words) {
      if (told) {
        told.textContent = words;
        told.hidden = false;
      }
    };
    var select = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      tell("Selected: press Ctrl+C to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () { tell("Copied."); }, select);
    } else {
      select();
    }
  });

  // Deactivate confirmation: the switch's GET form opens the dialog instead.
  var opener = null;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form[data-confirm-deactivate]")) {
      var dialog = document.getElementById("confirm-deactivate");
      if (!dialog || typeof dialog.showModal !== "function") {
        return;
      }
      event.preventDefault();
      var confirmForm = dialog.querySelector("form[data-confirm-form]");
      // The switch's form asks for the confirmation page; the dialog posts
      // to the same address.
      confirmForm.setAttribute("action", form.getAttribute("action"));
      var subject = dialog.querySelector("[data-confirm-subject]");
      if (subject) {
        subject.textContent = form.getAttribute("data-pool-name") || "";
      }
      opener = event.submitter || form.querySelector("button");
      dialog.showModal();
      var no = dialog.querySelector("[data-dialog-cancel]");
      if (no) {
        no.focus();
      }
      return;
    }
    // A submitted POST form is not submitted twice: its buttons disable
    // once the browser has taken the clicked button's value.
    if ((form.getAttribute("method") || "").toLowerCase() === "post" && !form.hasAttribute("hx-post")) {
      if (form.dataset.submitted === "yes") {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "yes";
      window.setTimeout(function () {
        form.querySelectorAll('button[type="submit"], button:not([type])').forEach(function (button) {
          button.disabled = true;
        });
      }, 0);
    }
  });

  // A page shown again from the back-forward cache gets its buttons back.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll("button").forEach(function (button) {
        button.disabled = false;
      });
    });
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    var cancel = target.closest && target.closest("[data-dialog-cancel]");
    if (cancel) {
      var dialog = cancel.closest("dialog");
      if (dialog) {
        dialog.close();
      }
      return;
    }
    var dismiss = target.closest && target.closest(".flash-dismiss");
    if (dismiss) {
      var flash = dismiss.closest(".flash");
      if (flash) {
        flash.remove();
      }
    }
  });

  // Tab and Shift+Tab stay inside an open modal dialog: showModal() alone
  // lets focus leave the page for the browser's own controls.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") {
      return;
    }
    var dialog = document.querySelector("dialog[open]");
    if (!dialog) {
      return;
    }
    var focusable = Array.prototype.filter.call(
      dialog.querySelectorAll(
        'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])'
      ),
      function (element) {
        return element.getClientRects().length > 0;
      }
    );
    if (focusable.length === 0) {
      event.preventDefault();
      return;
    }
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    var active = document.activeElement;
    if (event.shiftKey && (active === first || !dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });

  document.addEventListener(
    "close",
    function (event) {
      if (event.target.id === "confirm-deactivate" && opener) {
        opener.focus();
        opener = null;
      }
    },
    true
  );

  document.addEventListener("htmx:load", function (event) {
    updateAllPickers(event.target);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    updateAllPickers(event.target);
    var summary = event.target.querySelector && event.target.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      updateAllPickers();
    });
  } else {
    updateAllPickers();
  }
})();
