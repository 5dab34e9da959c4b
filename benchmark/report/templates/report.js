
(function () {
  "use strict";
  var PAGE = 10, CHIPS = 8;
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
  // printing shows what the screen folds away (protocol card, analysis tables, every test)
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.more").forEach(function (d) { d.open = true; });
  });
  document.body.dataset.ready = "1";
})();
