// Playback: a fractional epoch position driven by time, a slider, play/pause, speed and keyboard shortcuts.
// Redraws never queue up: while one is in flight, later positions are coalesced into the next draw.

const TEXT_INPUTS = 'select, textarea, input:not([type=range])';

export class Player {
  /**
   * `controls` holds the elements {play, slider, speed, label}; `draw(position)` returns a promise that
   * settles when the picture is drawn; `describe(position)` gives the epoch label's text.
   */
  constructor(controls, draw, describe) {
    this.controls = controls;
    this.drawFn = draw;
    this.describe = describe;
    this.position = 0;
    this.lastIndex = 0;
    this.playing = false;
    this.inFlight = null;
    this.dirty = false;
    this.listeners = [];
    controls.play.addEventListener('click', () => this.toggle());
    controls.slider.addEventListener('input', () => this.seek(Number(controls.slider.value)));
    document.addEventListener('keydown', (event) => this.#onKey(event));
  }

  /** Call `fn(position)` after every position change (cursors, badges, URL). */
  onChange(fn) {
    this.listeners.push(fn);
  }

  /** Set how many entries the timeline has (it grows while a run trains); keeps the position. */
  setLength(length, { followEnd = false } = {}) {
    const atEnd = this.position >= this.lastIndex;
    this.lastIndex = Math.max(0, length - 1);
    this.controls.slider.max = String(this.lastIndex);
    this.controls.slider.disabled = this.lastIndex === 0;
    this.controls.play.disabled = this.lastIndex === 0;
    const position = followEnd && atEnd && !this.playing ? this.lastIndex : this.position;
    this.seek(Math.min(position, this.lastIndex));
  }

  get speed() {
    return Number(this.controls.speed.value);
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (this.lastIndex === 0) return;
    if (this.position >= this.lastIndex) this.seek(0);
    this.playing = true;
    this.#showPlaying();
    let last = performance.now();
    const tick = async (now) => {
      if (!this.playing) return;
      this.position = Math.min(this.lastIndex, this.position + ((now - last) / 1000) * this.speed);
      last = now;
      await this.redraw();
      if (this.position >= this.lastIndex) this.pause();
      else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  pause() {
    this.playing = false;
    this.#showPlaying();
  }

  /** Move by whole epochs, landing on an epoch. */
  step(delta) {
    this.pause();
    const target = delta > 0 ? Math.floor(this.position + 1e-6) + delta : Math.ceil(this.position - 1e-6) + delta;
    this.seek(Math.min(this.lastIndex, Math.max(0, target)));
  }

  seek(position) {
    this.position = position;
    return this.redraw();
  }

  /** Draw the current position; calls made while a draw is in flight collapse into one more draw. */
  redraw() {
    if (this.inFlight) {
      this.dirty = true;
      return this.inFlight;
    }
    this.#showPosition();
    this.inFlight = Promise.resolve(this.drawFn(this.position)).finally(() => {
      this.inFlight = null;
      if (this.dirty) {
        this.dirty = false;
        this.redraw();
      }
    });
    return this.inFlight;
  }

  #showPosition() {
    this.controls.slider.value = String(this.position);
    this.controls.label.textContent = this.describe(this.position);
    for (const fn of this.listeners) fn(this.position);
  }

  #showPlaying() {
    this.controls.play.textContent = this.playing ? '❚❚ Pause' : '▶ Play';
    this.controls.play.setAttribute('aria-pressed', String(this.playing));
  }

  #onKey(event) {
    if (event.target.matches?.(TEXT_INPUTS) || event.ctrlKey || event.metaKey || event.altKey) return;
    const onSlider = event.target === this.controls.slider;
    // space plays even when another button has the focus; on the play button its own click does it
    if (event.key === ' ' && event.target !== this.controls.play) this.toggle();
    else if (event.key === 'ArrowRight' && !onSlider) this.step(1);
    else if (event.key === 'ArrowLeft' && !onSlider) this.step(-1);
    else if (event.key === 'Home') this.seek(0);
    else if (event.key === 'End') this.seek(this.lastIndex);
    else return;
    event.preventDefault();
  }
}
