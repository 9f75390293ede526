// Inline SVG icons (stroke icons, 24×24 viewBox, currentColor).
import { html } from '../html.js';

const PATHS = {
  dashboard: html`<rect x="3" y="3" width="7" height="9" rx="1.5" /><rect x="14" y="3" width="7" height="5" rx="1.5" /><rect x="14" y="12" width="7" height="9" rx="1.5" /><rect x="3" y="16" width="7" height="5" rx="1.5" />`,
  system: html`<path d="M3 12h4l3-8 4 16 3-8h4" />`,
  chevronDown: html`<path d="M6 9l6 6 6-6" />`,
  logout: html`<path d="M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3" /><path d="M10 17l-5-5 5-5" /><path d="M5 12h11" />`,
  inbox: html`<path d="M3 13l2.5-7.5A2 2 0 0 1 7.4 4h9.2a2 2 0 0 1 1.9 1.5L21 13" /><path d="M3 13v5a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-5h-5.5l-1.5 2.5h-4L8.5 13z" />`,
  refresh: html`<path d="M20 11a8 8 0 0 0-14.6-4.5L4 8" /><path d="M4 4v4h4" /><path d="M4 13a8 8 0 0 0 14.6 4.5L20 16" /><path d="M20 20v-4h-4" />`,
  alert: html`<circle cx="12" cy="12" r="9" /><path d="M12 7.5v5.5" /><path d="M12 16.5v.01" />`,
  compass: html`<circle cx="12" cy="12" r="9" /><path d="M15.5 8.5l-2 5-5 2 2-5z" />`,
  lock: html`<rect x="5" y="11" width="14" height="10" rx="2" /><path d="M8 11V8a4 4 0 0 1 8 0v3" />`,
  check: html`<path d="M5 12.5l4.5 4.5L19 7.5" />`,
};

export function Icon({ name, size = 18, class: className = '' }) {
  return html`<svg class=${`icon ${className}`} width=${size} height=${size} viewBox="0 0 24 24"
    fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"
    stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`;
}

/** URL of the product logo, resolved under the versioned /assets/<v>/ prefix. */
export const LOGO_URL = new URL('../favicon.svg', import.meta.url).href;
