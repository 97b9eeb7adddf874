// Past predictions: the per-variable impact chart of a prediction's detail page (Plotly, offline).
// The table under each chart holds the same numbers, for those who cannot see it.
"use strict";
(function () {
  const data = document.getElementById("impact-data");
  if (!data || !window.Plotly) return;
  JSON.parse(data.textContent).forEach((chart) => {
    const box = document.getElementById(chart.id);
    if (!box) return;
    const impacts = chart.impacts.slice().reverse(); // Plotly draws the first bar at the bottom
    Plotly.newPlot(
      box,
      [{
        type: "bar",
        orientation: "h",
        y: impacts.map((item) => item.name),
        x: impacts.map((item) => item.log_odds),
        marker: { color: impacts.map((item) => (item.log_odds > 0 ? "#b3261e" : "#1a5fb4")) },
        hovertemplate: "%{y}: %{x:.4f} log-odds<extra></extra>",
      }],
      {
        margin: { l: 140, r: 20, t: 10, b: 40 },
        height: Math.max(240, 32 * impacts.length + 60),
        xaxis: { title: { text: "log-odds impact (right: raises risk)" }, zeroline: true },
        yaxis: { automargin: true },
      },
      { responsive: true, displayModeBar: false }
    );
  });
})();
