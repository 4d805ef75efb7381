// The workspace's live parts: one WebSocket (/ws/inbox, or /ws/stats on the operations home)
// that tells the page what changed; the page reads the new part from the server (one template
// renders it, the first time and every time after).
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  var money = new Intl.NumberFormat("es-UY", { maximumFractionDigits: 0 });
  window.bmcLive = { received: [] };

  function socket(path, onEvent) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var delay = 1000;
    function open() {
      var ws = new WebSocket(scheme + location.host + path);
      ws.onopen = function () { delay = 1000; document.body.dataset.live = "on"; };
      ws.onmessage = function (e) { onEvent(JSON.parse(e.data)); };
      ws.onclose = function () { document.body.dataset.live = "off"; setTimeout(open, delay); delay = Math.min(delay * 2, 30000); };
    }
    open();
  }

  function refresh(target, url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { target.innerHTML = html; });
  }

  function part(name) {
    var url = new URL(location.href);
    url.searchParams.set("parte", name);
    return url.toString();
  }

  if (root && root.dataset.live === "thread") {
    var id = Number(root.dataset.conversation);
    var thread = document.getElementById("thread");
    thread.scrollTop = thread.scrollHeight;
    socket("/ws/inbox", function (event) {
      if (event.conversation !== id) return;
      if (event.type === "state") { location.reload(); return; }
      refresh(thread, part("hilo")).then(function () {
        thread.scrollTop = thread.scrollHeight;
        window.bmcLive.received.push({ message: event.message, at: Date.now() });
      });
    });
  } else if (root && root.dataset.live === "inbox") {
    var rows = document.getElementById("inbox-rows");
    var pending = null;
    socket("/ws/inbox", function (event) {
      clearTimeout(pending);  // a burst of events reads the list once
      pending = setTimeout(function () {
        refresh(rows, part("filas")).then(function () {
          window.bmcLive.received.push({ message: event.message, at: Date.now() });
        });
      }, 150);
    });
  } else if (root && root.dataset.live === "stats") {
    socket("/ws/stats", function (stats) {
      Object.keys(stats.queues || {}).forEach(function (queue) {
        var cell = document.querySelector('[data-queue="' + queue + '"]');
        if (cell) cell.textContent = stats.queues[queue];
      });
      Object.keys(stats.tasks || {}).forEach(function (key) {
        var cell = document.querySelector('[data-stat="tasks.' + key + '"]');
        if (cell) cell.textContent = stats.tasks[key];
      });
    });
  }

  if (root && root.dataset.live === "home" && window.Chart) drawCharts();
  else if (root && root.dataset.live === "home") window.addEventListener("load", drawCharts);

  function drawCharts() {
    var data = JSON.parse(document.getElementById("chart-data").textContent);
    var labels = JSON.parse(document.getElementById("chart-labels").textContent);
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.maintainAspectRatio = false;
    var axisMoney = { ticks: { callback: function (v) { return money.format(v); } } };
    function draw(id, config) {
      var canvas = document.getElementById(id);
      if (canvas) new Chart(canvas, config);
    }
    draw("chart-quotes", {
      type: "bar",
      data: {
        labels: data.quotes_per_day.map(function (r) { return r.day; }),
        datasets: [{ label: labels.quotes, data: data.quotes_per_day.map(function (r) { return r.count; }) }]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    draw("chart-funnel", {
      type: "bar",
      data: {
        labels: data.funnel.map(function (r) { return r.label; }),
        datasets: [{ label: labels.customers, data: data.funnel.map(function (r) { return r.count; }) }]
      },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    ["family", "zone"].forEach(function (key) {
      var rows = data["by_" + key];
      draw("chart-" + key, {
        type: "bar",
        data: {
          labels: rows.map(function (r) { return r.group || labels.unknown; }),
          datasets: [
            { label: labels.quoted, data: rows.map(function (r) { return r.quoted; }) },
            { label: labels.won, data: rows.map(function (r) { return r.won; }) }
          ]
        },
        options: { scales: { y: axisMoney } }
      });
    });
    var weeks = [];
    data.followups.forEach(function (r) { if (weeks.indexOf(r.week) < 0) weeks.push(r.week); });
    function perWeek(field) {
      return weeks.map(function (w) {
        return data.followups.filter(function (r) { return r.week === w; }).reduce(function (s, r) { return s + r[field]; }, 0);
      });
    }
    draw("chart-followups", {
      type: "line",
      data: { labels: weeks, datasets: [{ label: labels.sent, data: perWeek("sent") }, { label: labels.answered, data: perWeek("answered") }] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    draw("chart-reply", {
      type: "line",
      data: {
        labels: data.reply_time.map(function (r) { return r.day; }),
        datasets: [
          { label: labels.average, data: data.reply_time.map(function (r) { return r.average_s; }) },
          { label: labels.longest, data: data.reply_time.map(function (r) { return r.longest_s; }) }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });
    document.body.dataset.charts = "drawn";
  }
})();
