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

  // Live pages (an order, a kitchen): Server-Sent Events swap in each new fragment. When the
  // stream dies EventSource reconnects by itself, through the load balancer, so a lost
  // replica is replaced without a reload; Last-Event-ID tells the new one what we show.
  // Without EventSource, or when the stream cannot be opened, poll once a second instead.
  function follow(panel) {
    var target = document.getElementById(panel.dataset.liveTarget);
    if (!target) return;
    function version() {
      var marked = target.querySelector("[data-version]");
      return marked ? marked.getAttribute("data-version") : "";
    }
    function withSince(url) {
      return url + (url.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(version());
    }
    function show(html) {
      target.innerHTML = html;
      if (window.htmx) window.htmx.process(target); // the kitchen's buttons post through htmx
      showAges(target);
    }
    function poll() {
      window.fetch(withSince(panel.dataset.livePoll), { headers: { "HX-Request": "true" } })
        .then(function (response) {
          if (response.status === 204) return schedule();
          return response.text().then(function (html) {
            if (response.ok) show(html);
            if (response.status !== 286) schedule();
          });
        })
        .catch(schedule);
    }
    function schedule() {
      window.setTimeout(poll, 1000);
    }
    if (!window.EventSource || !panel.dataset.liveEvents) return schedule();
    var source = new window.EventSource(withSince(panel.dataset.liveEvents));
    var failures = 0;
    panel.dataset.liveMode = "events";
    source.addEventListener("open", function () { failures = 0; });
    source.addEventListener("update", function (event) { show(event.data); });
    source.addEventListener("done", function () { source.close(); });
    source.addEventListener("error", function () {
      failures += 1;
      // CLOSED: the browser gave up (not an event stream); many failures in a row: a proxy
      // that will not stream. Either way polling still works.
      if (source.readyState === window.EventSource.CLOSED || failures >= 5) {
        source.close();
        panel.dataset.liveMode = "polling";
        schedule();
      }
    });
  }

  // "12 min" since an order came in, kept current between updates.
  function showAges(root) {
    root.querySelectorAll("time[data-age]").forEach(function (time) {
      var since = Date.parse(time.getAttribute("datetime"));
      if (isNaN(since)) return;
      var minutes = Math.max(0, Math.floor((Date.now() - since) / 60000));
      time.textContent = minutes < 1 ? "just now" : minutes + " min ago";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-target]").forEach(follow);
    showAges(document);
    window.setInterval(function () { showAges(document); }, 30000);
  });
})();
