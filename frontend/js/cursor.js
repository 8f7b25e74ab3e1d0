// A vertical cursor line over a Plotly cartesian chart, moved by CSS alone so it can follow the animation
// at every frame without re-rendering the chart.

import { el } from './dom.js';

export class Cursor {
  /** `chart` is a Plotly div; its parent must be positioned (the line is placed inside it). */
  constructor(chart) {
    this.chart = chart;
    this.line = el('div', { class: 'cursor-line', hidden: true });
    chart.parentElement.append(this.line);
    this.value = null;
  }

  /** Re-read the plot area and x range (after every Plotly render or resize), then redraw. */
  measure() {
    const area = this.chart.querySelector('.nsewdrag');
    const range = this.chart.layout?.xaxis?.range;
    if (!area || !range) {
      this.geometry = null;
    } else {
      const outer = this.chart.parentElement.getBoundingClientRect();
      const box = area.getBoundingClientRect();
      this.geometry = { left: box.left - outer.left, top: box.top - outer.top, width: box.width, height: box.height,
        range: range.map(Number) };
    }
    this.moveTo(this.value);
  }

  /** Put the line at x value `value` (a fractional epoch); null hides it. */
  moveTo(value) {
    this.value = value;
    const g = this.geometry;
    if (value == null || !g || g.range[1] === g.range[0]) {
      this.line.hidden = true;
      return;
    }
    const fraction = (value - g.range[0]) / (g.range[1] - g.range[0]);
    this.line.hidden = fraction < 0 || fraction > 1;
    this.line.style.left = `${g.left + fraction * g.width}px`;
    this.line.style.top = `${g.top}px`;
    this.line.style.height = `${g.height}px`;
  }
}
