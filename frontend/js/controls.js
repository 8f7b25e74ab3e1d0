// Toolbar widgets shared by the run and compare pages: playback controls and segmented choices.

import { el } from './dom.js';

const SPEEDS = [['0.5', '0.5 epoch/s'], ['1', '1 epoch/s'], ['2', '2 epochs/s'], ['4', '4 epochs/s']];

/** Play button, epoch slider, epoch label and speed menu, appended to `container`. */
export function playbackControls(container) {
  const play = el('button', { type: 'button', class: 'play', 'data-testid': 'play', title: 'Play / pause (space)' }, '▶ Play');
  const slider = el('input', { type: 'range', min: 0, max: 0, step: 'any', value: 0, 'aria-label': 'epoch',
    'data-testid': 'epoch-slider', title: 'Epoch (← / → step one epoch)' });
  const label = el('span', { class: 'epoch-label', 'data-testid': 'epoch-label' }, 'epoch –');
  const speed = el('select', { 'aria-label': 'playback speed', title: 'Playback speed' },
    ...SPEEDS.map(([value, text]) => el('option', { value, selected: value === '1' }, text)));
  container.append(el('div', { class: 'playback' }, play, slider, label, speed));
  return { play, slider, label, speed };
}

/**
 * A row of toggle buttons: `options` is `[[value, text, title], ...]`; `onChange(value)` fires on clicks.
 * Returns `{node, set(value)}`.
 */
export function segmented(name, options, value, onChange) {
  const buttons = options.map(([optionValue, text, title]) => el('button', {
    type: 'button', 'data-value': optionValue, title, 'aria-pressed': String(optionValue === value),
    onclick: () => {
      set(optionValue);
      onChange(optionValue);
    },
  }, text));
  function set(selected) {
    for (const button of buttons) button.setAttribute('aria-pressed', String(button.dataset.value === selected));
  }
  return { node: el('div', { class: 'segmented', role: 'group', 'aria-label': name }, el('span', {}, `${name}:`), ...buttons), set };
}

/** The projection picker: one button per projection the server lists (`GET /api/projections`). */
export function projectionPicker(projections, selected, onChange) {
  const options = projections.map(({ name, label, description }) => [name, label, description]);
  return segmented('projection', options, selected, onChange);
}

export const COLOR_OPTIONS = [
  ['class', 'class', 'One colour per true class'],
  ['correct', 'correct?', 'Green: predicted correctly at this epoch; red: wrong'],
  ['confidence', 'confidence', 'The network\'s confidence in its prediction at this epoch'],
];

export const AXES_OPTIONS = [
  ['epoch', 'this epoch', 'Axes follow the points epoch by epoch: see the clusters\' shape at any scale'],
  ['run', 'whole run', 'Axes fixed for the whole run: see the cloud grow, shrink and move'],
];
