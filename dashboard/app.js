/*
 * The dashboard served by `analytics_dashboard`: reads InfluxQL from the location named by the
 * page's data-query attribute and draws what it gets. Every value that comes from the data (pages,
 * referrers, campaigns, event names) was sent by visitors' browsers and is hostile until proven
 * otherwise: it only ever reaches the page as text (textContent, never innerHTML), never as a URL,
 * and only ever reaches a query as an escaped InfluxQL string literal.
 *
 * The page's state (site, period, filters) lives in the URL's fragment, so a view can be shared
 * and the browser's back button works.
 */
(function () {
  'use strict';

  var settings = document.body.dataset;
  var $ = function (id) { return document.getElementById(id); };
  var DAY = 86400000;
  var TOP_ROWS = 100;

  // InfluxQL string literal and identifier quoting: a value can never end the literal.
  var literal = function (v) { return "'" + String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'"; };
  var ident = function (v) { return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; };

  // The tags each kind of data carries: a filter applies to the data that has its tag.
  var PAGE_TAGS = ['page', 'referrer_domain', 'device', 'platform', 'browser', 'tz', 'utm_source', 'utm_medium', 'utm_campaign'];
  var EVENT_TAGS = ['page', 'name', 'target_domain', 'file', 'extension'];
  var LABELS = {
    page: 'Page', referrer_domain: 'Referrer domain', device: 'Device', platform: 'Platform', browser: 'Browser', tz: 'Time zone',
    utm_source: 'Campaign source', utm_medium: 'Campaign medium', utm_campaign: 'Campaign', name: 'Event',
    target_domain: 'Link to', file: 'File', extension: 'Type'
  };
  // A rough region for each UTC offset (minutes east of UTC), to make time zones readable.
  var REGIONS = {
    '-600': 'Hawaii', '-540': 'Alaska', '-480': 'US Pacific', '-420': 'US Mountain / Pacific summer',
    '-360': 'US Central / Mexico', '-300': 'US Eastern / Colombia / Peru', '-240': 'US Eastern summer / Atlantic',
    '-180': 'Brazil / Argentina', '-120': 'Greenland / Brazil islands', '-60': 'Azores / Cape Verde',
    '0': 'UK / Portugal / West Africa', '60': 'Central Europe / West Africa', '120': 'Eastern Europe / Egypt / South Africa',
    '180': 'Moscow / Turkey / East Africa / Gulf', '210': 'Iran', '240': 'Gulf / Caucasus', '270': 'Afghanistan',
    '300': 'Pakistan / Central Asia', '330': 'India / Sri Lanka', '345': 'Nepal', '360': 'Bangladesh / Central Asia',
    '420': 'Indochina / West Indonesia', '480': 'China / Singapore / Philippines / Perth', '540': 'Japan / Korea',
    '570': 'Central Australia', '600': 'East Australia', '660': 'East Australia summer / Pacific',
    '720': 'New Zealand / Pacific', '780': 'New Zealand summer / Tonga'
  };

  var state = readState();
  var timer = null;
  var generation = 0;

  function readState() {
    var p = new URLSearchParams(location.hash.slice(1));
    var filters = [];
    p.getAll('f').forEach(function (f) {
      var at = f.indexOf(':');
      var tag = f.slice(0, at);
      if (at > 0 && LABELS[tag]) filters.push([tag, f.slice(at + 1)]);
    });
    return {
      domain: p.get('domain') || '',
      period: p.get('period') || '7d',
      from: p.get('from') || '',
      to: p.get('to') || '',
      filters: filters
    };
  }

  function writeState() {
    var p = new URLSearchParams();
    if (state.domain) p.set('domain', state.domain);
    p.set('period', state.period);
    if (state.period === 'custom') { p.set('from', state.from); p.set('to', state.to); }
    state.filters.forEach(function (f) { p.append('f', f[0] + ':' + f[1]); });
    var hash = '#' + p.toString();
    if (location.hash !== hash) history.pushState(null, '', hash);
  }

  // The period as [from, to) in ms since the epoch, the chart's bucket, and which data to read.
  function period() {
    var now = Date.now();
    var from, to = now, bucket;
    switch (state.period) {
      case 'live': from = now - 30 * 60000; bucket = '1m'; break;
      case 'today': from = new Date().setHours(0, 0, 0, 0); bucket = '1h'; break;
      case '30d': from = now - 30 * DAY; bucket = '1d'; break;
      case '12mo': from = now - 365 * DAY; bucket = '7d'; break;
      case 'custom':
        from = Date.parse(state.from + 'T00:00:00Z');
        to = Date.parse(state.to + 'T00:00:00Z') + DAY;
        if (!(from < to)) { from = now - 7 * DAY; to = now; }
        bucket = to - from <= 2 * DAY ? '1h' : to - from <= 92 * DAY ? '1d' : '7d';
        break;
      default: from = now - 7 * DAY; bucket = '1d';
    }
    var span = to - from;
    var rp = settings.rp ? ident(settings.rp) + '.' : '';
    var source = 'raw';
    // A roll-up point holds one breakdown (the domain and a page, or a referrer domain...): a
    // filter, a second tag, can only be answered from the raw data.
    var longPeriod = settings.rollups === 'on' && span > 8 * DAY;
    if (longPeriod && !state.filters.length) {
      source = span > 92 * DAY ? 'analytics_1d' : 'analytics_1h';
      rp = ident(source) + '.';
      if (source === 'analytics_1d' && bucket !== '7d') bucket = '1d';
    }
    return { from: from, to: to, bucket: bucket, rp: rp, source: source, filteredRaw: longPeriod && source === 'raw' };
  }

  function where(p, tags, extra) {
    var clauses = ['domain = ' + literal(state.domain), 'time >= ' + Math.floor(p.from) + 'ms', 'time < ' + Math.ceil(p.to) + 'ms'];
    state.filters.forEach(function (f) {
      if (tags.indexOf(f[0]) >= 0) clauses.push(ident(f[0]) + ' = ' + literal(f[1]));
    });
    if (extra) clauses.push(extra);
    return ' WHERE ' + clauses.join(' AND ');
  }

  // Points that carry `tag`: every query names the breakdown it reads, so that the same text works
  // on raw data and on the roll-ups, whose points each carry one breakdown (docs/dashboard.md).
  var has = function (tag) { return ident(tag) + " != ''"; };

  // Every panel: its title, its query, and how to read the answer into rows of [value..., count].
  function panels(p) {
    var pv = p.rp + ident(settings.pageview);
    var nf = p.rp + ident(settings.notfound);
    var ev = p.rp + ident(settings.event);
    var raw = p.source === 'raw';
    var visit = p.rp + ident('visit');
    var sum = 'SELECT sum(hits) FROM ';
    return [
      { id: 'pages', title: 'Top pages', columns: ['page'], q: sum + pv + where(p, PAGE_TAGS, has('page')) + ' GROUP BY "page"' },
      {
        id: 'entry', title: 'Entry pages', columns: ['page'],
        q: raw ? sum + pv + where(p, PAGE_TAGS, 'session_pages = 1') + ' GROUP BY "page"'
          : 'SELECT sum(visits) FROM ' + visit + where(p, PAGE_TAGS, has('page')) + ' GROUP BY "page"'
      },
      {
        id: 'referrers', title: 'Referrer domains', columns: ['referrer_domain'],
        q: sum + pv + where(p, PAGE_TAGS, has('referrer_domain')) + ' GROUP BY "referrer_domain"'
      },
      {
        id: 'full-referrers', title: 'Full referrers', columns: ['referrer'], notFilterable: true,
        q: raw ? 'SELECT "referrer" FROM ' + pv + where(p, PAGE_TAGS, has('referrer_domain')) + ' LIMIT 50000' : null,
        note: raw ? '' : 'Full referrers are kept in the raw data only: choose a period of up to 7 days.',
        points: true
      },
      {
        id: 'campaigns', title: 'Campaigns', columns: ['utm_source', 'utm_medium', 'utm_campaign'],
        q: sum + pv + where(p, PAGE_TAGS, '(' + has('utm_source') + ' OR ' + has('utm_medium') + ' OR ' + has('utm_campaign') + ')') +
          ' GROUP BY "utm_source", "utm_medium", "utm_campaign"'
      },
      { id: 'devices', title: 'Devices', columns: ['device'], q: sum + pv + where(p, PAGE_TAGS, has('device')) + ' GROUP BY "device"' },
      { id: 'platforms', title: 'Platforms', columns: ['platform'], q: sum + pv + where(p, PAGE_TAGS, has('platform')) + ' GROUP BY "platform"' },
      { id: 'browsers', title: 'Browsers', columns: ['browser'], q: sum + pv + where(p, PAGE_TAGS, has('browser')) + ' GROUP BY "browser"' },
      { id: 'timezones', title: 'Time zones', columns: ['tz'], q: sum + pv + where(p, PAGE_TAGS, has('tz')) + ' GROUP BY "tz"' },
      {
        id: 'notfound', title: 'Not-found pages and the referrers that lead to them', columns: ['page', 'referrer_domain'],
        q: sum + nf + where(p, PAGE_TAGS, has('page')) + ' GROUP BY "page", "referrer_domain"'
      },
      { id: 'events', title: 'Custom events', columns: ['name'], q: sum + ev + where(p, EVENT_TAGS, has('name')) + ' GROUP BY "name"' },
      // The browser script's own events (analytics_agent features=): target_domain and file are
      // theirs alone, so they are read by those tags, as their roll-ups carry them (no name).
      {
        id: 'outbound', title: 'Outbound links', columns: ['target_domain'],
        q: sum + ev + where(p, EVENT_TAGS, has('target_domain')) + ' GROUP BY "target_domain"'
      },
      {
        id: 'downloads', title: 'Downloads', columns: ['file', 'extension'],
        q: sum + ev + where(p, EVENT_TAGS, has('file')) + ' GROUP BY "file", "extension"'
      }
    ];
  }

  function summaryQueries(p) {
    var pv = p.rp + ident(settings.pageview);
    var buckets = 'SELECT sum(hits) FROM ' + pv + where(p, PAGE_TAGS, has('page')) + ' GROUP BY time(' + p.bucket + ') fill(0)';
    var total = 'SELECT sum(hits) FROM ' + pv + where(p, PAGE_TAGS, has('page'));
    var visits, load;
    if (p.source === 'raw') {
      visits = 'SELECT sum(hits) FROM ' + pv + where(p, PAGE_TAGS, 'session_pages = 1') +
        '; SELECT sum(hits) FROM ' + pv + where(p, PAGE_TAGS, 'session_pages = 2');
      load = 'SELECT median(load_ms), percentile(load_ms, 75), percentile(load_ms, 95) FROM ' + pv + where(p, PAGE_TAGS);
    } else {
      visits = 'SELECT sum(visits) FROM ' + p.rp + ident('visit') + where(p, PAGE_TAGS, has('page')) +
        '; SELECT sum(continued) FROM ' + p.rp + ident('visit') + where(p, PAGE_TAGS, has('page'));
      // Percentiles cannot be summed: those of the roll-up's hours or days, weighted by their
      // samples (an approximation, as docs/dashboard.md says), for the whole site.
      load = 'SELECT sum(w50) / sum(samples), sum(w75) / sum(samples), sum(w95) / sum(samples) FROM ' +
        '(SELECT p50 * samples AS w50, p75 * samples AS w75, p95 * samples AS w95, samples FROM ' +
        p.rp + ident('load_time') + where(p, []) + ')';
    }
    return [buckets, total, visits, load].join('; ');
  }

  function query(q) {
    var params = new URLSearchParams({ db: settings.db, q: q, epoch: 'ms' });
    return fetch(settings.query + '?' + params.toString(), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('the query location answered ' + r.status);
        return r.json();
      })
      .then(function (j) {
        if (j.error) throw new Error(j.error);
        return j.results || [];
      });
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

  function status(text, isError) {
    var s = $('status');
    s.textContent = text;
    s.className = 'status' + (isError ? ' error' : '');
  }

  var number = function (n) { return n == null || isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'); };

  function scalar(result, column) {
    var s = result && result.series && result.series[0];
    return s ? s.values[0][column || 1] : null;
  }

  // Rows of [tag values..., count] from a GROUP BY answer.
  function rows(result, columns) {
    return ((result && result.series) || []).map(function (s) {
      var tags = s.tags || {};
      return columns.map(function (c) { return tags[c] || ''; }).concat([s.values[0][1] || 0]);
    });
  }

  // Rows from raw points of one string field, counted here.
  function countPoints(result) {
    var counts = Object.create(null);
    ((result && result.series) || []).forEach(function (s) {
      s.values.forEach(function (v) { if (v[1]) counts[v[1]] = (counts[v[1]] || 0) + 1; });
    });
    return Object.keys(counts).map(function (k) { return [k, counts[k]]; });
  }

  function display(tag, value) {
    if (tag === 'tz' && value !== '') {
      var east = -Number(value);
      var sign = east < 0 ? '−' : '+';
      var a = Math.abs(east);
      var text = 'UTC' + sign + Math.floor(a / 60) + (a % 60 ? ':' + ('0' + (a % 60)).slice(-2) : '');
      return REGIONS[String(east)] ? text + ' (' + REGIONS[String(east)] + ')' : text;
    }
    return value === '' ? '(none)' : value;
  }

  function addFilter(tag, value) {
    if (!state.filters.some(function (f) { return f[0] === tag && f[1] === value; })) {
      state.filters = state.filters.filter(function (f) { return f[0] !== tag; }).concat([[tag, value]]);
      writeState();
      load();
    }
  }

  function csvCell(v) {
    var s = String(v);
    // A spreadsheet would run a cell that starts like a formula.
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function exportCsv(name, header, data) {
    var text = [header].concat(data).map(function (r) { return r.map(csvCell).join(','); }).join('\r\n') + '\r\n';
    var url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    var a = el('a');
    a.href = url;
    a.download = name + '.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function renderTable(section, panel, data) {
    var columns = panel.columns;
    var sort = panel.sort || { by: columns.length, down: true };
    data.sort(function (a, b) {
      var x = a[sort.by], y = b[sort.by];
      var c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return sort.down ? -c : c;
    });
    var body = section.querySelector('.body');
    clear(body);
    if (!data.length) {
      body.appendChild(el('p', panel.note || 'Nothing in this period.', 'empty'));
      return;
    }
    var table = el('table');
    var head = el('tr');
    columns.concat(['count']).forEach(function (c, i) {
      var th = el('th', null, i === columns.length ? 'n' : '');
      var b = el('button', (c === 'count' ? 'Count' : LABELS[c] || 'Referrer') + (sort.by === i ? (sort.down ? ' ↓' : ' ↑') : ''));
      b.type = 'button';
      th.setAttribute('aria-sort', sort.by === i ? (sort.down ? 'descending' : 'ascending') : 'none');
      b.addEventListener('click', function () {
        panel.sort = { by: i, down: sort.by === i ? !sort.down : i === columns.length };
        renderTable(section, panel, data);
      });
      th.appendChild(b);
      head.appendChild(th);
    });
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el('tbody');
    data.slice(0, TOP_ROWS).forEach(function (row) {
      var tr = el('tr');
      columns.forEach(function (c, i) {
        var td = el('td', null, 'v');
        td.setAttribute('data-column', c);
        var text = display(c, row[i]);
        if (panel.notFilterable || row[i] === '') {
          td.textContent = text;
        } else {
          var b = el('button', text);
          b.type = 'button';
          b.title = 'Show only ' + (LABELS[c] || c) + ': ' + text;
          b.addEventListener('click', function () { addFilter(c, row[i]); });
          td.appendChild(b);
        }
        tr.appendChild(td);
      });
      tr.appendChild(el('td', number(row[columns.length]), 'n'));
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    var scroll = el('div', null, 'scroll');
    scroll.appendChild(table);
    body.appendChild(scroll);
    if (data.length > TOP_ROWS) body.appendChild(el('p', data.length + ' rows; the first ' + TOP_ROWS + ' are shown, the CSV has all.', 'empty'));
  }

  function panelSection(panel) {
    var section = el('section');
    section.id = panel.id;
    section.appendChild(el('h2', panel.title));
    var tools = el('div', null, 'tools');
    var csv = el('button', 'CSV');
    csv.type = 'button';
    csv.setAttribute('aria-label', 'Export ' + panel.title + ' as CSV');
    csv.addEventListener('click', function () {
      exportCsv(panel.id, panel.columns.map(function (c) { return LABELS[c] || c; }).concat(['count']), panel.data || []);
    });
    tools.appendChild(csv);
    section.appendChild(tools);
    section.appendChild(el('div', null, 'body'));
    return section;
  }

  function renderSummary(results) {
    var total = scalar(results[1]) || 0;
    var visits = scalar(results[2]) || 0;
    var continued = scalar(results[3]) || 0;
    var metrics = [
      ['pageviews', 'Page views', number(total)],
      ['visits', 'Visits (estimated)', number(visits)],
      ['pages-per-visit', 'Pages per visit', visits ? (total / visits).toFixed(1) : '–'],
      ['bounce', 'Bounce (estimated)', visits ? Math.max(0, Math.round(100 * (1 - continued / visits))) + ' %' : '–'],
      ['load-median', 'Load time, median', scalar(results[4], 1) == null ? '–' : number(scalar(results[4], 1)) + ' ms'],
      ['load-p75', 'Load time, p75', scalar(results[4], 2) == null ? '–' : number(scalar(results[4], 2)) + ' ms'],
      ['load-p95', 'Load time, p95', scalar(results[4], 3) == null ? '–' : number(scalar(results[4], 3)) + ' ms']
    ];
    var box = clear($('summary'));
    metrics.forEach(function (m) {
      var d = el('div', null, 'metric');
      d.id = 'metric-' + m[0];
      d.appendChild(el('span', m[2], 'n'));
      d.appendChild(el('span', m[1], 'k'));
      box.appendChild(d);
    });
  }

  function renderChart(result, p) {
    var points = (result && result.series && result.series[0] && result.series[0].values) || [];
    var plot = clear($('chart-plot'));
    var table = clear($('chart-table'));
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    var width = 600, height = 180, left = 40, bottom = 20;
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('role', 'img');
    var max = points.reduce(function (m, v) { return Math.max(m, v[1] || 0); }, 0);
    var total = points.reduce(function (m, v) { return m + (v[1] || 0); }, 0);
    svg.setAttribute('aria-label', 'Page views per ' + p.bucket + ': ' + number(total) + ' in all, at most ' + number(max) + ' in one');
    var step = points.length ? (width - left) / points.length : 0;
    points.forEach(function (v, i) {
      var h = max ? (height - bottom) * (v[1] || 0) / max : 0;
      var r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', left + i * step + step * 0.1);
      r.setAttribute('width', Math.max(step * 0.8, 0.5));
      r.setAttribute('y', height - bottom - h);
      r.setAttribute('height', h);
      var t = document.createElementNS(ns, 'title');
      t.textContent = new Date(v[0]).toISOString().slice(0, 16).replace('T', ' ') + ' UTC: ' + number(v[1]);
      r.appendChild(t);
      svg.appendChild(r);
    });
    var label = function (x, y, text, anchor) {
      var t = document.createElementNS(ns, 'text');
      t.setAttribute('x', x);
      t.setAttribute('y', y);
      t.setAttribute('text-anchor', anchor);
      t.textContent = text;
      svg.appendChild(t);
    };
    label(left - 4, 12, number(max), 'end');
    label(left - 4, height - bottom, '0', 'end');
    if (points.length) {
      label(left, height - 4, new Date(points[0][0]).toISOString().slice(0, 10), 'start');
      label(width, height - 4, new Date(points[points.length - 1][0]).toISOString().slice(0, 10), 'end');
    }
    plot.appendChild(svg);
    var t = el('table');
    var head = el('tr');
    head.appendChild(el('th', 'From (UTC)'));
    head.appendChild(el('th', 'Page views', 'n'));
    t.appendChild(head);
    points.forEach(function (v) {
      var tr = el('tr');
      tr.appendChild(el('td', new Date(v[0]).toISOString().slice(0, 16).replace('T', ' '), 'v'));
      tr.appendChild(el('td', number(v[1] || 0), 'n'));
      t.appendChild(tr);
    });
    table.appendChild(t);
  }

  function renderFilters() {
    var box = clear($('filters'));
    state.filters.forEach(function (f, i) {
      var b = el('button', '✕ ' + (LABELS[f[0]] || f[0]) + ': ' + display(f[0], f[1]));
      b.type = 'button';
      b.setAttribute('aria-label', 'Remove the filter ' + (LABELS[f[0]] || f[0]) + ': ' + display(f[0], f[1]));
      b.addEventListener('click', function () {
        state.filters.splice(i, 1);
        writeState();
        load();
      });
      box.appendChild(b);
    });
  }

  function load() {
    var mine = ++generation;
    clearTimeout(timer);
    $('period').value = state.period;
    $('custom').hidden = state.period !== 'custom';
    $('from').value = state.from;
    $('to').value = state.to;
    renderFilters();
    if (!state.domain) { status('No data yet: no page view has been recorded.'); return; }
    var p = period();
    var list = panels(p);
    var container = $('panels');
    if (!container.firstChild) list.forEach(function (panel) { container.appendChild(panelSection(panel)); });
    status('Loading…');
    var failed = [];
    // One request per panel: InfluxDB answers them side by side, and each panel is drawn as soon
    // as its answer is in (a long period's slowest query does not hold up the others).
    var summary = query(summaryQueries(p)).then(function (results) {
      if (mine !== generation) return;
      renderChart(results[0], p);
      renderSummary(results);
      results.forEach(function (r) { if (r.error) failed.push(r.error); });
    });
    var tables = list.map(function (panel) {
      var section = $(panel.id);
      var previous = section.panel;
      panel.sort = previous && previous.sort;
      section.panel = panel;
      var answer = panel.q ? query(panel.q) : Promise.resolve([null]);
      return answer.then(function (results) {
        if (mine !== generation) return;
        var result = results[0];
        if (result && result.error) failed.push(result.error);
        panel.data = panel.q ? (panel.points ? countPoints(result) : rows(result, panel.columns)) : [];
        renderTable(section, panel, panel.data);
      });
    });
    Promise.all([summary].concat(tables)).then(function () {
      if (mine !== generation) return;
      var when = new Date().toLocaleTimeString();
      status(failed.length ? 'Some queries failed: ' + failed[0] : 'Updated ' + when + (p.source === 'raw' ? '' : ' (from the ' + p.source + ' roll-up)') +
        (p.filteredRaw ? ' (filtered: read from the raw data, which may take a while)' : ''), failed.length > 0);
      if (state.period === 'live') timer = setTimeout(load, 10000);
    }).catch(function (e) {
      if (mine !== generation) return;
      status('Could not read the data: ' + e.message, true);
      if (state.period === 'live') timer = setTimeout(load, 10000);
    });
  }

  function start() {
    var select = $('domain');
    query('SHOW TAG VALUES FROM ' + ident(settings.pageview) + ' WITH KEY = "domain"').then(function (results) {
      var values = ((results[0] && results[0].series && results[0].series[0] && results[0].series[0].values) || []).map(function (v) { return v[1]; });
      values.forEach(function (d) {
        var o = el('option', d);
        o.value = d;
        select.appendChild(o);
      });
      if (values.indexOf(state.domain) < 0) state.domain = values[0] || '';
      select.value = state.domain;
      load();
    }).catch(function (e) { status('Could not read the data: ' + e.message, true); });

    select.addEventListener('change', function () { state.domain = select.value; state.filters = []; writeState(); load(); });
    $('period').addEventListener('change', function () {
      state.period = $('period').value;
      if (state.period === 'custom' && !state.from) {
        state.to = new Date().toISOString().slice(0, 10);
        state.from = new Date(Date.now() - 7 * DAY).toISOString().slice(0, 10);
      }
      writeState();
      load();
    });
    ['from', 'to'].forEach(function (id) {
      $(id).addEventListener('change', function () { state[id] = $(id).value; writeState(); load(); });
    });
    $('controls').addEventListener('submit', function (e) { e.preventDefault(); });
    var theme = $('theme');
    theme.addEventListener('click', function () {
      var dark = document.documentElement.getAttribute('data-theme') !== 'dark' &&
        !(document.documentElement.getAttribute('data-theme') == null && matchMedia('(prefers-color-scheme: dark)').matches);
      document.documentElement.setAttribute('data-theme', dark ? 'dark' : 'light');
      theme.textContent = dark ? 'Light' : 'Dark';
      theme.setAttribute('aria-pressed', String(dark));
    });
    addEventListener('popstate', function () { state = readState(); $('domain').value = state.domain; load(); });
  }

  start();
})();
