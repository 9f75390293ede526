// Short confirmations ("User created") in the corner, announced politely.
// toast(text) from anywhere; <Toasts /> is rendered once by the shell.
import { signal } from '../vendor/signals/signals.module.js';
import { html } from '../html.js';
import { Icon } from './icons.js';

const toasts = signal([]);
let nextId = 1;

export function toast(text, { tone = 'success', ms = 3500 } = {}) {
  const id = nextId++;
  toasts.value = [...toasts.value, { id, text, tone }];
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
