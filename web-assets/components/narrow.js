// Phone-sized screens (≤ 600 px): pages that change their structure there (the customer list's
// cards and filter drawer, the customer page's action menu) follow this one media query.
import { useEffect, useState } from '../vendor/preact/hooks.module.js';

export const NARROW_QUERY = '(max-width: 600px)';

/** True while the viewport is phone-sized; re-renders when that changes (rotation, resize). */
export function useNarrow() {
  const [narrow, setNarrow] = useState(() => window.matchMedia(NARROW_QUERY).matches);
  useEffect(() => {
    const mq = window.matchMedia(NARROW_QUERY);
    const changed = () => setNarrow(mq.matches);
    mq.addEventListener('change', changed);
    changed();
    return () => mq.removeEventListener('change', changed);
  }, []);
  return narrow;
}
