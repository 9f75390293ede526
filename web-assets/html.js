// htm bound to Preact's h(): tagged templates instead of JSX (no build step).
import { h } from './vendor/preact/preact.module.js';
import htm from './vendor/htm/htm.module.js';

export const html = htm.bind(h);
