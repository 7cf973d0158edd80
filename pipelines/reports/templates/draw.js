(function () {
  "use strict";
  // Draws the figures handed over as inert JSON, wires the band checkbox, and opens the
  // records behind a point when it is clicked (built here from the page's own data, offline).
  var body = document.body;
  var BAND = body.getAttribute("data-band-prefix") || "dora-band";
  function setBands(on) {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      var update = {};
      ((gd.layout && gd.layout.shapes) || []).forEach(function (shape, i) {
        if (String(shape.name || "").indexOf(BAND) === 0) {
          update["shapes[" + i + "].visible"] = on;
        }
      });
      if (Object.keys(update).length) { Plotly.relayout(gd, update); }
    });
  }
  window.doraSetBands = setBands;

  // Columnar (see records_json in pipelines/reports/records.py): {kinds: [kind], kind: [index in
  // kinds], id: [...], detail: [...], rows: [record index], hours: [...],
  // cells: {"record set|grain|period": [first position in rows, count]},
  // sets: {metric: its record set}}
  var store = null;
  function records() {
    if (store === null) {
      var el = document.getElementById("records-data");
      store = el ? JSON.parse(el.textContent)
        : {kinds: [], kind: [], id: [], detail: [], rows: [], hours: [], cells: {}, sets: {}};
    }
    return store;
  }
  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    return td;
  }
  function hours(value) {
    return value === null || value === undefined ? "–" : value.toFixed(1) + " h";
  }
  function showRecords(gd, metric, grain, period, caption) {
    var box = document.querySelector('.records[data-for="' + gd.id + '"]');
    if (!box) { return; }
    var data = records();
    var set = data.sets[metric] || metric;
    var found = data.cells[set + "|" + grain + "|" + period] || [0, 0];
    var rows = [];
    for (var k = found[0]; k < found[0] + found[1]; k++) {
      rows.push([data.rows[k], data.hours[k]]);
    }
    box.querySelector(".caption-text").textContent = caption;
    var count = rows.length === 1 ? "1 record" : rows.length + " records";
    box.querySelector(".count").textContent = count;
    var tbody = box.querySelector("tbody");
    var fresh = document.createElement("tbody");
    rows.forEach(function (row) {
      var i = row[0];
      var detail = data.detail[i];
      var tr = document.createElement("tr");
      tr.appendChild(cell(data.kinds[data.kind[i]]));
      tr.appendChild(cell(data.id[i]));
      tr.appendChild(cell(hours(row[1]), "num"));
      tr.appendChild(cell(detail === null ? "" : detail));
      fresh.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = cell(document.getElementById("records-data") ? "No records behind this point."
        : "This warehouse has no records behind its numbers yet (no metric_records view): " +
          "run dora-pipeline run again to add them.");
      td.colSpan = 4;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    tbody.parentNode.replaceChild(fresh, tbody);
    box.hidden = false;
    box.setAttribute("data-metric", metric);
    box.setAttribute("data-period", period);
    box.setAttribute("data-grain", grain);
  }
  function onClick(gd) {
    gd.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      if (!point) { return; }
      var meta = point.data.meta || {};
      var custom = point.customdata;
      if (!meta.metric || !custom) { return; }
      showRecords(gd, meta.metric, meta.grain || "week", custom[0], custom[1]);
    });
  }
  document.querySelectorAll(".records button.close").forEach(function (button) {
    button.addEventListener("click", function () {
      button.closest(".records").hidden = true;
    });
  });
  window.doraShowRecords = function (id, metric, grain, period, caption) {
    showRecords(document.getElementById(id), metric, grain, period, caption || period);
  };

  if (typeof window.Plotly === "undefined") {
    document.getElementById("plotly-missing").hidden = false;
    body.setAttribute("data-plots-error", "plotly.js missing");
    return;
  }
  var drawn = [];
  document.querySelectorAll("script.figure-data").forEach(function (el) {
    var spec = JSON.parse(el.textContent);
    var div = document.getElementById(el.getAttribute("data-target"));
    drawn.push(Plotly.newPlot(div, spec.data, spec.layout, spec.config).then(onClick));
  });
  Promise.all(drawn).then(function () {
    var box = document.getElementById("show-bands");
    if (box) {
      box.addEventListener("change", function () { setBands(box.checked); });
      if (!box.checked) { setBands(false); }
    }
    body.setAttribute("data-plots-ready", String(drawn.length));
  });
})();
