// Report charts (DESIGN §17), drawn with the vendored uPlot from the rows of the JSON API that the
// chart's `data-report` attribute names. A `line` chart has one line per series along the rows (rows
// with the same label are added up: a day's deliveries of every kind); a `bar` chart groups one bar
// per series for each row. Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var COLOURS = ["#0f766e", "#d97706", "#2563eb", "#be123c", "#7c3aed", "#4d7c0f"];

  function title(column, lang) {
    return column.title[lang] || column.title.zh;
  }

  function shortLabel(value, kind) {
    if (value === null || value === undefined || value === "") return "—";
    return kind === "day" ? String(value).slice(5) : String(value);
  }

  // Rows with the same x label added up, in the order they first appear; each shown by its name
  // (the `name` column) where it has one.
  function byLabel(rows, x, series, name) {
    var order = [], sums = {}, shown = {};
    rows.forEach(function (row) {
      var label = row[x] === null || row[x] === undefined ? "" : String(row[x]);
      if (!(label in sums)) {
        order.push(label);
        sums[label] = {};
        shown[label] = name && row[name] ? String(row[name]) : label;
      }
      series.forEach(function (key) {
        var value = row[key];
        if (typeof value === "number") sums[label][key] = (sums[label][key] || 0) + value;
        else if (!(key in sums[label])) sums[label][key] = null;
      });
    });
    return order.map(function (label) { return { label: shown[label], values: sums[label] }; });
  }

  function draw(element, answer) {
    var lang = element.dataset.lang === "en" ? "en" : "zh";
    var chart = answer.chart;
    var columns = {};
    answer.columns.forEach(function (c) { columns[c.key] = c; });
    var points = byLabel(answer.rows, chart.x, chart.series, chart.name).slice(0, chart.limit || 30);
    var bars = chart.kind === "bar";
    var n = chart.series.length;
    var percent = chart.series.every(function (key) { return columns[key].kind === "share"; });
    var scale = percent ? 100 : 1;
    // Bars are grouped by leaving a gap after each row's series: x runs over slots, not rows.
    var step = bars ? n + 1 : 1;
    var xs = [], data = chart.series.map(function () { return []; });
    points.forEach(function (point, row) {
      for (var slot = 0; slot < step; slot++) {
        xs.push(row * step + slot);
        chart.series.forEach(function (key, index) {
          var own = !bars || slot === index;
          var value = point.values[key];
          data[index].push(own && value !== null ? value * scale : null);
        });
      }
    });
    var labelAt = function (x) {
      var row = Math.round((x - (bars ? (n - 1) / 2 : 0)) / step);
      return points[row] ? shortLabel(points[row].label, columns[chart.x].kind) : "";
    };
    var series = [{ label: title(columns[chart.x], lang), value: function (u, x) { return x === null ? "" : labelAt(x); } }];
    chart.series.forEach(function (key, index) {
      var colour = COLOURS[index % COLOURS.length];
      var one = { label: title(columns[key], lang), stroke: colour, width: bars ? 0 : 2, spanGaps: !bars };
      if (bars) {
        one.fill = colour;
        one.paths = uPlot.paths.bars({ size: [0.9, 48] });
        one.points = { show: false };
      }
      series.push(one);
    });
    var width = Math.max(element.clientWidth, 320);
    var options = {
      width: width,
      height: 300,
      // Counts and shares read from zero.
      scales: {
        x: { time: false },
        y: { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.1 : 1]; } },
      },
      legend: { show: true },
      series: series,
      axes: [
        {
          splits: function () {
            return points.map(function (_, row) { return row * step + (bars ? (n - 1) / 2 : 0); });
          },
          values: function (u, splits) {
            var every = Math.max(1, Math.ceil(splits.length / Math.max(1, Math.floor(width / 70))));
            return splits.map(function (x, i) { return i % every === 0 ? labelAt(x) : ""; });
          },
        },
        { values: function (u, splits) { return splits.map(function (v) { return percent ? v + "%" : v; }); } },
      ],
    };
    if (bars) options.scales.x.range = function () { return [-1, points.length * step - 1]; };
    element.textContent = "";
    new uPlot(options, [xs].concat(data), element);
    element.dataset.drawn = "true";
  }

  function load(element) {
    fetch(element.dataset.report, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (answer) { draw(element, answer); })
      .catch(function (error) {
        element.textContent = (element.dataset.lang === "en" ? "The chart could not be loaded: " : "图表加载失败：") + error.message;
        element.dataset.drawn = "failed";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".qf-chart[data-report]").forEach(load);
  });
})();
