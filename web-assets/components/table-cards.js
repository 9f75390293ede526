// Data tables on a phone (≤ 600 px), the audit log included, as a stack of cards: every row a card with its title cell on
// top, the other cells as "label: value" lines and its actions as buttons at the bottom (the
// layout itself is in styles.css, "Tables as cards"). This module only labels the cells, for
// every `table.table` the app renders, so no page repeats it: each cell gets `data-label` (the
// text of its column's header) and the title, action and full-width cells a `data-cell` role.
// A table that fits a phone as a table opts out with the class `table-keep`.
//
// It watches the document (a MutationObserver), so rows added later, a page switched by the
// router or a header re-rendered in another language are labelled too. Its callbacks run
// before the browser paints, so a phone never shows an unlabelled card.

const TABLES = 'table.table';

/** The header text of each column (colspans expanded), from the header's last row. */
function columnLabels(table) {
  const head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
  const labels = [];
  if (!head) return labels;
  for (const th of head.cells) {
    const text = th.textContent.replace(/\s+/g, ' ').trim();
    for (let i = 0; i < (th.colSpan || 1); i++) labels.push(text);
  }
  return labels;
}

/** A cell that holds only buttons (or the deal list's stage control): the row's actions. */
function isActionCell(td) {
  if (td.classList.contains('col-actions') || td.querySelector(':scope > .row-actions')) return true;
  if (td.children.length === 0) return false;
  for (const node of td.childNodes) {
    if (node.nodeType === Node.TEXT_NODE && node.textContent.trim() !== '') return false;
  }
  return [...td.children].every((el) => el.matches('button, a.btn, .btn, .deal-advance'));
}

function set(el, name, value) {
  if (value == null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

/** Labels one table's body cells. Only attributes that change are written. */
export function labelTable(table) {
  const labels = columnLabels(table);
  for (const body of [...table.tBodies, ...(table.tFoot ? [table.tFoot] : [])]) {
    for (const row of body.rows) {
      const cells = [...row.cells];
      const full = cells.length === 1 && labels.length > 1;
      let col = 0;
      let titled = false;
      for (const cell of cells) {
        let role = null;
        if (full) role = 'full';
        else if (cell.classList.contains('cell-check')) role = 'check';
        else if (isActionCell(cell)) role = 'actions';
        else if (!titled) {
          role = 'title';
          titled = true;
        }
        set(cell, 'data-label', role === 'full' || role === 'check' ? null : labels[col] || null);
        set(cell, 'data-cell', role);
        col += cell.colSpan || 1;
      }
    }
  }
}

function tablesIn(node, into) {
  if (node.nodeType === Node.TEXT_NODE) node = node.parentElement;
  if (!node || node.nodeType !== Node.ELEMENT_NODE) return;
  const own = node.closest(TABLES);
  if (own) into.add(own);
  else for (const t of node.querySelectorAll(TABLES)) into.add(t);
}

/** Starts labelling every table in `root` (the app calls it once, at start). */
export function watchTables(root = document.body) {
  for (const table of root.querySelectorAll(TABLES)) labelTable(table);
  const observer = new MutationObserver((mutations) => {
    const tables = new Set();
    for (const m of mutations) {
      tablesIn(m.target, tables);
      for (const n of m.addedNodes) tablesIn(n, tables);
    }
    for (const table of tables) if (table.isConnected) labelTable(table);
  });
  observer.observe(root, { childList: true, subtree: true, characterData: true });
  return observer;
}
