// /admin/departments — the department tree (capability user.manage): add at
// the top level or under a department, rename, move, delete an empty one.
import { useEffect, useRef, useState } from '../vendor/preact/hooks.module.js';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { api } from '../api.js';
import { errorText, placeError } from '../errors.js';
import { Field } from '../components/field.js';
import { SelectField } from '../components/form.js';
import { ConfirmDialog, FormDialog } from '../components/dialog.js';
import { EmptyState, LoadError, Loading } from '../components/states.js';
import { Icon } from '../components/icons.js';
import { toast } from '../components/toast.js';
import { departmentOptions, departmentPath, flattenTree, subtreeIds } from '../components/departments.js';

const NAME_MAX = 32;
// Conflicts that belong to a field of the form.
const CODE_FIELD = { department_exists: 'name' };

function place(error, fields) {
  const codeField = CODE_FIELD[error?.code];
  if (codeField && fields.includes(codeField)) return { field: codeField, text: errorText(error) };
  return placeError(error, fields);
}

/**
 * One dialog for the three edits: mode "create" (name + parent), "rename"
 * (name) and "move" (parent). PATCH takes name and parent together, so the
 * unchanged one is sent as it is.
 */
function DepartmentDialog({ mode, dept, parentId, departments, topLevel, onClose, onSaved }) {
  const [name, setName] = useState(dept ? dept.name : '');
  const [parent, setParent] = useState(mode === 'create' ? (parentId || '') : (dept?.parent_id || ''));
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const nameRef = useRef(null);
  const parentRef = useRef(null);
  const fields = mode === 'move' ? ['parent_id'] : mode === 'rename' ? ['name'] : ['name', 'parent_id'];

  const onSubmit = async () => {
    setFormError(null);
    const trimmed = name.trim();
    if (fields.includes('name')) {
      if (!trimmed) {
        setErrors({ name: t('departments.nameRequired') });
        nameRef.current?.focus();
        return;
      }
      if (Array.from(trimmed).length > NAME_MAX) {
        setErrors({ name: t('departments.nameTooLong', { max: NAME_MAX }) });
        nameRef.current?.focus();
        return;
      }
    }
    setErrors({});
    const body = { name: mode === 'move' ? dept.name : trimmed, parent_id: parent || null };
    if (mode !== 'create' && body.name === dept.name && body.parent_id === (dept.parent_id || null)) {
      onClose();
      return;
    }
    setBusy(true);
    try {
      const saved = mode === 'create'
        ? await api('POST', '/api/v1/departments', body)
        : await api('PATCH', `/api/v1/departments/${encodeURIComponent(dept.id)}`, body);
      onSaved(saved);
    } catch (error) {
      setBusy(false);
      const placed = place(error, fields);
      if (placed.field) {
        setErrors({ [placed.field]: placed.text });
        (placed.field === 'name' ? nameRef : parentRef).current?.focus();
      } else {
        setFormError(placed.text);
      }
    }
  };

  // A department cannot go below itself or below one of its own sub-departments, nor under
  // one the caller may not manage (the server's may_manage flag).
  const blocked = new Set(dept && mode === 'move' ? subtreeIds(departments, dept.id) : []);
  for (const d of departments) if (!d.may_manage) blocked.add(d.id);
  const options = departmentOptions(departments, { none: t('departments.topLevel'), disabledIds: blocked });
  if (!topLevel) options[0].disabled = true;
  let title;
  if (mode === 'create') {
    title = parentId
      ? t('departments.createUnder.title', { parent: departmentPath(departments, parentId) })
      : t('departments.create.title');
  } else if (mode === 'rename') title = t('departments.rename.title', { name: dept.name });
  else title = t('departments.move.title', { name: dept.name });

  return html`<${FormDialog} title=${title} onClose=${onClose} onSubmit=${onSubmit} busy=${busy} testid="dept-dialog"
    submitLabel=${mode === 'create' ? t('common.create') : t('common.save')}
    busyLabel=${mode === 'create' ? t('common.creating') : t('common.saving')} error=${formError}>
    ${fields.includes('name') && html`<${Field} id="dept-name" label=${t('departments.field.name')} value=${name}
      onInput=${(v) => { setName(v); setErrors({}); }} error=${errors.name} autocomplete="off" inputRef=${nameRef}
      hint=${t('departments.nameHint', { max: NAME_MAX })} testid="dept-name" maxLength=${64} />`}
    ${fields.includes('parent_id') && html`<${SelectField} id="dept-parent" label=${t('departments.field.parent')}
      value=${parent} onChange=${(v) => { setParent(v); setErrors({}); }} options=${options} error=${errors.parent_id}
      inputRef=${parentRef} testid="dept-parent"
      hint=${mode === 'move' ? t('departments.moveHint') : null} />`}
  <//>`;
}

