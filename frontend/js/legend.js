// The class legend under a scatter: one chip per class; clicking a chip isolates that class.

import { el } from './dom.js';
import { classColor } from './format.js';

const KEYS = {
  class: null,
  correct: [['#2ca02c', 'correct'], ['#d62728', 'wrong']],
  confidence: [['linear-gradient(90deg, #440154, #21918c, #fde725)', 'confidence 0 → 1']],
};

export class ClassLegend {
  /** `onIsolate(k | null)` is called when the isolated class changes. */
  constructor(container, classNames, counts, onIsolate) {
    this.container = container;
    this.classNames = classNames;
    this.counts = counts;
    this.onIsolate = onIsolate;
    this.isolated = null;
    this.mode = 'class';
    this.render();
  }

  setMode(mode) {
    this.mode = mode;
    this.render();
  }

  render() {
    const chips = this.classNames.map((name, k) => el('button', {
      type: 'button', class: 'chip', 'data-class': k, 'aria-pressed': String(this.isolated === k),
      title: this.isolated === k ? 'Show all classes' : `Show only class ${name} (${this.counts[k]} points)`,
      onclick: () => this.#toggle(k),
    }, el('span', { class: 'swatch', style: `background:${classColor(k)}` }), name));
    const dimmed = this.isolated != null;
    chips.forEach((chip, k) => chip.classList.toggle('dimmed', dimmed && this.isolated !== k));
    const key = (KEYS[this.mode] || []).map(([color, text]) => el('span', { class: 'key' },
      el('span', { class: 'swatch', style: `background:${color}` }), text));
    const help = el('span', { class: 'legend-help' }, dimmed ? 'click again to show all' : 'click a class to isolate it');
    this.container.replaceChildren(...chips, help, ...key);
  }

  #toggle(k) {
    this.isolated = this.isolated === k ? null : k;
    this.render();
    this.onIsolate(this.isolated);
  }
}
