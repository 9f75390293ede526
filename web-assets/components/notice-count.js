// The bell's count (components/notices.js), apart from the page so node can test it.

/** The log position a user last opened the panel at; null when this browser has none (0 is a position: an empty log). */
export function readSeenFrom(storage, key) {
  try {
    const raw = storage.getItem(key);
    if (raw === null) return null;
    const v = Number(raw);
    return Number.isInteger(v) && v >= 0 ? v : null;
  } catch {
    return null;
  }
}

/**
 * What the bell counts: notices since the panel was last opened, less those already done
 * (a transfer request someone has decided leaves nothing to do).
 */
export function unreadCount(latest, seen, items) {
  if (seen === null) return 0;
  const done = items.filter((n) => n.seq > seen && n.done).length;
  return Math.max(0, latest - seen - done);
}

/** Sent by whoever decides a transfer request, so the bell shows it done at once. */
export const NOTICES_CHANGED = 'zhudai:notices-changed';
