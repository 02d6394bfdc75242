/*
 * The browser side of ngx_http_analytics_module. The minified copy next to this file is what the
 * module serves (`analytics_agent`); `npm run build` in this folder makes it from this source.
 *
 *   <script defer src="/a.js"></script>
 *
 * One page view per page, sent once the load time is known; single-page-app navigations count too.
 * No cookies, no identifiers: the only state is a sessionStorage counter of the pages seen in this
 * tab, which leaves the browser as a number. Options, as attributes of the script tag:
 *   data-beacon="/ping"   where beacons go (default: what analytics_agent was configured with)
 *   data-hash             count "#/route" changes as pages (hash-routed single-page apps)
 *   data-notfound         this page is a "not found" page: record it as such, not as a page view
 *   data-dnt-off          do not honour Do Not Track / Global Privacy Control (honoured by default)
 *   data-local            also count pages on localhost and file: (for demos)
 *   data-automation       also count browsers driven by automation (for tests)
 * A site owner can exclude their own browser with localStorage.analytics_ignore = 1.
 * Custom events: analytics.event("video-play").
 *
 * Beacons use the compact keys of the README's "The beacon" (d domain, g page, r referrer, z utcoffset,
 * p platform, m mobile, l load_ms, s session_pages, t type, n name) to keep this file small.
 */
(function (w, d, n) {
  try {
    var script = d.currentScript;
    var options = (script && script.dataset) || {};
    var loc = location;
    var endpoint = options.beacon || '/ping';
    var lastPage;

    var off = (function () {
      try {
        if (localStorage.analytics_ignore) return 1;
      } catch (e) {}
      return (
        (options.dntOff == null && (n.doNotTrack == 1 || n.globalPrivacyControl)) ||
        (options.local == null && /^(localhost|127\.|\[::1\]$)|^file/.test(loc.hostname || loc.protocol)) ||
        (options.automation == null && n.webdriver)
      );
    })();

    // The page as a path; with data-hash, the "#/route" of a hash-routed app instead.
    var page = function () {
      return options.hash != null && /^#\//.test(loc.hash) ? loc.hash.slice(1) : loc.pathname;
    };

    // Called from timers and history hooks, outside the outer try: it must not throw either.
    var send = function (beacon) {
      if (off) return;
      try {
        beacon.d = loc.hostname;
        // The query string goes too: the module keeps only the campaign parameters (utm_*).
        beacon.g = page() + loc.search;
        beacon = JSON.stringify(beacon);
        // A string body is sent as text/plain: a "simple" request, so no CORS preflight.
        (n.sendBeacon && n.sendBeacon(endpoint, beacon)) ||
          (w.fetch && fetch(endpoint, { method: 'POST', body: beacon, keepalive: 1 }));
      } catch (e) {}
    };

    var pageView = function (type, loadMs, referrer) {
      var pages;
      try {
        sessionStorage.analytics_pages = pages = (+sessionStorage.analytics_pages || 0) + 1;
      } catch (e) {}
      lastPage = page();
      send({
        t: type,
        r: referrer,
        z: new Date().getTimezoneOffset(),
        p: n.platform,
        m: n.userAgentData && n.userAgentData.mobile,
        l: loadMs,
        s: pages
      });
    };

    // A single-page-app navigation: a new page view, without a load time or referrer.
    var navigated = function () {
      page() != lastPage && pageView();
    };
    var wrap = function (name, original) {
      original = history[name];
      // Only where the browser has it: a page may test for pushState before using it.
      original &&
        (history[name] = function () {
          original.apply(this, arguments);
          navigated();
        });
    };
    wrap('pushState');
    wrap('replaceState');
    addEventListener('popstate', navigated);
    options.hash != null && addEventListener('hashchange', navigated);

    w.analytics = {
      event: function (name) {
        send({ t: 'event', n: name });
      }
    };

    // After the load event has finished, so that its start time is known: Navigation Timing
    // Level 2, with the Level 1 fallback for older browsers.
    var start = function () {
      setTimeout(function () {
        var p = w.performance || {};
        var t = (p.getEntriesByType && p.getEntriesByType('navigation')[0]) || p.timing || {};
        pageView(
          options.notfound != null ? 'notfound' : undefined,
          Math.round(t.loadEventStart - (t.navigationStart || 0)) || undefined,
          d.referrer
        );
      });
    };
    d.readyState == 'complete' ? start() : addEventListener('load', start);
  } catch (e) {}
})(window, document, navigator);
