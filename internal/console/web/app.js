// Tributary console: polls console/data and draws one card per source.
// Text from the daemon (source names, errors, positions, table names) is
// only ever set as textContent; the charts' SVG is the server's own markup
// of numbers and fixed words.
'use strict';

(function () {
  const POLL_MS = 2000;     // between the end of one poll and the next
  const TIMEOUT_MS = 5000;  // a slower answer counts as failed
  const TOKEN_KEY = 'tributary-admin-token';

  const STATES = {
    streaming:    { symbol: '●', text: 'streaming' },
    snapshotting: { symbol: '↓', text: 'snapshotting' },
    starting:     { symbol: '…', text: 'starting' },
    restarting:   { symbol: '↻', text: 'restarting' },
    stalled:      { symbol: '⚠', text: 'stalled' },
    failed:       { symbol: '✕', text: 'failed' },
    stopped:      { symbol: '■', text: 'stopped' },
  };

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let lastOk = null;      // Date of the last good answer
  let staleSince = null;  // Date of the first failure since then

  // el builds an element; string children become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v; else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function fmtNum(v, digits) {
    return v.toLocaleString('en', { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function fmtMs(ms) {
    if (ms === null) return '—';
    if (ms < 1000) return fmtNum(ms, 0) + ' ms';
    if (ms < 60000) return fmtNum(ms / 1000, 1) + ' s';
    if (ms < 3600000) return fmtNum(ms / 60000, 1) + ' min';
    return fmtNum(ms / 3600000, 1) + ' h';
  }
  function fmtBytes(b) {
    if (b === null) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return fmtNum(b, i === 0 ? 0 : 1) + ' ' + units[i];
  }
  function fmtRate(v, unit) {
    return v === null ? '—' : fmtNum(v, v < 10 ? 1 : 0) + unit;
  }
  function fmtTime(iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleTimeString('en-GB', { hour12: false });
  }
  function ago(iso, now) {
    if (!iso) return '';
    return fmtMs(Math.max(0, now - new Date(iso))) + ' ago';
  }

  function figure(name, label, text, value, title) {
    return el('div', { class: 'figure' },
      el('dt', { title: title }, label),
      el('dd', { 'data-figure': name, 'data-value': value === null || value === undefined ? null : String(value) }, text));
  }

  function spanText(secs) {
    if (secs >= 3600) return 'last hour';
    return 'last ' + (secs < 120 ? fmtNum(secs, 0) + ' s' : fmtNum(secs / 60, 0) + ' min');
  }

  function chart(name, caption, c) {
    const box = el('div', { class: 'chart-box' });
    // The server's SVG: numbers and fixed words only (see svg.go).
    box.innerHTML = c.svg;
    return el('figure', { class: 'chart', 'data-chart': name, 'data-points': String(c.points) },
      el('figcaption', {}, caption + ', ' + spanText(c.span_seconds)), box);
  }

  function snapshotPanel(tables) {
    const rows = tables.map((t) => {
      const pct = t.rows_total > 0 ? Math.min(100, (100 * t.rows_done) / t.rows_total) : null;
      return el('tr', { 'data-table': t.table },
        el('th', { scope: 'row' }, el('code', {}, t.table)),
        el('td', {}, fmtNum(t.rows_done, 0) + ' / ~' + fmtNum(t.rows_total, 0) + (pct === null ? '' : ' (' + fmtNum(pct, 1) + ' %)'),
          pct === null ? null : el('progress', { max: '100', value: pct.toFixed(1), 'aria-label': t.table + ' ' + pct.toFixed(0) + '%' })),
        el('td', {}, fmtRate(t.rows_per_second, ' rows/s')),
        el('td', {}, t.eta_seconds === null ? (t.rows_done >= t.rows_total ? 'done' : '—') : fmtMs(t.eta_seconds * 1000)));
    });
    return el('section', { class: 'panel', 'data-panel': 'snapshot' },
      el('h3', {}, 'Snapshot'),
      el('table', {},
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Table'), el('th', { scope: 'col' }, 'Rows'),
          el('th', { scope: 'col' }, 'Rate'), el('th', { scope: 'col' }, 'ETA'))),
        el('tbody', {}, ...rows)));
  }

  function slotPanel(slot) {
    const max = slot.max_bytes;
    const text = fmtBytes(slot.retained_bytes) + ' retained of ' + (max === null ? 'no limit (max_slot_wal_keep_size = -1)' : fmtBytes(max) + ' max_slot_wal_keep_size');
    return el('section', { class: 'panel', 'data-panel': 'slot' },
      el('h3', {}, 'Replication slot'),
      el('p', {}, text),
      max === null ? null : el('meter', { min: '0', max: String(max), value: String(slot.retained_bytes), high: String(max * 0.8), 'aria-label': 'retained WAL' }));
  }

  function accuracyPanel(figs) {
    return el('section', { class: 'panel', 'data-panel': 'accuracy' },
      el('h3', {}, 'Accuracy'),
      el('dl', { class: 'figures' }, ...figs.map((f) => {
        let text = fmtNum(f.value, 2);
        if (/timestamp_seconds$/.test(f.name) && f.value > 0) text = fmtTime(new Date(f.value * 1000).toISOString());
        else if (/_seconds$/.test(f.name)) text = fmtMs(f.value * 1000);
        return figure('accuracy-' + f.name, f.name.replace(/_/g, ' ') + (f.labels ? ' (' + f.labels + ')' : ''), text, f.value);
      })));
  }

  function card(s, now, data) {
    const st = STATES[s.state] || { symbol: '?', text: s.state };
    const id = 'src-' + Array.from(s.name).map((ch) => ch.codePointAt(0).toString(16)).join('-');
    const rateWindow = fmtNum(data.rate_window_seconds, 0) + ' s';
    return el('article', { class: 'card state-' + s.state, 'data-source': s.name, 'data-state': s.state, 'aria-labelledby': id },
      el('header', { class: 'card-head' },
        el('h2', { id: id }, s.name),
        el('span', { class: 'badge', 'data-state': s.state },
          el('span', { 'aria-hidden': 'true' }, st.symbol + ' '), st.text)),
      // since is when the pipeline entered its state; stalled and
      // snapshotting are judged on top of "streaming".
      el('p', { class: 'since' }, (s.pipeline !== s.state ? 'pipeline ' + s.pipeline : st.text) +
        ' since ' + fmtTime(s.since) + ' (' + ago(s.since, now) + ')'),
      s.last_error ? el('p', { class: 'error', 'data-figure': 'last-error' },
        el('strong', {}, 'Last error' + (s.last_error_at ? ' at ' + fmtTime(s.last_error_at) : '') + ': '), s.last_error) : null,
      el('dl', { class: 'figures' },
        figure('lag-ms', 'Lag', fmtMs(s.lag_ms), s.lag_ms, 'now minus the source commit time of the last transaction Kafka acked'),
        figure('lag-bytes', 'Behind', fmtBytes(s.lag_bytes), s.lag_bytes, 'binlog/WAL bytes between the checkpoint and the server\'s position'),
        figure('events-per-second', 'Events/s', fmtRate(s.events_per_second, '/s'), s.events_per_second, 'messages Kafka acked per second over the last ' + rateWindow),
        figure('bytes-per-second', 'Throughput', s.bytes_per_second === null ? '—' : fmtBytes(s.bytes_per_second) + '/s', s.bytes_per_second, 'key and value bytes acked per second over the last ' + rateWindow),
        figure('events-delivered', 'Delivered', s.events_delivered === null ? '—' : fmtNum(s.events_delivered, 0), s.events_delivered, 'tributary_events_delivered_total'),
        figure('checkpoint-age', 'Checkpoint age', s.checkpoint_age_seconds === null ? '—' : fmtMs(s.checkpoint_age_seconds * 1000), s.checkpoint_age_seconds, 'since the last checkpoint was saved'),
        figure('in-flight', 'In flight', fmtNum(s.in_flight, 0), s.in_flight, 'handed to Kafka, not yet acked'),
        figure('retries', 'Restarts', fmtNum(s.retries, 0), s.retries, 'pipeline restarts from the checkpoint'),
        figure('last-change', 'Last change read', s.last_event_at ? ago(s.last_event_at, now) : '—', null,
          'old with a lag near zero: idle; old with a growing lag: stuck'),
        s.dead_letters === undefined ? null : figure('dead-letters', 'Dead letters', fmtNum(s.dead_letters, 0), s.dead_letters, 'rows sent to the dead-letter topic')),
      el('p', { class: 'position' }, el('span', {}, 'Checkpoint '),
        s.checkpoint_position ? el('code', { 'data-figure': 'checkpoint-position' }, s.checkpoint_position) : '—'),
      s.slot ? slotPanel(s.slot) : null,
      s.snapshot && s.snapshot.length ? snapshotPanel(s.snapshot) : null,
      s.accuracy && s.accuracy.length ? accuracyPanel(s.accuracy) : null,
      // A source that never delivered (failed at start) has nothing to chart.
      s.lag_chart.points === 0 && !s.events_delivered
        ? el('p', { class: 'no-chart' }, 'Nothing delivered yet: no charts.')
        : el('div', { class: 'charts' },
          chart('lag', 'Lag', s.lag_chart),
          chart('throughput', 'Events/s', s.throughput_chart)));
  }

  function render(data) {
    const now = new Date(data.generated_at);
    const main = document.getElementById('sources');
    if (!data.sources.length) {
      main.replaceChildren(el('p', { class: 'empty' }, 'No source is configured yet.'));
      return;
    }
    main.replaceChildren(...data.sources.map((s) => card(s, now, data)));
    document.getElementById('about').textContent =
      'Every figure is read from the series /metrics exports, sampled every ' + fmtNum(data.interval_seconds, 0) +
      ' s (an hour kept in memory); states and errors as /status reports them.';
  }

  // setFreshness updates the header every poll; screen readers hear only
  // the changes between fresh and stale (and the first answer).
  let announced = null;
  function setFreshness(text, stale) {
    const p = document.getElementById('freshness');
    p.textContent = text;
    p.classList.toggle('stale', stale);
    document.body.classList.toggle('is-stale', stale);
    if (announced !== stale) {
      announced = stale;
      document.getElementById('announce').textContent = stale ? text : 'Figures are current.';
    }
  }

  function showTokenForm() {
    const form = document.getElementById('token-form');
    form.hidden = false;
  }

  async function poll() {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    try {
      const headers = token ? { Authorization: 'Bearer ' + token } : {};
      const resp = await fetch('console/data', { headers: headers, signal: ctrl.signal, cache: 'no-store' });
      if (resp.status === 401) {
        showTokenForm();
        throw new Error('the admin token is missing or wrong');
      }
      if (!resp.ok) throw new Error('the daemon answered HTTP ' + resp.status);
      const data = await resp.json();
      render(data);
      lastOk = new Date();
      staleSince = null;
      setFreshness('Updated ' + fmtTime(lastOk.toISOString()), false);
    } catch (err) {
      if (!staleSince) staleSince = new Date();
      const why = err && err.name === 'AbortError' ? 'no answer within ' + TIMEOUT_MS / 1000 + ' s' : String(err && err.message || err);
      setFreshness('Stale since ' + fmtTime((lastOk || staleSince).toISOString()) + ': ' + why + '. Retrying…', true);
    } finally {
      clearTimeout(timer);
      schedule(POLL_MS);
    }
  }

  // One pending poll at a time: a new schedule replaces the last.
  let next = null;
  function schedule(ms) {
    clearTimeout(next);
    next = setTimeout(poll, ms);
  }

  document.getElementById('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = document.getElementById('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    document.getElementById('token-form').hidden = true;
    schedule(0); // try the token now rather than at the next poll
  });

  poll();
})();
