/*
 * The browser side of ngx_http_analytics_module. The minified copies built from this file are what
 * the module serves (`analytics_agent`); `npm run build` in this folder makes them (build.js).
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
 * OUTBOUND, DOWNLOADS and ENGAGEMENT are set by the build: each variant the module serves
 * (`analytics_agent features=...`) holds only the blocks a site asked for, so the base script
 * pays nothing for them.
 *
 * Beacons use the compact keys of the README's "The beacon" (d domain, g page, r referrer,
 * z utcoffset, l load_ms, s session_pages, t type, n name, h target, f file, e engaged_ms) to keep
 * this file small. Platform and device class come from the request headers, not from here.
 */
(function (d, n) {
  try {
    var options = d.currentScript.dataset;
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
      (!('dntOff' in options) && (n.doNotTrack > 0 || n.globalPrivacyControl)) ||
      // Whole host names: "localhostel.test" and "127.example.org" are sites like any other.
      // file: (and every other page without a host name) is local too.
      (!('local' in options) && /^((.+\.)?localhost|[\d.]*|\[.*)$/.test(location.hostname)) ||
      (!('automation' in options) && n.webdriver);

    // The page as a path; with data-hash, the "#/route" of a hash-routed app instead (without the
    // route's own query, so that a query change is no new page).
    var page = function () {
      return ('hash' in options && /^#\//.test(location.hash) ? location.hash.slice(1) : location.pathname).split('?')[0];
    };

    // Called from timers, listeners and history hooks, outside the outer try: it must not throw
    // either.
    var send = function (beacon) {
      if (off) return;
      try {
        beacon.d = location.hostname;
        // Of the query string, only the parameters a site may keep: a token or an e-mail
        // address in another parameter never leaves the browser.
        beacon.g =
          page() +
          '?' +
          location.search
            .slice(1).split('&')
            .filter(function (pair) {
              return /^utm_/.test(pair) || params.includes(pair.split('=')[0]);
            })
            .join('&');
        // A string body is sent as text/plain: a "simple" request, so no CORS preflight. The
        // browser sends it even while the page unloads, and never holds up a navigation.
        n.sendBeacon(endpoint, JSON.stringify(beacon));
      } catch (e) {}
    };

    // `pages` is a parameter only because that minifies smaller than a `var`.
    var pageView = function (type, loadMs, referrer, pages) {
      try {
        // -~x: the stored count plus one, and 1 when nothing (or garbage) is stored.
        sessionStorage.analytics_pages = pages = -~sessionStorage.analytics_pages;
      } catch (e) {}
      lastPage = page();
      send({
        t: type,
        r: referrer,
        z: new Date().getTimezoneOffset(),
        // Unknown (undefined) leaves the key out; the module rounds fractions.
        l: loadMs,
        s: pages
      });
    };

    // A navigation within the page (pushState, back/forward, a hash route): a new page view,
    // without a load time or referrer, when it leads to another page.
    var navigated = function () {
      lastPage && page() != lastPage && pageView();
    };
    var wrap = function (name, after) {
      var original = history[name];
      history[name] = function () {
        original.apply(this, arguments);
        after();
      };
    };
    wrap('pushState', navigated);
    // replaceState corrects the address of the page being viewed (routers call it at start-up and
    // for redirects): never another page view, but the page that back/forward compare with.
    wrap('replaceState', function () {
      lastPage && (lastPage = page());
    });
    // Back, forward and every change of the fragment (a new "#/route" too) fire popstate.
    addEventListener('popstate', navigated);

    analytics = {
      event: function (name) {
        send({ t: 'event', n: name });
      }
    };

    if (OUTBOUND || DOWNLOADS) {
      // Clicks on links, seen before the page's own handlers can stop them. The beacon leaves
      // with sendBeacon, so the navigation it starts is never held up.
      addEventListener(
        'click',
        function (event, link) {
          try {
            link = event.target.closest('a');
            DOWNLOADS &&
            // A file by its extension (the module keeps the extension and the path, scrubbed).
            /\.(pdf|zip|docx?|xlsx?|pptx?|csv|txt|rtf|od[tsp]|epub|mp[34]|mov|avi|wav|dmg|exe|msi|apk|gz|tgz|7z|rar)$/i.test(
              link.pathname
            )
              ? send({ t: 'download', f: link.pathname })
              : // Another site: its host name only, never the rest of the address.
                OUTBOUND &&
                /^http/.test(link.protocol) &&
                link.hostname != location.hostname &&
                send({ t: 'outbound', h: link.hostname });
          } catch (e) {}
        },
        true
      );
    }

    if (ENGAGEMENT) {
      // The time this page was visible, sent once, when it is first hidden or left: from the
      // navigation's start when it opened visible, else from when it was first shown.
      var shownAt = d.hidden ? -1 : 0;
      var engagementSent;
      var visibility = function (event) {
        if (event.type == 'pagehide' || d.hidden) {
          engagementSent || shownAt < 0 || send({ t: 'engagement', e: performance.now() - shownAt });
          engagementSent = 1;
        } else shownAt < 0 && (shownAt = performance.now());
      };
      addEventListener('visibilitychange', visibility);
      addEventListener('pagehide', visibility);
    }

    // The load time is when the load event reaches the script (milliseconds since the navigation
    // started); unknown when the script arrives after it. The page view waits for the other load
    // listeners, where routers start, so that it records the page the load ends on.
    // A null type is a page view (the module reads JSON null as "not sent").
    var start = function (event) {
      setTimeout(pageView, 0, 'notfound' in options ? 'notfound' : null, event && performance.now(), d.referrer);
    };
    // Of "loading", "interactive" and "complete", only "complete" sorts before "d".
    d.readyState < 'd' ? start() : addEventListener('load', start);
  } catch (e) {}
})(document, navigator);
