// The epochs of one run as an animation timeline, and interpolation of point positions between frames.

/** Smoothstep easing, so points ease in and out of each recorded epoch instead of moving at constant speed. */
const ease = (u) => u * u * (3 - 2 * u);

/**
 * One entry per epoch: `{epoch, state, frame}` where state is `ok` (a frame to draw), `pending` (recorded,
 * but the projector has not reached it: "projecting…"), `failed` (the frame's `error` says why) or
 * `absent` (an epoch of `span` this run has not recorded, as when a shorter run is compared to a longer one).
 * A position is a fractional index into the entries: 2.5 is half way between the 3rd and 4th epoch.
 */
export class Timeline {
  constructor(framesResponse, { recorded = [], span = [] } = {}) {
    const byEpoch = new Map();
    for (const epoch of span) byEpoch.set(epoch, { epoch, state: 'absent', frame: null });
    for (const epoch of recorded) byEpoch.set(epoch, { epoch, state: 'pending', frame: null });
    for (const epoch of framesResponse.pending || []) byEpoch.set(epoch, { epoch, state: 'pending', frame: null });
    for (const frame of framesResponse.frames) {
      const state = frame.status === 'ok' && frame.points ? 'ok' : 'failed';
      byEpoch.set(frame.epoch, { epoch: frame.epoch, state, frame });
    }
    this.entries = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
    this.drawable = this.entries.map((_, i) => this.#nearestDrawable(i));
  }

  get length() {
    return this.entries.length;
  }

  get lastIndex() {
    return Math.max(0, this.entries.length - 1);
  }

  /** The entry a position rounds to (what the epoch label, badge and cursor show). */
  entryAt(position) {
    return this.entries[Math.min(this.lastIndex, Math.max(0, Math.round(position)))];
  }

  /** The fractional epoch number at a position (for cursors on epoch axes); null when there are no epochs. */
  epochAt(position) {
    if (!this.entries.length) return null;
    const clamped = Math.min(this.lastIndex, Math.max(0, position));
    const i = Math.floor(clamped);
    const a = this.entries[i].epoch;
    const b = this.entries[Math.min(this.lastIndex, i + 1)].epoch;
    return a + (b - a) * (clamped - i);
  }

  /** The frame drawn at a position (its own, or the nearest projected one); null when none is projected. */
  frameAt(position) {
    return this.drawable[Math.min(this.lastIndex, Math.max(0, Math.round(position)))] ?? null;
  }

  /** Index of an epoch number, or -1. */
  indexOf(epoch) {
    return this.entries.findIndex((entry) => entry.epoch === epoch);
  }

  /** True when at least one frame can be drawn. */
  get hasFrames() {
    return this.drawable.some((frame) => frame !== null);
  }

  /** Frames and eased weight to blend at a position: `{a, b, u}` (a === b away from projected pairs). */
  blendAt(position) {
    const clamped = Math.min(this.lastIndex, Math.max(0, position));
    const i = Math.floor(clamped);
    const a = this.drawable[i];
    const b = this.drawable[Math.min(this.lastIndex, i + 1)] || a;
    return { a, b: a ? b : null, u: ease(clamped - i) };
  }

  /** Write interpolated x and y of the points listed in `indices` into `outX`, `outY`. */
  pointsAt(position, indices, outX, outY) {
    const { a, b, u } = this.blendAt(position);
    if (!a) return false;
    lerpRows(a.points, b.points, u, indices, outX, outY);
    return true;
  }

  /** Interpolated class centers at a position as a flat `[x0, y0, x1, y1, ...]` array, or null. */
  centersAt(position) {
    const { a, b, u } = this.blendAt(position);
    if (!a || !a.centers) return null;
    const out = new Float32Array(a.centers.length);
    const bc = b.centers || a.centers;
    for (let i = 0; i < out.length; i += 1) out[i] = a.centers[i] + (bc[i] - a.centers[i]) * u;
    return out;
  }

  // The frame drawn for entry i: its own, else the nearest earlier one, else the nearest later one.
  #nearestDrawable(i) {
    for (let j = i; j >= 0; j -= 1) if (this.entries[j].state === 'ok') return this.entries[j].frame;
    for (let j = i + 1; j < this.entries.length; j += 1) if (this.entries[j].state === 'ok') return this.entries[j].frame;
    return null;
  }
}

/** Linear blend of rows `indices` of two interleaved `[N, 2]` arrays. */
export function lerpRows(a, b, u, indices, outX, outY) {
  for (let j = 0; j < indices.length; j += 1) {
    const r = 2 * indices[j];
    outX[j] = a[r] + (b[r] - a[r]) * u;
    outY[j] = a[r + 1] + (b[r + 1] - a[r + 1]) * u;
  }
}

const frameExtents = new WeakMap();

// [xmin, xmax, ymin, ymax] of one frame's points (cached: frames never change).
function frameExtent(frame) {
  let box = frameExtents.get(frame);
  if (!box) {
    let xmin = Infinity; let xmax = -Infinity; let ymin = Infinity; let ymax = -Infinity;
    const p = frame.points;
    for (let i = 0; i < p.length; i += 2) {
      if (p[i] < xmin) xmin = p[i];
      if (p[i] > xmax) xmax = p[i];
      if (p[i + 1] < ymin) ymin = p[i + 1];
      if (p[i + 1] > ymax) ymax = p[i + 1];
    }
    box = [xmin, xmax, ymin, ymax];
    frameExtents.set(frame, box);
  }
  return box;
}

/**
 * Axis ranges, with a 5% margin, that hold the points of several timelines: of every frame (a view that
 * stays put for the whole run), or, given a position, of the frames on screen there (a view that follows
 * the points, blended between epochs so it zooms smoothly).
 */
export function extent(timelines, position = null) {
  const boxes = [];
  for (const timeline of timelines) {
    if (position == null) {
      for (const entry of timeline.entries) if (entry.state === 'ok') boxes.push(frameExtent(entry.frame));
    } else {
      const { a, b, u } = timeline.blendAt(position);
      if (a) boxes.push(frameExtent(a).map((value, i) => value + (frameExtent(b)[i] - value) * u));
    }
  }
  if (!boxes.length) return { x: [-1, 1], y: [-1, 1] };
  const [xmin, xmax, ymin, ymax] = [0, 1, 2, 3].map((i) => (i % 2 ? Math.max : Math.min)(...boxes.map((box) => box[i])));
  const padX = 0.05 * (xmax - xmin || 1); const padY = 0.05 * (ymax - ymin || 1);
  return { x: [xmin - padX, xmax + padX], y: [ymin - padY, ymax + padY] };
}
