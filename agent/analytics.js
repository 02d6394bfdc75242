/*
 * The browser side of ngx_http_analytics_module. The minified copy next to this file is what the
 * module serves (`analytics_agent`); `npm run build` in this folder makes it from this source.
 *
 *   <script defer src="/a.js"></script>
 *
 * One page view per page load, sent once the load time is known, and one per single-page-app
 * navigation to another page. No cookies, no identifiers: the only state is a sessionStorage
 * counter of the pages seen in this tab, which leaves the browser as a number. Options, as
 * attributes of the script tag:
 *   data-beacon="/ping"   where beacons go (default: what analytics_agent was configured with)
 *   data-params="ref x"   query parameters to send besides utm_* (the module keeps those it lists
 *                         in analytics_query_params)
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
    // Names only: an empty name never matches.
    var params = (options.params || '').match(/\w+/g) || [];
    // The page last counted. Unset until the page view of the load is sent: whatever a router
    // does to the address before then is part of that one page view.
    var lastPage;

    var off;
    try {
      off = localStorage.analytics_ignore;
    } catch (e) {}
    off =
      off ||
      (!('dntOff' in options) && (n.doNotTrack == 1 || n.globalPrivacyControl)) ||
      // Whole host names: "localhostel.test" and "127.example.org" are sites like any other.
      (!('local' in options) && /^((.+\.)?localhost|127\.[\d.]+|\[::1\])$|^file/.test(loc.hostname || loc.protocol)) ||
      (!('automation' in options) && n.webdriver);

    // The page as a path; with data-hash, the "#/route" of a hash-routed app instead (without the
    // route's own query, so that a query change is no new page).
    var page = function () {
      return ('hash' in options && /^#\//.test(loc.hash) ? loc.hash.slice(1) : loc.pathname).split('?')[0];
    };

    // Called from timers and history hooks, outside the outer try: it must not throw either.
    var send = function (beacon) {
      if (off) return;
      try {
        beacon.d = loc.hostname;
        // Of the query string, only the parameters a site may keep: a token or an e-mail
        // address in another parameter never leaves the browser.
        beacon.g =
          page() +
          '?' +
          loc.search
            .split(/[?&]/)
            .filter(function (pair) {
              return /^utm_/.test(pair) || params.indexOf(pair.split('=')[0]) >= 0;
            })
            .join('&');
        // A string body is sent as text/plain: a "simple" request, so no CORS preflight.
        n.sendBeacon(endpoint, JSON.stringify(beacon));
      } catch (e) {}
    };

    var pageView = function (type, loadMs, referrer) {
      var pages;
      try {
        // -~x: the stored count plus one, and 1 when nothing (or garbage) is stored.
        sessionStorage.analytics_pages = pages = -~sessionStorage.analytics_pages;
      } catch (e) {}
      lastPage = page();
      send({
        t: type,
        r: referrer,
        z: new Date().getTimezoneOffset(),
        p: n.platform,
        m: n.userAgentData && n.userAgentData.mobile,
        // NaN when unknown, which JSON sends as null ("not known"); the module rounds fractions.
        l: loadMs,
        s: pages
      });
    };

    // A navigation within the page (pushState, back/forward, a hash route): a new page view,
    // without a load time or referrer, when it leads to another page.
    var navigated = function () {
      lastPage && page() != lastPage && pageView();
    };
    var wrap = function (name, after, original) {
      original = history[name];
      // Only where the browser has it: a page may test for pushState before using it.
      original &&
        (history[name] = function () {
          original.apply(this, arguments);
          after();
        });
    };
    wrap('pushState', navigated);
    // replaceState corrects the address of the page being viewed (routers call it at start-up and
    // for redirects): never another page view, but the page that back/forward compare with.
    wrap('replaceState', function () {
      lastPage && (lastPage = page());
    });
    addEventListener('popstate', navigated);
    'hash' in options && addEventListener('hashchange', navigated);

    w.analytics = {
      event: function (name) {
        send({ t: 'event', n: name });
      }
    };

    // After the load event has finished, so that its start time is known: Navigation Timing
    // Level 2, with the Level 1 fallback for older browsers.
    var start = function () {
      setTimeout(function () {
        var t, loadMs;
        try {
          t = performance;
          t = t.getEntriesByType('navigation')[0] || t.timing;
          loadMs = t.loadEventStart - (t.navigationStart || 0);
        } catch (e) {}
        pageView('notfound' in options ? 'notfound' : undefined, loadMs, d.referrer);
      });
    };
    d.readyState == 'complete' ? start() : addEventListener('load', start);
  } catch (e) {}
})(window, document, navigator);
