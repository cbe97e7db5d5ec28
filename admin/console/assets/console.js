// The pricing console. Plain JavaScript, no library, no build step.
//
// The admin token lives in the variable `token` of this closure only: it
// is never written to web storage, a cookie, the URL or
// the DOM (the input is cleared once the token is taken). Every value from
// the server is put into the page with textContent, never as HTML.
'use strict';
(function () {
  let token = '';
  // The product shown: its id, its entry (or null when it does not exist)
  // and its ETag; the markets shown, with theirs.
  let current = null;
  // The audit key shown and the cursor of its next page.
  let auditKey = '';
  let auditCursor = null;

  const $ = (id) => document.getElementById(id);

  // el builds an element: el('td', {class: 'num'}, 'text', child, ...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text;
    m.className = kind || '';
  }

  // detailText turns an error reply's detail (a string, or a list of
  // pydantic-shaped entries) into one line.
  function detailText(body, status) {
    const d = body && body.detail;
    if (typeof d === 'string') return d;
    if (Array.isArray(d)) {
      return d.map((e) => (e.loc ? e.loc.join('.') + ': ' : '') + (e.msg || JSON.stringify(e))).join('; ');
    }
    return 'HTTP ' + status;
  }

  // newKey returns a fresh Idempotency-Key, so that a write the browser
  // retries is applied once.
  function newKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // call sends one request to this origin and returns {status, etag, body}.
  async function call(method, path, opts) {
    opts = opts || {};
    const headers = {Accept: 'application/json'};
    if (opts.admin) {
      if (!token) throw new Error('type an admin token first');
      headers.Authorization = 'Bearer ' + token;
    }
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
    if (opts.ifNoneMatch) headers['If-None-Match'] = opts.ifNoneMatch;
    if (method !== 'GET') headers['Idempotency-Key'] = newKey();
    const r = await fetch(path, {
      method: method,
      headers: headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
    let body = null;
    const text = await r.text();
    if (text) {
      try { body = JSON.parse(text); } catch (e) { body = {detail: text}; }
    }
    return {status: r.status, etag: r.headers.get('ETag'), body: body};
  }

  const enc = encodeURIComponent;
  const entryPath = (kind, id) => '/admin/v1/' + (kind === 'product' ? 'products/' : 'markets/') + enc(id);

  // loadEntry reads one entry: {exists, value, version, updated, etag}.
  async function loadEntry(kind, id) {
    const r = await call('GET', entryPath(kind, id), {admin: true});
    if (r.status === 404) return {exists: false};
    if (r.status !== 200) throw new Error(kind + ' ' + id + ': ' + detailText(r.body, r.status));
    const b = r.body;
    return {
      exists: true,
      value: kind === 'product' ? b.base_price : b.multiplier,
      version: b.version,
      updated: b.updated_at ? b.updated_at + (b.updated_by ? ' by ' + b.updated_by : '') : 'not through the admin API',
      etag: r.etag,
    };
  }

  function marketsWanted() {
    const seen = new Set();
    const out = [];
    for (const m of $('markets').value.split(/[\s,]+/)) {
      if (m && !seen.has(m) && m !== '*') { seen.add(m); out.push(m); }
    }
    out.push('*');
    return out.slice(0, 100);
  }

  // show loads the product, its markets and their prices, and its audit.
  async function show(productID) {
    const markets = marketsWanted();
    const [product, entries, prices] = await Promise.all([
      loadEntry('product', productID),
      Promise.all(markets.map((m) => loadEntry('market', m))),
      call('POST', '/api/v1/prices', {body: {
        items: markets.map((m) => ({product_id: productID, user_location: m, is_prime_member: false})),
        explain: true,
      }}),
    ]);
    const members = await call('POST', '/api/v1/prices', {body: {
      items: markets.map((m) => ({product_id: productID, user_location: m, is_prime_member: true})),
    }});
    current = {id: productID, product: product, markets: markets, entries: entries};
    renderProduct(product);
    renderPrices(markets, entries, prices, members);
    $('product-panel').hidden = false;
    await showAudit('product:' + productID);
  }

  function renderProduct(p) {
    $('product-id').textContent = current.id;
    $('base-price').textContent = p.exists ? p.value : 'no base price: the product does not exist';
    $('base-version').textContent = p.exists ? p.version : '';
    $('base-updated').textContent = p.exists ? p.updated : '';
    $('base-save').textContent = p.exists ? 'Save base price' : 'Create product';
  }

  function explanationText(ex) {
    if (!Array.isArray(ex)) return '';
    return ex.map((f) => {
      const extra = Object.entries(f).filter(([k]) => k !== 'factor' && k !== 'value')
        .map(([k, v]) => k + ' ' + v).join(', ');
      return f.factor + ' ' + (f.value === undefined ? '' : f.value) + (extra ? ' (' + extra + ')' : '');
    }).join('; ');
  }

  function renderPrices(markets, entries, prices, members) {
    const tbody = $('prices').querySelector('tbody');
    tbody.replaceChildren();
    const items = (prices.body && prices.body.items) || [];
    const memberItems = (members.body && members.body.items) || [];
    markets.forEach((m, i) => {
      const e = entries[i];
      const it = items[i] || {};
      const mem = memberItems[i] || {};
      let finalCell, listCell, priorCell, memberCell, explain;
      if (prices.status !== 200) {
        finalCell = detailText(prices.body, prices.status);
      } else if (it.error) {
        finalCell = detailText(it.error, it.error.status);
      } else {
        finalCell = it.final_price;
        listCell = it.list_price;
        // An announced reduction: the prior price customers are shown
        // (and since when the history holds it, when that is shorter
        // than the window).
        if (it.prior_price !== undefined) {
          priorCell = it.prior_price + (it.prior_price_since ? ' (since ' + it.prior_price_since + ')' : '');
        }
        explain = explanationText(it.explanation);
      }
      if (mem && !mem.error) memberCell = mem.final_price;
      const input = el('input', {class: 'mult-input narrow', inputmode: 'decimal', 'aria-label': 'new multiplier for ' + m, spellcheck: 'false'});
      const save = el('button', {type: 'button', class: 'mult-save'}, e.exists ? 'Save' : 'Create');
      save.addEventListener('click', () => guarded(() => saveMultiplier(m, e, input.value.trim())));
      const hist = el('button', {type: 'button', class: 'mult-audit'}, 'Audit');
      hist.addEventListener('click', () => guarded(() => showAudit('market:' + m)));
      tbody.append(el('tr', {'data-location': m},
        el('td', {class: 'loc'}, m === '*' ? '* (default market)' : m),
        el('td', {class: 'mult num'}, e.exists ? e.value : (m === '*' ? '1 (no entry)' : 'default (*)')),
        el('td', {class: 'version num'}, e.exists ? e.version : ''),
        el('td', {class: 'final num'}, finalCell),
        el('td', {class: 'list num'}, listCell),
        el('td', {class: 'prior num'}, priorCell),
        el('td', {class: 'member num'}, memberCell),
        el('td', {class: 'explain small'}, explain),
        el('td', {}, input),
        el('td', {}, save, ' ', hist)));
    });
  }

  // write sends a PUT of one entry with If-Match from its GET (or
  // If-None-Match: * to create it) and reports the outcome.
  async function write(kind, id, entry, value) {
    if (!value) throw new Error('type the new value first');
    const body = kind === 'product' ? {base_price: value} : {multiplier: value};
    const opts = {admin: true, body: body};
    if (entry.exists) opts.ifMatch = entry.etag; else opts.ifNoneMatch = '*';
    const r = await call('PUT', entryPath(kind, id), opts);
    if (r.status === 200 || r.status === 201) {
      say(kind + ' ' + id + ' is now ' + value + ' (version ' + r.body.version + ')', 'ok');
      return true;
    }
    if (r.status === 412) {
      say(kind + ' ' + id + ' was changed meanwhile (' + detailText(r.body, r.status) + '): the page shows the current value; check it and save again', 'error');
      return false;
    }
    say('cannot change ' + kind + ' ' + id + ': ' + detailText(r.body, r.status), 'error');
    return false;
  }

  async function saveBase(value) {
    if (!current) return;
    const ok = await write('product', current.id, current.product, value);
    await show(current.id);
    if (ok) $('base-input').value = '';
  }

  async function saveMultiplier(m, entry, value) {
    const ok = await write('market', m, entry, value);
    const msg = $('message').textContent;
    const cls = $('message').className;
    await show(current.id);
    await showAudit('market:' + m);
    say(msg, cls);
    return ok;
  }

  // showAudit loads the newest page of key's audit trail.
  async function showAudit(key) {
    auditKey = key;
    auditCursor = null;
    $('audit').querySelector('tbody').replaceChildren();
    await moreAudit();
    $('audit-key').textContent = key;
    $('audit-panel').hidden = false;
  }

  async function moreAudit() {
    let path = '/admin/v1/audit?key=' + enc(auditKey) + '&limit=50';
    if (auditCursor) path += '&cursor=' + enc(auditCursor);
    const r = await call('GET', path, {admin: true});
    if (r.status !== 200) throw new Error('audit of ' + auditKey + ': ' + detailText(r.body, r.status));
    const tbody = $('audit').querySelector('tbody');
    for (const e of r.body.entries) {
      let revert = null;
      if (e.after !== null && e.after !== undefined) {
        revert = el('button', {type: 'button', class: 'revert'}, 'Revert to this');
        revert.addEventListener('click', () => guarded(() => revertTo(e)));
      }
      tbody.append(el('tr', {'data-version': e.version, 'data-kind': e.kind},
        el('td', {class: 'at'}, e.at),
        el('td', {class: 'actor'}, e.actor),
        el('td', {class: 'kind'}, e.kind),
        el('td', {class: 'before num'}, e.before === null ? '' : e.before),
        el('td', {class: 'after num'}, e.after === null ? '' : e.after),
        el('td', {class: 'version num'}, e.version),
        el('td', {class: 'request small'}, e.request_id),
        el('td', {}, revert)));
    }
    auditCursor = r.body.next_cursor || null;
    $('audit-more').hidden = !auditCursor;
  }

  // revertTo writes an audit entry's value as a new version, on the
  // condition that the entry is still at the version the page shows.
  async function revertTo(e) {
    const sep = e.key.indexOf(':');
    const kind = e.key.slice(0, sep);
    const id = e.key.slice(sep + 1);
    const cur = await loadEntry(kind, id);
    const opts = {admin: true, body: {version: e.version}};
    if (cur.exists) opts.ifMatch = cur.etag;
    const r = await call('POST', entryPath(kind, id) + '/revert', opts);
    if (r.status === 200 || r.status === 201) {
      say(e.key + ' reverted to ' + e.after + ' (version ' + e.version + '), now version ' + r.body.version, 'ok');
    } else {
      say('cannot revert ' + e.key + ': ' + detailText(r.body, r.status), 'error');
    }
    const msg = $('message').textContent;
    const cls = $('message').className;
    if (current) await show(current.id);
    await showAudit(e.key);
    say(msg, cls);
  }

  // guarded runs an action, showing its error instead of losing it, with
  // the buttons disabled meanwhile.
  async function guarded(action) {
    const buttons = Array.from(document.querySelectorAll('main button'));
    buttons.forEach((b) => { b.disabled = true; });
    document.body.setAttribute('data-busy', 'true');
    try {
      await action();
    } catch (err) {
      say(err.message || String(err), 'error');
    } finally {
      Array.from(document.querySelectorAll('main button')).forEach((b) => { b.disabled = false; });
      document.body.removeAttribute('data-busy');
    }
  }

  function init() {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = $('token').value.trim();
      $('token').value = '';
      $('token-state').textContent = token ? 'token in memory (this tab only)' : 'no token';
      if (token && $('product').value.trim()) guarded(() => show($('product').value.trim()));
    });
    $('token-forget').addEventListener('click', () => {
      token = '';
      $('token-state').textContent = 'no token';
    });
    $('find-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      say('');
      const id = $('product').value.trim();
      if (id) guarded(() => show(id));
    });
    $('base-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      guarded(() => saveBase($('base-input').value.trim()));
    });
    $('audit-more').addEventListener('click', () => guarded(moreAudit));
    document.body.setAttribute('data-ready', 'true');
  }

  init();
})();
