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
  users: html`<circle cx="9" cy="8" r="3.5" /><path d="M2.5 20a6.5 6.5 0 0 1 13 0" /><path d="M16 4.6a3.5 3.5 0 0 1 0 6.8" /><path d="M18 14.2a6.5 6.5 0 0 1 3.5 5.8" />`,
  user: html`<circle cx="12" cy="8" r="4" /><path d="M4 21a8 8 0 0 1 16 0" />`,
  departments: html`<rect x="9" y="3" width="6" height="5" rx="1" /><rect x="3" y="16" width="6" height="5" rx="1" /><rect x="15" y="16" width="6" height="5" rx="1" /><path d="M12 8v4" /><path d="M6 16v-2a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v2" />`,
  shield: html`<path d="M12 3l7.5 3v5.5c0 4.5-3.2 8.3-7.5 9.5-4.3-1.2-7.5-5-7.5-9.5V6z" /><path d="M9 12l2 2 4-4" />`,
  audit: html`<rect x="5" y="4" width="14" height="17" rx="2" /><path d="M9 4V3h6v1" /><path d="M9 10h6" /><path d="M9 14h6" /><path d="M9 18h3" />`,
  plus: html`<path d="M12 5v14" /><path d="M5 12h14" />`,
  edit: html`<path d="M4 20h4L19 9l-4-4L4 16z" /><path d="M13.5 6.5l4 4" />`,
  key: html`<circle cx="8" cy="15" r="4" /><path d="M11 12l9-9" /><path d="M16 7l3 3" /><path d="M14 9l2 2" />`,
  trash: html`<path d="M4 7h16" /><path d="M10 11v6" /><path d="M14 11v6" /><path d="M6 7l1 13h10l1-13" /><path d="M9 7V4h6v3" />`,
  copy: html`<rect x="9" y="9" width="11" height="11" rx="2" /><path d="M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1" />`,
  close: html`<path d="M6 6l12 12" /><path d="M18 6L6 18" />`,
  search: html`<circle cx="11" cy="11" r="7" /><path d="M20 20l-4-4" />`,
  move: html`<path d="M5 9l-3 3 3 3" /><path d="M9 5l3-3 3 3" /><path d="M15 19l-3 3-3-3" /><path d="M19 9l3 3-3 3" /><path d="M2 12h20" /><path d="M12 2v20" />`,
  folder: html`<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" />`,
  token: html`<circle cx="7.5" cy="12" r="3.5" /><path d="M11 12h10" /><path d="M17 12v3" /><path d="M20 12v2" />`,
  backup: html`<ellipse cx="12" cy="5.5" rx="7.5" ry="2.5" /><path d="M4.5 5.5v6c0 1.4 3.4 2.5 7.5 2.5s7.5-1.1 7.5-2.5v-6" /><path d="M4.5 11.5v6c0 1.4 3.4 2.5 7.5 2.5" /><path d="M16 19l2 2 3.5-4" />`,
  contacts: html`<rect x="3" y="4" width="18" height="16" rx="2" /><circle cx="9" cy="10.5" r="2.5" /><path d="M5 17a4 4 0 0 1 8 0" /><path d="M15 9h3" /><path d="M15 13h3" />`,
  phone: html`<path d="M5 4h3.5l1.5 4.5-2.2 1.4a11 11 0 0 0 6.3 6.3l1.4-2.2L20 15.5V19a1.5 1.5 0 0 1-1.6 1.5A16.5 16.5 0 0 1 3.5 5.6 1.5 1.5 0 0 1 5 4z" />`,
  eye: html`<path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z" /><circle cx="12" cy="12" r="3" />`,
  calculator: html`<rect x="5" y="3" width="14" height="18" rx="2" /><rect x="8" y="6" width="8" height="3.5" rx="0.5" /><path d="M8.5 13h.01" /><path d="M12 13h.01" /><path d="M15.5 13h.01" /><path d="M8.5 17h.01" /><path d="M12 17h.01" /><path d="M15.5 17h.01" />`,
  clock: html`<circle cx="12" cy="12" r="9" /><path d="M12 7v5l3 2" />`,
  bell: html`<path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z" /><path d="M10 20a2 2 0 0 0 4 0" />`,
  funnel: html`<path d="M3 4h18l-7 8.5V19l-4 2v-8.5z" />`,
  chart: html`<path d="M4 20h16" /><rect x="6" y="11" width="3" height="6" rx="0.5" /><rect x="11" y="6" width="3" height="11" rx="0.5" /><rect x="16" y="9" width="3" height="8" rx="0.5" />`,
  target: html`<circle cx="12" cy="12" r="9" /><circle cx="12" cy="12" r="5" /><circle cx="12" cy="12" r="1" />`,
  coins: html`<ellipse cx="9" cy="7" rx="6" ry="2.5" /><path d="M3 7v4c0 1.4 2.7 2.5 6 2.5s6-1.1 6-2.5V7" /><path d="M9 16.5c-3.3 0-6-1.1-6-2.5" /><path d="M3 11v6c0 1.4 2.7 2.5 6 2.5 1.2 0 2.3-.1 3.2-.4" /><circle cx="17" cy="16" r="4.5" />`,
  wallet: html`<path d="M4 6.5A2.5 2.5 0 0 1 6.5 4H18v4" /><rect x="4" y="8" width="17" height="12" rx="2" /><path d="M16 14h.01" />`,
  receipt: html`<path d="M6 3h12v18l-3-2-3 2-3-2-3 2z" /><path d="M9 8h6" /><path d="M9 12h6" /><path d="M9 16h3" />`,
  percent: html`<path d="M19 5L5 19" /><circle cx="7" cy="7" r="2.5" /><circle cx="17" cy="17" r="2.5" />`,
  share: html`<circle cx="6" cy="12" r="2.5" /><circle cx="18" cy="6" r="2.5" /><circle cx="18" cy="18" r="2.5" /><path d="M8.3 10.8l7.4-3.6" /><path d="M8.3 13.2l7.4 3.6" />`,
  userCheck: html`<circle cx="9" cy="8" r="4" /><path d="M2 21a7 7 0 0 1 12.5-4.3" /><path d="M15 18l2 2 4-4" />`,
  box: html`<path d="M12 3l8 4.5v9L12 21l-8-4.5v-9z" /><path d="M4 7.5l8 4.5 8-4.5" /><path d="M12 12v9" />`,
  form: html`<rect x="5" y="3" width="14" height="18" rx="2" /><path d="M9 8h6" /><path d="M9 12h6" /><path d="M9 16h2" /><path d="M14 17l1.5 1.5L18 16" />`,
  sliders: html`<path d="M4 7h10" /><path d="M18 7h2" /><circle cx="16" cy="7" r="2" /><path d="M4 17h4" /><path d="M12 17h8" /><circle cx="10" cy="17" r="2" />`,
  fileText: html`<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z" /><path d="M14 3v5h5" /><path d="M9 13h6" /><path d="M9 17h6" />`,
  calendar: html`<rect x="4" y="5" width="16" height="16" rx="2" /><path d="M4 10h16" /><path d="M9 3v4" /><path d="M15 3v4" /><path d="M10 15.5l1.5 1.5 3-3" />`,
  puzzle: html`<path d="M10 4a2 2 0 0 1 4 0v2h4v4h-1.5a2 2 0 0 0 0 4H18v4h-4v-1.5a2 2 0 0 0-4 0V20H6v-4h1.5a2 2 0 0 0 0-4H6V6h4z" />`,
  handshake: html`<path d="M2 11l4-4 4 2 2-1 4 1 4 4" /><path d="M6 7v6l5 5a1.5 1.5 0 0 0 2-2" /><path d="M11 16l2 2a1.5 1.5 0 0 0 2-2l-3-3" /><path d="M22 11l-4 4" />`,
  grid: html`<rect x="4" y="4" width="6" height="6" rx="1.5" /><rect x="14" y="4" width="6" height="6" rx="1.5" /><rect x="4" y="14" width="6" height="6" rx="1.5" /><rect x="14" y="14" width="6" height="6" rx="1.5" />`,
  briefcase: html`<rect x="3" y="7" width="18" height="13" rx="2" /><path d="M9 7V5a2 2 0 0 1 2-2h2a2 2 0 0 1 2 2v2" /><path d="M3 13h18" />`,
};

export function Icon({ name, size = 18, class: className = '' }) {
  return html`<svg class=${`icon ${className}`} width=${size} height=${size} viewBox="0 0 24 24"
    fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"
    stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`;
}

/** URL of the product logo, resolved under the versioned /assets/<v>/ prefix. */
export const LOGO_URL = new URL('../favicon.svg', import.meta.url).href;
