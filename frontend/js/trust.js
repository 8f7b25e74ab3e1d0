// The badge that says how faithful the 2-D picture of the epoch on screen is (its trustworthiness).

const EXPLANATION = 'Trustworthiness (scikit-learn) of this 2-D layout: how well the nearest neighbours in the '
  + 'picture are also nearest neighbours in feature space. 1 is faithful; below about 0.8 read the picture as a sketch.';

/** Update `badge` for a timeline entry. */
export function showTrust(badge, entry) {
  let text = 'no frame';
  let level = 'none';
  if (entry?.state === 'ok' && entry.frame.trustworthiness != null) {
    const value = entry.frame.trustworthiness;
    text = `trustworthiness ${value.toFixed(2)}`;
    level = value >= 0.9 ? 'good' : value >= 0.8 ? 'fair' : 'poor';
  } else if (entry?.state === 'ok') text = 'trustworthiness –';
  else if (entry?.state === 'pending') text = 'projecting…';
  else if (entry?.state === 'failed') {
    text = 'projection failed';
    level = 'poor';
  }
  badge.textContent = text;
  badge.className = `trust trust-${level}`;
  badge.title = EXPLANATION;
}
