// The department tree (GET /api/v1/departments gives a flat list with
// parent_id links): ordering, indentation, paths and sub-trees.

const INDENT = '\u00a0\u00a0\u00a0';

function byName(a, b) {
  return a.name.localeCompare(b.name, 'zh-CN');
}

/**
 * Depth-first order with siblings by name: [{ dept, depth, childCount }].
 * A department whose parent is missing is shown at the top level; a cycle
 * (which the server refuses) cannot loop here.
 */
export function flattenTree(list) {
  const ids = new Set(list.map((d) => d.id));
  const children = new Map();
  for (const d of list) {
    const parent = d.parent_id && ids.has(d.parent_id) ? d.parent_id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(d);
  }
  for (const group of children.values()) group.sort(byName);
  const out = [];
  const seen = new Set();
  const walk = (parent, depth) => {
    for (const dept of children.get(parent) || []) {
      if (seen.has(dept.id)) continue;
      seen.add(dept.id);
      out.push({ dept, depth, childCount: (children.get(dept.id) || []).length });
      walk(dept.id, depth + 1);
    }
  };
  walk(null, 0);
  // Anything left over belongs to a cycle: show it flat rather than hide it.
  for (const dept of list) if (!seen.has(dept.id)) out.push({ dept, depth: 0, childCount: 0 });
  return out;
}

/** The department and every department below it. */
export function subtreeIds(list, id) {
  const out = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of list) {
      if (d.parent_id && out.has(d.parent_id) && !out.has(d.id)) {
        out.add(d.id);
        grew = true;
      }
    }
  }
  return out;
}

/** Options for a <select>, indented by depth: [{ value, label, disabled }]. */
export function departmentOptions(list, { none, disabledIds } = {}) {
  const options = none ? [{ value: '', label: none }] : [];
  for (const { dept, depth } of flattenTree(list)) {
    const label = depth ? `${INDENT.repeat(depth)}\u2514\u00a0${dept.name}` : dept.name;
    options.push({ value: dept.id, label, disabled: Boolean(disabledIds && disabledIds.has(dept.id)) });
  }
  return options;
}

/** "Head office / Team 1" for a department id; null when unknown. */
export function departmentPath(list, id, separator = ' / ') {
  const byId = new Map(list.map((d) => [d.id, d]));
  const names = [];
  const seen = new Set();
  let current = byId.get(id);
  while (current && !seen.has(current.id)) {
    seen.add(current.id);
    names.unshift(current.name);
    current = current.parent_id ? byId.get(current.parent_id) : null;
  }
  return names.length ? names.join(separator) : null;
}