function DeleteDepartmentDialog({ dept, members, children, onClose, onDeleted }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const onConfirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await api('DELETE', `/api/v1/departments/${encodeURIComponent(dept.id)}`);
      onDeleted();
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
    }
  };
  const notEmpty = members > 0 || children > 0;
  return html`<${ConfirmDialog} title=${t('departments.delete.title', { name: dept.name })}
    body=${t('departments.delete.body', { name: dept.name })} confirmLabel=${t('common.delete')}
    busyLabel=${t('common.deleting')} busy=${busy} error=${error} onConfirm=${onConfirm} onClose=${onClose}>
    ${notEmpty && html`<p class="confirm-note" data-testid="dept-delete-warning">
      ${t('departments.delete.notEmpty', { members, children })}</p>`}
  <//>`;
}

export function AdminDepartmentsPage() {
  const [state, setState] = useState({ status: 'loading' });
  const [dialog, setDialog] = useState(null); // { type, dept?, parentId? }

  const load = async ({ quiet = false } = {}) => {
    if (!quiet) setState({ status: 'loading' });
    try {
      // Member counts need GET /users (user.manage, which this page requires anyway).
      const [departments, users] = await Promise.all([
        api('GET', '/api/v1/departments'),
        api('GET', '/api/v1/users').catch(() => null),
      ]);
      setState({
        status: 'ready',
        departments: departments.items,
        topLevel: Boolean(departments.may_create_top_level),
        users: users ? users.items : null,
      });
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  useEffect(() => {
    load();
  }, []);

  const close = () => setDialog(null);
  const saved = (message) => {
    close();
    toast(message);
    load({ quiet: true });
  };

  let body;
  if (state.status === 'loading') body = html`<${Loading} testid="departments-loading" />`;
  else if (state.status === 'error') body = html`<${LoadError} error=${state.error} onRetry=${() => load()} testid="departments-error" />`;
  else if (!state.departments.length) {
    body = html`<${EmptyState} icon="departments" title=${t('departments.empty.title')} body=${t('departments.empty.body')}
      testid="departments-empty">
      ${state.topLevel && html`<button type="button" class="btn btn-primary" onClick=${() => setDialog({ type: 'create' })}>
        <${Icon} name="plus" size=${16} /><span>${t('departments.create.button')}</span>
      </button>`}
    <//>`;
  } else {
    const counts = new Map();
    let unassigned = 0;
    for (const u of state.users || []) {
      if (u.department_id) counts.set(u.department_id, (counts.get(u.department_id) || 0) + 1);
      else unassigned += 1;
    }
    const rows = flattenTree(state.departments);
    // Somewhere to move a department to: the top level, or a managed one outside its subtree.
    const canMove = (dept) => state.topLevel || state.departments.some((d) => d.may_manage
      && d.id !== dept.parent_id && !subtreeIds(state.departments, dept.id).has(d.id));
    body = html`<ul class="tree" data-testid="dept-tree" aria-label=${t('departments.treeLabel')}>
      ${rows.map(({ dept, depth, childCount }) => {
        const members = counts.get(dept.id) || 0;
        return html`<li key=${dept.id} class="tree-row" style=${`--depth:${depth}`} data-testid=${`dept-row-${dept.id}`}
          data-name=${dept.name} data-depth=${depth}>
          <div class="tree-name">
            <span class="tree-guide" aria-hidden="true"></span>
            <${Icon} name="folder" size=${16} class="tree-icon" />
            <span class="tree-label">${dept.name}</span>
            ${depth > 0 && html`<span class="visually-hidden">${t('departments.levelAria', { level: depth + 1 })}</span>`}
          </div>
          <div class="tree-meta">
            ${state.users && html`<span class="tag" data-testid="dept-members">${t('departments.members', { count: members })}</span>`}
            ${childCount > 0 && html`<span class="tag tag-muted">${t('departments.children', { count: childCount })}</span>`}
          </div>
          ${dept.may_manage && html`<div class="row-actions">
            <button type="button" class="btn btn-sm btn-text" data-testid="dept-add-child"
              aria-label=${t('departments.addChildAria', { name: dept.name })}
              onClick=${() => setDialog({ type: 'create', parentId: dept.id })}><${Icon} name="plus" size=${15} />${t('departments.addChild')}</button>
            <button type="button" class="btn btn-sm btn-text" data-testid="dept-rename"
              aria-label=${t('departments.renameAria', { name: dept.name })}
              onClick=${() => setDialog({ type: 'rename', dept })}><${Icon} name="edit" size=${15} />${t('departments.rename')}</button>
            ${canMove(dept) && html`<button type="button" class="btn btn-sm btn-text" data-testid="dept-move"
              aria-label=${t('departments.moveAria', { name: dept.name })}
              onClick=${() => setDialog({ type: 'move', dept })}><${Icon} name="move" size=${15} />${t('departments.move')}</button>`}
            <button type="button" class="btn btn-sm btn-text btn-text-danger" data-testid="dept-delete"
              aria-label=${t('departments.deleteAria', { name: dept.name })}
              onClick=${() => setDialog({ type: 'delete', dept, members, children: childCount })}><${Icon} name="trash" size=${15} />${t('common.delete')}</button>
          </div>`}
        </li>`;
      })}
    </ul>
    ${state.users && html`<p class="card-foot muted" data-testid="dept-unassigned">${t('departments.unassigned', { count: unassigned })}</p>`}`;
  }

  const ready = state.status === 'ready';
  return html`<section class="page" data-testid="page-admin-departments">
    <header class="page-header page-header-row">
      <div>
        <h1 class="page-title">${t('departments.title')}</h1>
        <p class="page-subtitle">${t('departments.subtitle')}</p>
      </div>
      ${(!ready || state.topLevel) && html`<button type="button" class="btn btn-primary" disabled=${!ready} data-testid="dept-create"
        onClick=${() => setDialog({ type: 'create' })}>
        <${Icon} name="plus" size=${16} /><span>${t('departments.create.button')}</span>
      </button>`}
    </header>
    <div class="card card-flush">${body}</div>

    ${ready && dialog && dialog.type !== 'delete' && html`<${DepartmentDialog} mode=${dialog.type} dept=${dialog.dept}
      parentId=${dialog.parentId} departments=${state.departments} topLevel=${state.topLevel} onClose=${close}
      onSaved=${(d) => saved(dialog.type === 'create' ? t('departments.created', { name: d.name }) : t('departments.saved', { name: d.name }))} />`}
    ${ready && dialog?.type === 'delete' && html`<${DeleteDepartmentDialog} dept=${dialog.dept} members=${dialog.members}
      children=${dialog.children} onClose=${close}
      onDeleted=${() => saved(t('departments.deleted', { name: dialog.dept.name }))} />`}
  </section>`;
}
