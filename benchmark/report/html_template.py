"""The jinja2 template of reports/index.html: inline CSS and JS, nothing fetched at view time.

The sentence browser shows PAGE (20) sentences a page, disagreements first (the data's order), and
collapses a method's row beyond CHIPS (8) predictions. Its JS exposes a small hook for tests and
scripts: ``window.erbenchBrowser`` (``visible()``, ``total()``, ``page()``, ``pages()``, ``setFilter(name,
on)``, ``goto(page)``); ``document.body.dataset.ready`` is "1" once the page has initialised and
``#js-errors`` collects any uncaught error. The print stylesheet leaves the browser and the navigation out.
"""

CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#ffffff; --alt:#f5f7fa; --ok:#1a7f37; --bad:#c62828;
        --accent:#2457c5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0;
       background: var(--bg); }
header { padding: 18px 28px 8px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: var(--muted); font-size: 12px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 28px; z-index: 5;
      font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { margin-top: 30px; border-bottom: 2px solid var(--line); padding-bottom: 4px; font-size: 18px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
th { background: var(--alt); text-align: center; }
td.right, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.center { text-align: center; }
td.left { text-align: left; }
td.verdict details summary { cursor: pointer; }
td.verdict details[open] { white-space: normal; max-width: 360px; }
details.more { margin: 0 0 14px; font-size: 12.5px; }
details.more > summary { cursor: pointer; color: var(--accent); }
details.chips { display: inline; }
details.chips > summary { display: inline; cursor: pointer; color: var(--accent); }
tbody tr:hover { background: #fafbfd; }
.scroll { overflow-x: auto; }
.best { font-weight: 700; }
.mark { color: var(--accent); margin-left: 2px; }
.banner { background: #fff4e5; border: 1px solid #f0b45b; padding: 8px 12px; margin: 12px 0; border-radius: 4px; }
pre { background: var(--alt); padding: 8px 10px; overflow-x: auto; font-size: 12px; }
p.note { color: var(--muted); font-size: 12.5px; max-width: 1100px; }
figure { margin: 14px 0 24px; }
figure img { max-width: min(100%, 1200px); height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12.5px; }
#browser .controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin: 8px 0;
                     padding: 8px 10px; background: var(--alt); border-radius: 4px; }
#browser-count { font-weight: 600; }
.sentence { border: 1px solid var(--line); border-radius: 4px; margin: 8px 0; padding: 6px 10px; }
.sentence .text { font-size: 14px; margin-bottom: 4px; }
.sentence .row { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; font-size: 12.5px;
                 padding: 2px 0; border-top: 1px dashed #eceff4; }
.sentence .who { width: 150px; flex: none; font-weight: 600; color: var(--muted); }
.chip { display: inline-block; padding: 0 6px; border-radius: 10px; border: 1px solid var(--line); background: #fff; }
.chip.ok { border-color: var(--ok); color: var(--ok); }
.chip.bad { border-color: var(--bad); color: var(--bad); background: #fff5f5; }
.chip.gold { border-color: #8893a7; }
.missed { color: var(--bad); font-style: italic; }
.tag { font-size: 11px; color: var(--muted); margin-left: 6px; }
#js-errors:empty { display: none; }
#js-errors { color: var(--bad); }
#browser-pager { display: flex; gap: 10px; align-items: center; margin: 8px 0; }
@media print {
  nav, #browser, #browser-section, .no-print { display: none !important; }
  details.more, td.verdict details { display: block; }
  .scroll { overflow: visible; }
  body { font-size: 10pt; }
  figure { break-inside: avoid; }
}
"""

JS = r"""
(function () {
  "use strict";
  var PAGE = 20, CHIPS = 8;
  var errors = document.getElementById("js-errors");
  window.addEventListener("error", function (ev) {
    errors.textContent += (ev.message || "error") + "\n";
    document.body.dataset.errors = String((+document.body.dataset.errors || 0) + 1);
  });
  var node = document.getElementById("browser-data");
  var data = node ? JSON.parse(node.textContent) : [];
  var state = {dataset: 0, disagree: false, wrong: false, query: "", page: 0};
  var list = document.getElementById("browser-list");
  var count = document.getElementById("browser-count");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function span(tokens, s, e) { return tokens.slice(s, e).join(" "); }
  function entChip(tokens, ent, status) {
    var c = el("span", "chip " + status, span(tokens, ent[0], ent[1]));
    c.appendChild(el("span", "tag", ent[2]));
    return c;
  }
  function relChip(tokens, r, status) {
    return el("span", "chip " + status, span(tokens, r[0], r[1]) + " \u2192" + r[6] + "\u2192 " +
              span(tokens, r[3], r[4]));
  }
  function row(who, parts) {
    var r = el("div", "row");
    r.appendChild(el("span", "who", who));
    parts.slice(0, CHIPS).forEach(function (p) { r.appendChild(p); });
    if (parts.length > CHIPS) {  // a long list of (wrong) predictions: the rest on demand
      var more = el("details", "chips");
      more.appendChild(el("summary", "", "+" + (parts.length - CHIPS) + " more"));
      parts.slice(CHIPS).forEach(function (p) { more.appendChild(p); });
      r.appendChild(more);
    }
    return r;
  }
  function matches(doc) {
    if (state.disagree && !doc.disagree) { return false; }
    if (state.wrong && !doc.wrong) { return false; }
    if (state.query && doc.tokens.join(" ").toLowerCase().indexOf(state.query) < 0) { return false; }
    return true;
  }
  function renderDoc(ds, doc) {
    var box = el("div", "sentence");
    box.dataset.index = doc.i;
    box.dataset.disagree = doc.disagree ? "1" : "0";
    box.appendChild(el("div", "text", "#" + doc.i + "  " + doc.tokens.join(" ")));
    var g = [];
    doc.gold.e.forEach(function (x) { g.push(entChip(doc.tokens, x, "gold")); });
    doc.gold.r.forEach(function (x) { g.push(relChip(doc.tokens, x, "gold")); });
    box.appendChild(row("gold", g.length ? g : [el("span", "tag", "no entities")]));
    ds.methods.forEach(function (m) {
      var p = doc.pred[m];
      if (!p) { return; }
      var parts = [];
      p.e.forEach(function (x) { parts.push(entChip(doc.tokens, x, x[3] ? "ok" : "bad")); });
      p.r.forEach(function (x) { parts.push(relChip(doc.tokens, x, x[7] ? "ok" : "bad")); });
      var missed = [];
      if (p.missed_e) { missed.push(p.missed_e + (p.missed_e > 1 ? " entities" : " entity")); }
      if (p.missed_r) { missed.push(p.missed_r + (p.missed_r > 1 ? " relations" : " relation")); }
      if (missed.length) { parts.push(el("span", "missed", "missed " + missed.join(", "))); }
      var who = (ds.names && ds.names[m]) || m;
      box.appendChild(row(who, parts.length ? parts : [el("span", "tag", "nothing predicted")]));
    });
    return box;
  }
  function pages(n) { return Math.max(1, Math.ceil(n / PAGE)); }
  function render() {
    if (!list) { return; }
    list.textContent = "";
    var ds = data[state.dataset];
    if (!ds) { count.textContent = "0 of 0 sentences"; return; }
    var shown = ds.docs.filter(matches);
    state.page = Math.min(state.page, pages(shown.length) - 1);
    count.textContent = shown.length + " of " + ds.docs.length + " sentences";
    count.dataset.visible = String(shown.length);
    count.dataset.total = String(ds.docs.length);
    shown.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (doc) {
      list.appendChild(renderDoc(ds, doc));
    });
    document.getElementById("browser-page").textContent = "page " + (state.page + 1) + " of " +
      pages(shown.length) + " (" + PAGE + " a page; disagreements first)";
    document.getElementById("browser-prev").disabled = state.page === 0;
    document.getElementById("browser-next").disabled = state.page >= pages(shown.length) - 1;
    document.getElementById("browser-unit").textContent = ds.unit + (ds.truncated ? " (first sentences only)" : "");
  }
  function bind(id, ev, fn) { var e = document.getElementById(id); if (e) { e.addEventListener(ev, fn); } }
  bind("browser-dataset", "change", function (ev) { state.dataset = +ev.target.value; state.page = 0; render(); });
  bind("filter-disagree", "change", function (ev) { state.disagree = ev.target.checked; state.page = 0; render(); });
  bind("filter-wrong", "change", function (ev) { state.wrong = ev.target.checked; state.page = 0; render(); });
  bind("filter-text", "input", function (ev) {
    state.query = ev.target.value.toLowerCase(); state.page = 0; render();
  });
  bind("browser-prev", "click", function () { state.page = Math.max(0, state.page - 1); render(); });
  bind("browser-next", "click", function () { state.page += 1; render(); });
  window.erbenchBrowser = {
    visible: function () { var ds = data[state.dataset]; return ds ? ds.docs.filter(matches).length : 0; },
    total: function () { var ds = data[state.dataset]; return ds ? ds.docs.length : 0; },
    page: function () { return state.page + 1; },
    pages: function () { return pages(window.erbenchBrowser.visible()); },
    goto: function (n) { state.page = Math.max(0, n - 1); render(); },
    setFilter: function (name, on) {
      var box = document.getElementById("filter-" + name);
      box.checked = !!on;
      box.dispatchEvent(new Event("change"));
    }
  };
  render();
  document.body.dataset.ready = "1";
})();
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'">
<title>{{ title }}</title>
<style>""" + CSS + """</style>
</head>
<body>
<header>
  <h1>{{ title }}</h1>
  <div class="meta">erbench {{ version }} &middot; every number is in {{ stats_json }} &middot;
    this page needs no network</div>
</header>
<nav>
  <a href="#results">Results</a><a href="#protocol">Protocol card</a><a href="#comparisons">Comparisons</a>
  <a href="#seeds">Seeds</a><a href="#seen">Seen / unseen</a><a href="#errors">Errors</a>
  <a href="#per-type">Per type</a><a href="#figures">Figures</a><a href="#browser">Sentences</a>
  {% if warnings %}<a href="#warnings">Warnings ({{ warnings|length }})</a>{% endif %}
</nav>
<main>
<pre id="js-errors"></pre>
{% if mixed %}<div class="banner" id="mixed-banner"><strong>Mixed protocol</strong> (--allow-mixed): {{ mixed }}.</div>
{% endif %}
<h2 id="results">Results</h2>
<div class="scroll"><table id="results-table">
<thead>
<tr><th rowspan="2">Method</th>{% for g in main.groups %}<th colspan="{{ g.span }}">{{ g.name }}</th>{% endfor %}</tr>
<tr>{% for c in main.columns %}<th>{{ c }}</th>{% endfor %}</tr>
</thead>
<tbody>
{% for r in main.rows %}<tr><td class="left" data-id="{{ r.method }}">{{ r.name }}</td>
{% for c in r.cells %}{% if c.mean is defined %}<td class="num"{% for k, v in c.attrs.items() %} {{ k }}="{{ v }}"\
{% endfor %}><span class="{{ 'best' if c.best else '' }}">{{ c.mean }}</span>{{ c.std }}\
{% if c.mark %}<span class="mark">{{ c.mark }}</span>{% endif %}</td>{% else %}<td class="num">{{ c.text }}</td>\
{% endif %}{% endfor %}</tr>
{% endfor %}</tbody>
</table></div>
<p class="note">{{ footer }} {{ main.legend }}{{ "." if main.legend else "" }} {{ holm }}</p>
<pre>{% for s in signatures %}{{ s }}
{% endfor %}</pre>
<p class="note">{{ decision_note }}</p>
<h2 id="protocol">Protocol card</h2>
{{ sections.card|safe }}
<div id="comparisons">{{ sections.comparisons|safe }}</div>
<h2 id="seeds">How many seeds are enough</h2>
{{ sections.seeds|safe }}
<h2 id="seen">Seen / unseen</h2>
{{ sections.seen|safe }}
<h2 id="errors">Error breakdown</h2>
{{ sections.errors|safe }}
<h2 id="per-type">Per-type scores</h2>
{{ sections.per_type|safe }}
<h2 id="figures">Figures</h2>
{% for f in figures %}<figure id="figure-{{ f.id }}"><img alt="{{ f.title }}" src="{{ f.src }}">
<figcaption>{{ f.title }}</figcaption></figure>
{% endfor %}
<section id="browser-section">
<h2 id="browser">Sentence browser</h2>
{% if has_browser %}
<p class="note">Gold vs each method's predictions on one run per method (<span id="browser-unit"></span>); green:
  right, red: wrong (strict relations, the scored tuples).</p>
<div class="controls">
  <label>Dataset <select id="browser-dataset">{% for d in browser_datasets %}<option value="{{ loop.index0 }}">\
{{ d }}</option>{% endfor %}</select></label>
  <label><input type="checkbox" id="filter-disagree"> only sentences where the methods disagree</label>
  <label><input type="checkbox" id="filter-wrong"> only sentences with an error</label>
  <label>Search <input type="search" id="filter-text" placeholder="word"></label>
  <span id="browser-count"></span>
</div>
<div id="browser-pager"><button id="browser-prev">&larr; previous</button><span id="browser-page"></span>
<button id="browser-next">next &rarr;</button></div>
<div id="browser-list"></div>
{% else %}<p class="note" id="browser-empty">No run has predictions.jsonl: nothing to browse.</p>{% endif %}
</section>
{% if warnings %}<h2 id="warnings">Warnings</h2>
<ul>{% for w in warnings %}<li>{{ w }}</li>{% endfor %}</ul>{% endif %}
</main>
<script type="application/json" id="browser-data">{{ browser_json|safe }}</script>
<script>""" + JS + """</script>
</body>
</html>
"""
