/*
 * The browser side of ngx_http_analytics_module: one page view per page load, sent once the load
 * time is known. No cookies, no localStorage, no identifiers: a sessionStorage counter of pages
 * seen in this tab is the only state, and it never leaves the browser except as a number.
 *
 * <script defer src="/analytics.js" data-beacon="/ping"></script>
 */
(function (window, document, navigator) {
  var script = document.currentScript;
  var beaconUrl = (script && script.getAttribute('data-beacon')) || '/ping';

  function sessionPages() {
    try {
      var pages = (+sessionStorage.getItem('analytics_pages') || 0) + 1;
      sessionStorage.setItem('analytics_pages', pages);
      return pages;
    } catch (e) {
      return undefined; // storage disabled: send no count rather than a wrong one
    }
  }

  function loadTime() {
    var nav = window.performance && performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
    if (nav && nav.loadEventStart > 0) return Math.round(nav.loadEventStart);
    var t = window.performance && performance.timing; // Navigation Timing Level 1 fallback
    if (t && t.loadEventStart > 0) return t.loadEventStart - t.navigationStart;
    return undefined;
  }

  function send() {
    var body = JSON.stringify({
      domain: location.hostname,
      page: location.pathname,
      referrer: document.referrer,
      utcoffset: new Date().getTimezoneOffset(),
      platform: navigator.platform,
      mobile: navigator.userAgentData ? navigator.userAgentData.mobile : undefined,
      load_ms: loadTime(),
      session_pages: sessionPages()
    });
    // text/plain: a "simple" request, so no CORS preflight is needed.
    if (navigator.sendBeacon && navigator.sendBeacon(beaconUrl, body)) return;
    if (window.fetch) fetch(beaconUrl, { method: 'POST', body: body, keepalive: true });
  }

  // After the load event has finished, so that loadEventStart is known.
  if (document.readyState === 'complete') setTimeout(send, 0);
  else window.addEventListener('load', function () { setTimeout(send, 0); });
})(window, document, navigator);
