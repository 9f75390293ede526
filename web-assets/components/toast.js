// Short confirmations ("User created") at the bottom of the screen, announced politely.
// toast(text) from anywhere; <Toasts /> is rendered once by the shell.
import { signal } from '../vendor/signals/signals.module.js';
import { html } from '../html.js';
import { Icon } from './icons.js';

const toasts = signal([]);
let nextId = 1;

export function toast(text, { tone = 'success', ms = 3500 } = {}) {
  const id = nextId++;
  // The same words again replace the earlier toast; at most three stand at once.
  toasts.value = [...toasts.value.filter((x) => x.text !== text), { id, text, tone }].slice(-3);
  setTimeout(() => {
    toasts.value = toasts.value.filter((x) => x.id !== id);
  }, ms);
}

export function Toasts() {
  return html`<div class="toasts" role="status" aria-live="polite" data-testid="toasts">
    ${toasts.value.map((x) => html`<div key=${x.id} class=${`toast toast-${x.tone}`} data-testid="toast">
      <${Icon} name=${x.tone === 'success' ? 'check' : 'alert'} size=${16} />
      <span>${x.text}</span>
    </div>`)}
  </div>`;
}
