/* The desk tablet without a tap for a while: the waiting minutes keep counting, and the queue
   is read again every two minutes (arrivals recorded on another tablet) unless the agent is
   typing. The page works the same without this script. */
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (element) {
      var since = Date.parse(element.getAttribute("data-since"));
      if (!isNaN(since)) {
        element.textContent = String(Math.max(0, Math.floor((now - since) / 60000)));
      }
    });
  }
  function reload() {
    var queue = document.querySelector("[data-refresh-url]");
    var active = document.activeElement;
    if (!queue || document.hidden) { return; }
    if (active && active.tagName === "INPUT" && active.type === "text" && active.value) { return; }
    window.location.assign(queue.getAttribute("data-refresh-url"));
  }
  setInterval(tick, 30000);
  setInterval(reload, 120000);
})();
