// Small DOM helpers: element builder and in-place messages (errors, empty states, loading).

/** `el('a', {href: '/', class: 'x'}, 'text', child)`: create an element with attributes and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.filter((child) => child != null));
  return node;
}

/** Replace a container's content with a message box; kind is `error`, `empty` or `loading`. */
export function showMessage(container, kind, title, ...details) {
  container.replaceChildren(el('div', { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('strong', {}, title), ...details.map((detail) => (typeof detail === 'string' ? el('p', {}, detail) : detail))));
}

/** Put an error banner at the top of the page (for failures after the page has rendered). */
export function showBanner(text) {
  const banner = document.getElementById('banner');
  banner.textContent = text;
  banner.hidden = !text;
}
