// The card shown while hovering a probe point: its thumbnail, true and predicted class, confidence.

import { thumbnailUrl } from './api.js';
import { el } from './dom.js';
import { classColor, percent } from './format.js';

export class HoverCard {
  constructor(container, probe, classNames) {
    this.probe = probe;
    this.classNames = classNames;
    this.node = el('div', { class: 'hover-card', hidden: true, 'data-testid': 'hover-card' });
    container.append(this.node);
  }

  /** Show sample `position` near the pointer; `frame` gives the prediction at the epoch on screen. */
  show(position, frame, clientX, clientY) {
    const label = this.probe.labels[position];
    const predicted = frame?.predictions ? frame.predictions[position] : null;
    const confidence = frame?.confidences ? frame.confidences[position] : null;
    const verdict = predicted == null ? '' : predicted === label ? 'correct' : 'wrong';
    const image = this.probe.thumbnail_url  // null: recorded without images (a user's own loop)
      ? el('img', { src: thumbnailUrl(this.probe, position), alt: `probe sample ${position}`, width: 64, height: 64 })
      : '';
    this.node.replaceChildren(
      image,
      el('dl', {},
        el('dt', {}, 'true'), el('dd', {}, this.#className(label)),
        el('dt', {}, 'predicted'), el('dd', { class: verdict }, predicted == null ? '–' : this.#className(predicted)),
        el('dt', {}, 'confidence'), el('dd', {}, percent(confidence)),
        el('dt', {}, 'sample'), el('dd', {}, `#${position}`)),
    );
    this.node.hidden = false;
    const box = this.node.parentElement.getBoundingClientRect();
    const left = Math.min(clientX - box.left + 14, box.width - this.node.offsetWidth - 4);
    const top = Math.min(clientY - box.top + 14, box.height - this.node.offsetHeight - 4);
    this.node.style.left = `${Math.max(0, left)}px`;
    this.node.style.top = `${Math.max(0, top)}px`;
  }

  hide() {
    this.node.hidden = true;
  }

  #className(k) {
    const swatch = el('span', { class: 'swatch', style: `background:${classColor(k)}` });
    return el('span', {}, swatch, this.classNames[k] ?? String(k));
  }
}
