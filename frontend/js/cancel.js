// The Cancel button of a queued or running run (runs table and run page): click, then confirm.

import { api } from './api.js';
import { el, showBanner } from './dom.js';
import { runLabel } from './format.js';

const CONFIRM_MS = 4000;
// kept by run id, not on the button: live updates redraw the table between the two clicks
const confirmUntil = new Map();
// runs asked to stop: they keep running until their epoch ends
const stopping = new Set();

const armed = (id) => (confirmUntil.get(id) ?? 0) > Date.now();

/**
 * A Cancel button for `run`, or null when the run has finished. The first click asks for a confirmation,
 * a second one within 4 s cancels; `onDone` is called once the server accepted it. Errors go to the banner.
 */
export function cancelButton(run, onDone) {
  if (run.status !== 'queued' && run.status !== 'running') return null;
  const label = runLabel(run);
  const button = el('button', { type: 'button', class: 'cancel', 'data-testid': 'cancel',
    title: run.status === 'queued' ? `Remove ${label} from the queue` : `Stop ${label} after its current epoch` });
  if (stopping.has(run.id) && run.status === 'running') {
    button.textContent = 'stopping…';
    button.disabled = true;
    button.title = 'The run stops after its current epoch';
    return button;
  }
  const show = () => {
    button.textContent = armed(run.id) ? 'Confirm cancel' : 'Cancel';
    button.classList.toggle('confirm', armed(run.id));
    if (armed(run.id)) setTimeout(show, confirmUntil.get(run.id) - Date.now() + 10);
  };
  button.addEventListener('click', async () => {
    if (!armed(run.id)) {
      confirmUntil.set(run.id, Date.now() + CONFIRM_MS);
      show();
      return;
    }
    confirmUntil.delete(run.id);
    button.disabled = true;
    button.textContent = 'cancelling…';
    try {
      const result = await api.cancel(run.id);
      if (result.status === 'running') stopping.add(run.id);
      button.textContent = result.status === 'running' ? 'stopping…' : 'cancelled';
      showBanner('');
      onDone(result);
    } catch (error) {
      button.disabled = false;
      show();
      showBanner(`Could not cancel ${label}: ${error.message}`);
    }
  });
  show();
  return button;
}
