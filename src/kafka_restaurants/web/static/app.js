// Small progressive enhancements; every page works without this file.
// No inline scripts anywhere: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // "Place order" cannot be pressed twice: disable it once the browser accepts the form.
  // (The server also dedupes on the form's one-time checkout token.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) return;
    if (form.dataset.submitted === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "true";
    form.setAttribute("aria-busy", "true");
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      // Disable after this tick so the submission itself is not cancelled.
      window.setTimeout(function () {
        button.disabled = true;
        if (button.dataset.busyLabel) {
          button.dataset.label = button.dataset.label || button.textContent;
          button.textContent = button.dataset.busyLabel;
        }
      }, 0);
    });
  });

  function makeUsableAgain(form) {
    delete form.dataset.submitted;
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = false;
      if (button.dataset.label) button.textContent = button.dataset.label;
    });
  }

  // Coming back with the Back button restores a frozen page: make its form usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submit-once]").forEach(makeUsableAgain);
  });

  // A form posted by htmx that is still on the page after the answer ("we're busy, try again")
  // can be sent again; it keeps its one-time token, so the retry places at most one order.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.isConnected && form.hasAttribute("data-submit-once")) {
      makeUsableAgain(form);
    }
  });

  // Delivery address: shown (by CSS) and required only when delivery is chosen.
  function syncDeliveryAddress() {
    var delivery = document.getElementById("mode-delivery");
    var address = document.getElementById("delivery_address");
    if (!delivery || !address) return;
    address.required = delivery.checked;
    address.disabled = !delivery.checked;
  }
  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLInputElement && event.target.name === "mode") {
      syncDeliveryAddress();
    }
  });
  document.addEventListener("DOMContentLoaded", syncDeliveryAddress);
  document.addEventListener("htmx:afterSwap", syncDeliveryAddress);
})();
