// Hand-written SVG charts: lineChart (one or more series, optional band) and barChart.
// Each is an <svg role="img"> with a <title> saying what it shows; colours from the CSS.

import { h } from "./dom.js";

const W = 640, H = 240, PAD = { l: 56, r: 12, t: 12, b: 34 };
const COLOURS = ["#0b5cad", "#b3261e", "#1d6b35", "#6a3d9a", "#8a5a00"];
let seq = 0;

function ticks(lo, hi, n = 4) {
  if (lo === hi) { lo -= 1; hi += 1; }
  const step = (hi - lo) / n;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

function label(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
  if (a >= 10 || v === 0) return v.toFixed(0);
  if (a >= 0.1) return v.toFixed(2);
  return v.toPrecision(2);
}

function frame(title, yLo, yHi) {
  const id = `chart-${++seq}`;
  const svg = h("svg.chart", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": id },
    h("title", { id, text: title }));
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - (v - yLo) / (yHi - yLo || 1));
  for (const t of ticks(yLo, yHi)) {
    svg.append(h("line.grid", { x1: PAD.l, x2: W - PAD.r, y1: y(t), y2: y(t) }),
      h("text", { x: PAD.l - 6, y: y(t) + 4, "text-anchor": "end", text: label(t) }));
  }
  svg.append(h("line.axis", { x1: PAD.l, x2: PAD.l, y1: PAD.t, y2: H - PAD.b }),
    h("line.axis", { x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }));
  return { svg, y };
}

/** series: [{name, points: [[x, y], …], band?: [[x, lo, hi], …]}]; x numbers (or dates as
 * epoch ms), xFormat(x) for the axis labels. */
export function lineChart(title, series, { xFormat = (x) => label(x), yMin } = {}) {
  const all = series.flatMap((s) => s.points.concat((s.band || []).flatMap(([x, lo, hi]) => [[x, lo], [x, hi]])));
  if (!all.length) return h("p.muted", { text: `${title}: no data yet.` });
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const xLo = Math.min(...xs), xHi = Math.max(...xs);
  let yLo = yMin !== undefined ? Math.min(yMin, ...ys) : Math.min(...ys);
  let yHi = Math.max(...ys);
  if (yLo === yHi) { yLo = Math.min(0, yLo); yHi = yHi > 0 ? yHi * 1.5 : yHi + 1; }
  const { svg, y } = frame(title, yLo, yHi);
  const x = (v) => PAD.l + (W - PAD.l - PAD.r) * (xHi === xLo ? 0.5 : (v - xLo) / (xHi - xLo));
  for (const t of xHi === xLo ? [xLo] : ticks(xLo, xHi, Math.min(4, new Set(xs).size - 1 || 1))) {
    svg.append(h("text", { x: x(t), y: H - PAD.b + 16, "text-anchor": "middle", text: xFormat(t) }));
  }
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    if (s.band && s.band.length) {
      const top = s.band.map(([bx, , hi]) => `${x(bx)},${y(hi)}`);
      const bottom = s.band.slice().reverse().map(([bx, lo]) => `${x(bx)},${y(lo)}`);
      svg.append(h("path", { d: `M${top.join("L")}L${bottom.join("L")}Z`, fill: colour, "fill-opacity": 0.15, stroke: "none" }));
    }
    if (s.points.length === 1) {
      const [[px, py]] = s.points;
      svg.append(h("circle", { cx: x(px), cy: y(py), r: 4, fill: colour }));
    } else if (s.points.length) {
      svg.append(h("polyline", { points: s.points.map(([px, py]) => `${x(px)},${y(py)}`).join(" "),
        fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": s.dashed ? "6 4" : null }));
    }
  });
  return wrap(svg, series.map((s) => s.name));
}

/** bars: [{label, value}] (horizontal labels under each bar, shortened). */
export function barChart(title, bars, { format = label } = {}) {
  if (!bars.length) return h("p.muted", { text: `${title}: no data yet.` });
  const hi = Math.max(0, ...bars.map((b) => b.value));
  const lo = Math.min(0, ...bars.map((b) => b.value));
  const { svg, y } = frame(title, lo, hi || 1);
  const slot = (W - PAD.l - PAD.r) / bars.length;
  const bw = Math.max(2, Math.min(48, slot * 0.7));
  bars.forEach((b, i) => {
    const cx = PAD.l + slot * (i + 0.5);
    const top = y(Math.max(0, b.value)), base = y(Math.min(0, b.value));
    svg.append(h("rect", { x: cx - bw / 2, y: top, width: bw, height: Math.max(1, base - top), fill: COLOURS[0] },
      h("title", { text: `${b.label}: ${format(b.value)}` })));
    if (bars.length <= 16 || i % Math.ceil(bars.length / 12) === 0) {
      const text = String(b.label);
      svg.append(h("text", { x: cx, y: H - PAD.b + 16, "text-anchor": "middle", text: text.length > 12 ? text.slice(0, 11) + "…" : text }));
    }
  });
  return wrap(svg, []);
}

function wrap(svg, names) {
  const legend = names.length > 1
    ? h("ul.legend", {}, names.map((n, i) => h("li", {}, h(`span.swatch.s${(i % 5) + 1}`, { "aria-hidden": "true" }), n)))
    : null;
  return h("figure.chartbox", {}, svg, legend);
}

/** rows: [{label, value, low, high}] as dots with their interval, one row each. */
export function intervalChart(title, rows) {
  if (!rows.length) return h("p.muted", { text: `${title}: no data yet.` });
  const lo = Math.min(...rows.map((r) => r.low)), hi = Math.max(...rows.map((r) => r.high));
  const rowH = 24, top = 8, left = 150, right = 16, height = top * 2 + rowH * rows.length + 18;
  const id = `chart-${++seq}`;
  const svg = h("svg.chart", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-labelledby": id },
    h("title", { id, text: title }));
  const x = (v) => left + (W - left - right) * (hi === lo ? 0.5 : (v - lo) / (hi - lo));
  rows.forEach((r, i) => {
    const y = top + rowH * i + rowH / 2;
    const name = String(r.label);
    svg.append(h("text", { x: left - 8, y: y + 4, "text-anchor": "end", text: name.length > 20 ? name.slice(0, 19) + "…" : name }),
      h("line", { x1: x(r.low), x2: x(r.high), y1: y, y2: y, stroke: COLOURS[0], "stroke-width": 2 }),
      h("circle", { cx: x(r.value), cy: y, r: 5, fill: COLOURS[1] },
        h("title", { text: `${name}: ${label(r.value)} (${label(r.low)} to ${label(r.high)})` })));
  });
  const base = top + rowH * rows.length + 14;
  for (const t of ticks(lo, hi, 4)) svg.append(h("text", { x: x(t), y: base, "text-anchor": "middle", text: label(t) }));
  return h("figure.chartbox", {}, svg);
}
