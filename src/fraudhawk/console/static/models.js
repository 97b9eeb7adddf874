// fraudhawk console, models pages: the training form's source switch, and a version's charts with the
// live threshold. The confusion matrix is computed here, in the browser, from the training report's
// metricDataPoints (exact true/false positive rates and precision at every multiple of 5): moving the
// threshold never asks the server.
"use strict";
(function () {
  const FRAUD = "#b3261e";
  const LEGIT = "#1f6fb2";
  const ACCENT = "#0b57d0";
  const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const whole = (n) => Math.round(n).toLocaleString("en-US");
  const percent = (x, digits) => (x * 100).toFixed(digits) + "%";

  function json(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // --- the training form: show the fields of the chosen data source --------------------------------
  function sourceSwitch() {
    const radios = document.querySelectorAll('input[name="source"][type="radio"]');
    if (!radios.length) return;
    const show = () => {
      const file = document.getElementById("s-file").checked;
      document.querySelector(".source-stored").hidden = file;
      document.querySelector(".source-file").hidden = !file;
    };
    radios.forEach((radio) => radio.addEventListener("change", show));
    show();
  }

  // --- the threshold's slider and number box, kept together: `show(threshold)` on every change;
  // returns the function that moves both to a value (snapped to the report's grid of 5) ---------------
  function controls(show) {
    const range = document.getElementById("threshold-range");
    const number = document.getElementById("threshold-number");
    const snap = (value) => Math.min(1000, Math.max(0, Math.round(Number(value) / 5) * 5 || 0));
    function choose(value) {
      const threshold = snap(value);
      range.value = String(threshold);
      if (document.activeElement !== number) number.value = String(threshold);
      show(threshold);
    }
    range.addEventListener("input", () => choose(range.value));
    number.addEventListener("input", () => { if (number.value !== "" && number.checkValidity()) choose(number.value); });
    number.addEventListener("change", () => { number.value = String(snap(number.value)); choose(number.value); });
    return choose;
  }

  // --- the confusion matrix at a threshold, scaled to `scale` events ------------------------------
  // The validation events' fraud share is the precision of flagging every event (threshold 0).
  function matrixAt(point, share, scale) {
    const fraud = Math.round(scale * share);
    const legit = scale - fraud;
    const tp = Math.round(point.tpr * fraud);
    const fp = Math.round(point.fpr * legit);
    return { tp: tp, fn: fraud - tp, fp: fp, tn: legit - fp, fraud: fraud, legit: legit };
  }

  function thresholdPage(data) {
    const points = data.points;
    if (!points || !points.length) return;
    const byThreshold = new Map(points.map((p) => [p.threshold, p]));
    const base = byThreshold.get(0) || points[0];
    const share = base.precision;
    const range = document.getElementById("threshold-range");
    const distribution = document.getElementById("distribution-chart");
    const roc = document.getElementById("roc-chart");
    const set = (id, text) => { document.getElementById(id).textContent = text; };

    // the report's point at a threshold: the grid's (multiples of 5), else the nearest below it
    function pointAt(threshold) {
      if (byThreshold.has(threshold)) return byThreshold.get(threshold);
      let best = points[0];
      for (const p of points) if (p.threshold <= threshold) best = p;
      return best;
    }

    function line(threshold) {
      return [{ type: "line", x0: threshold, x1: threshold, yref: "paper", y0: 0, y1: 1, line: { color: "#1a1a1a", width: 2, dash: "dot" } }];
    }

    function show(threshold) {
      const point = pointAt(threshold);
      const m = matrixAt(point, share, data.scale);
      set("cm-tp", whole(m.tp)); set("cm-fn", whole(m.fn)); set("cm-fp", whole(m.fp)); set("cm-tn", whole(m.tn));
      set("cm-fraud", whole(m.fraud)); set("cm-legit", whole(m.legit));
      set("rate-tpr", percent(point.tpr, 1)); set("rate-fpr", percent(point.fpr, 2)); set("rate-precision", percent(point.precision, 1));
      document.querySelectorAll(".thr-value").forEach((e) => { e.textContent = String(threshold); });
      set("threshold-summary",
        "At score " + threshold + " or more: " + whole(m.tp) + " of " + whole(m.fraud) + " fraud events caught (" +
        percent(point.tpr, 1) + "), " + whole(m.fp) + " of " + whole(m.legit) + " legit events flagged (" +
        percent(point.fpr, 2) + "), precision " + percent(point.precision, 1) + ".");
      if (window.Plotly && distribution.dataset.drawn) Plotly.relayout(distribution, { shapes: line(threshold) });
      if (window.Plotly && roc.dataset.drawn) Plotly.restyle(roc, { x: [[point.fpr]], y: [[point.tpr]] }, [2]);
    }

    const choose = controls(show);

    if (window.Plotly) {
      const d = data.distributions || {};
      if (d.binEdges) {
        const centers = d.binEdges.slice(0, -1).map((edge, i) => (edge + d.binEdges[i + 1]) / 2);
        const width = d.binEdges[1] - d.binEdges[0];
        const total = (list) => list.reduce((a, b) => a + b, 0) || 1;
        const fraudTotal = total(d.fraud), legitTotal = total(d.legit);
        Plotly.newPlot(distribution, [
          { type: "bar", name: "Legit", x: centers, width: width, y: d.legit.map((c) => (100 * c) / legitTotal), marker: { color: LEGIT }, opacity: 0.6,
            customdata: d.legit, hovertemplate: "%{customdata} legit events (%{y:.1f}%)<extra></extra>" },
          { type: "bar", name: "Fraud", x: centers, width: width, y: d.fraud.map((c) => (100 * c) / fraudTotal), marker: { color: FRAUD }, opacity: 0.6,
            customdata: d.fraud, hovertemplate: "%{customdata} fraud events (%{y:.1f}%)<extra></extra>" },
        ], {
          title: { text: "Score distributions", font: { size: 15 } }, barmode: "overlay", margin: { l: 55, r: 10, t: 40, b: 45 },
          xaxis: { title: "Model score", range: [0, 1000] }, yaxis: { title: "% of the class's events" },
          legend: { orientation: "h", y: -0.25 }, shapes: line(Number(range.value)),
        }, CONFIG);
        distribution.dataset.drawn = "1";
        // a click on the chart moves the threshold there
        distribution.on("plotly_click", (event) => { if (event.points && event.points.length) choose(event.points[0].x); });
      }
      Plotly.newPlot(roc, [
        { type: "scatter", mode: "lines", name: "Chance", x: [0, 1], y: [0, 1], line: { color: "#767676", dash: "dash", width: 1 }, hoverinfo: "skip" },
        { type: "scatter", mode: "lines", name: "ROC curve", x: points.map((p) => p.fpr), y: points.map((p) => p.tpr), line: { color: ACCENT, width: 2 },
          customdata: points.map((p) => p.threshold), hovertemplate: "score ≥ %{customdata}: TPR %{y:.1%}, FPR %{x:.2%}<extra></extra>" },
        { type: "scatter", mode: "markers", name: "Threshold", x: [0], y: [0], marker: { color: FRAUD, size: 12, line: { color: "#fff", width: 2 } }, hoverinfo: "skip" },
      ], {
        title: { text: "ROC curve", font: { size: 15 } }, margin: { l: 55, r: 10, t: 40, b: 45 },
        xaxis: { title: "False positive rate", range: [0, 1], tickformat: ".0%" }, yaxis: { title: "True positive rate", range: [0, 1.02], tickformat: ".0%" },
        legend: { orientation: "h", y: -0.25 },
      }, CONFIG);
      roc.dataset.drawn = "1";
    }
    choose(range.value);
  }

  // --- ATI: challenge rate against discovery rates -------------------------------------------------
  function atiPage(data) {
    const chart = document.getElementById("cr-chart");
    if (!chart || !window.Plotly || !data.points || !data.points.length) return;
    const points = data.points.filter((p) => p.cr > 0);
    if (!document.getElementById("threshold-range")) return;
    const traces = [
      { type: "scatter", mode: "lines", name: "Anomaly discovery rate (ADR)", x: points.map((p) => p.cr), y: points.map((p) => p.adr),
        line: { color: ACCENT, width: 2 }, customdata: points.map((p) => p.threshold), hovertemplate: "score ≥ %{customdata}: challenges %{x:.2%}, ADR %{y:.1%}<extra></extra>" },
    ];
    if (points.some((p) => "atodr" in p)) {
      const labelled = points.filter((p) => "atodr" in p);
      traces.push({ type: "scatter", mode: "lines", name: "ATO discovery rate (ATODR)", x: labelled.map((p) => p.cr), y: labelled.map((p) => p.atodr),
        line: { color: FRAUD, width: 2, dash: "dash" }, customdata: labelled.map((p) => p.threshold), hovertemplate: "score ≥ %{customdata}: challenges %{x:.2%}, ATODR %{y:.1%}<extra></extra>" });
    }
    traces.push({ type: "scatter", mode: "markers", name: "Threshold", x: [0], y: [0], marker: { color: "#1a1a1a", size: 11, line: { color: "#fff", width: 2 } }, hoverinfo: "skip" });
    const marker = traces.length - 1;
    Plotly.newPlot(chart, traces, {
      margin: { l: 55, r: 10, t: 20, b: 45 }, legend: { orientation: "h", y: -0.25 },
      xaxis: { title: "Challenge rate (share of real logins challenged)", tickformat: ".0%", range: [0, 0.1] },
      yaxis: { title: "Discovery rate", tickformat: ".0%", range: [0, 1.02] },
    }, CONFIG);
    chart.dataset.drawn = "1";
    const byThreshold = new Map(data.points.map((p) => [p.threshold, p]));
    const choose = controls((threshold) => {
      const point = byThreshold.get(threshold);
      if (!point) return;
      let text = "At score " + threshold + " or more: challenges " + percent(point.cr, 2) + " of logins, finds " +
        percent(point.adr, 1) + " of anomalous logins";
      if ("atodr" in point) text += " and " + percent(point.atodr, 1) + " of labelled takeovers";
      document.getElementById("threshold-summary").textContent = text + ".";
      Plotly.restyle(chart, { x: [[point.cr]], y: [[point.adr]] }, [marker]);
    });
    choose(data.threshold);
  }

  // --- variable importance: horizontal bars, largest at the top ------------------------------------
  function bars(id, series, color) {
    const chart = document.getElementById(id);
    if (!chart || !window.Plotly || !series || !series.names.length) return;
    const names = series.names.slice().reverse();
    const values = series.values.slice().reverse();
    chart.style.minHeight = Math.max(200, 60 + 26 * names.length) + "px";
    Plotly.newPlot(chart, [{ type: "bar", orientation: "h", x: values, y: names, marker: { color: color }, hovertemplate: "%{y}: %{x:.3f}<extra></extra>" }], {
      margin: { l: 10, r: 10, t: 10, b: 40 }, xaxis: { title: "Importance (log-odds)" }, yaxis: { automargin: true },
      height: Math.max(200, 60 + 26 * names.length),
    }, CONFIG);
  }

  document.addEventListener("DOMContentLoaded", () => {
    sourceSwitch();
    const model = json("model-data");
    if (model && document.getElementById("threshold-range")) thresholdPage(model);
    const ati = json("ati-data");
    if (ati) atiPage(ati);
    const importance = json("importance-data");
    if (importance) {
      bars("importance-raw", importance.raw, ACCENT);
      bars("importance-groups", importance.groups, "#5b4a9e");
    }
  });
})();
