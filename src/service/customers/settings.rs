//! A firm's customer settings — custom field definitions and tag groups (admins edit them,
//! everyone reads them for forms) — users' saved list views, and the staff directory that
//! names owners for any signed-in user.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::capability::Capability;
use crate::domain::custom_field::{self, CustomField};
use crate::domain::org::UserStatus;
use crate::domain::roles::DataScope;
use crate::service::access::auth::Caller;
use crate::service::customers::list::{CustomerFilter, Whose};
use crate::service::{Error, Result, access::audit, new_id};
use crate::store::customer_settings as kv;
use crate::store::{WriteTransaction, tables, users};

/// Who may define fields and tag groups.
const ADMIN_CAPABILITY: Capability = Capability::SettingsManage;

/// Every custom field definition, in display order.
pub(crate) fn custom_fields_w(tx: &WriteTransaction) -> Result<Vec<CustomField>> {
    Ok(sorted(kv::all_w(tx, tables::CUSTOM_FIELDS)?))
}

/// Every custom field definition, in display order (read transaction).
pub(crate) fn custom_fields(tx: &crate::store::ReadTransaction) -> Result<Vec<CustomField>> {
    Ok(sorted(kv::all(tx, tables::CUSTOM_FIELDS)?))
}

fn sorted(mut defs: Vec<CustomField>) -> Vec<CustomField> {
    defs.sort_by(|a, b| (a.order, &a.key).cmp(&(b.order, &b.key)));
    defs
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagGroup {
    pub id: String,
    /// e.g. 资质, 意向, 来源.
    pub name: String,
    pub tags: Vec<String>,
    /// CSS colour for the tags of this group, e.g. `#2f80ed`.
    pub color: Option<String>,
    #[serde(default)]
    pub order: i32,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TagGroupInput {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub color: Option<String>,
    #[serde(default)]
    pub order: i32,
}

fn check_group(g: &TagGroupInput) -> Result<()> {
    if g.name.trim().is_empty() || g.name.chars().count() > 16 {
        return Err(Error::validation("name", "分组名称不能为空，最多16个字符"));
    }
    if !crate::domain::text::single_line_ok(&g.name) {
        return Err(Error::validation("name", crate::domain::text::REFUSED));
    }
    if g.tags.len() > 100
        || g.tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 16)
    {
        return Err(Error::validation(
            "tags",
            "标签不能为空，每个最多16个字符，最多100个",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if !g.tags.iter().all(|t| seen.insert(t.trim())) {
        return Err(Error::validation("tags", "标签不能重复"));
    }
    if let Some(c) = &g.color {
        let ok = c.len() == 7
            && c.starts_with('#')
            && c.chars().skip(1).all(|ch| ch.is_ascii_hexdigit());
        if !ok {
            return Err(Error::validation("color", "颜色应为 #RRGGBB 格式"));
        }
    }
    Ok(())
}

/// A customer-list view: a named filter. Built-in views have fixed ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SavedView {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub builtin: bool,
    pub filter: CustomerFilter,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SavedViewInput {
    pub name: String,
    #[serde(default)]
    pub filter: CustomerFilter,
}

/// A colleague as any signed-in user may see them: enough to name an owner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirectoryEntry {
    pub id: String,
    pub display_name: String,
    pub department_id: Option<String>,
    pub status: UserStatus,
    /// Whether the caller may hand customers to this colleague: active, within the caller's
    /// data scope, and able to work customers (to read and edit them), as a departure's
    /// successor must be. Pickers offer only these.
    pub may_receive: bool,
}

/// The built-in views; 下属负责的 only for a caller whose data scope covers others' customers.
fn builtin_views(scope: DataScope) -> Vec<SavedView> {
    let view = |id: &str, name: &str, whose: Option<Whose>| SavedView {
        id: id.into(),
        name: name.into(),
        builtin: true,
        filter: CustomerFilter {
            whose,
            ..Default::default()
        },
    };
    let mut views = vec![view("mine", "我负责的", Some(Whose::Mine))];
    if scope != DataScope::Own {
        views.push(view("team", "下属负责的", Some(Whose::Team)));
    }
    views.push(view("all", "全部", None));
    views
}

impl crate::service::customers::UseCases<'_> {
    pub fn list_custom_fields(&self, caller: &Caller) -> Result<Vec<CustomField>> {
        caller.require(Capability::CustomerRead)?;
        self.store.read(custom_fields)
    }

    /// Creates (`creating`) or replaces the definition under `def.key`.
    pub fn save_custom_field(
        &self,
        caller: &Caller,
        def: CustomField,
        creating: bool,
        source: &str,
    ) -> Result<CustomField> {
        caller.require(ADMIN_CAPABILITY)?;
        custom_field::check_definition(&def).map_err(|(f, r)| Error::validation(f, r))?;
        let now = self.now();
        self.store.write(|tx| {
            let existing: Option<CustomField> = kv::get_w(tx, tables::CUSTOM_FIELDS, &def.key)?;
            match (creating, existing.is_some()) {
                (true, true) => {
                    return Err(Error::Conflict {
                        code: "custom_field_exists",
                        message: format!("字段键「{}」已存在", def.key),
                    });
                }
                (false, false) => return Err(Error::NotFound),
                _ => {}
            }
            kv::put(tx, tables::CUSTOM_FIELDS, &def.key, &def)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    if creating {
                        "custom_field.created"
                    } else {
                        "custom_field.updated"
                    },
                    source,
                    Some(def.key.clone()),
                    json!({"label": def.label, "kind": def.kind, "active": def.active}),
                ),
            )?;
            Ok(def)
        })
    }

    /// Removes a definition. Values already on customers stay (and still export as raw JSON
    /// nowhere: only active definitions are exported); deactivate instead to keep the column.
    pub fn delete_custom_field(&self, caller: &Caller, key: &str, source: &str) -> Result<()> {
        caller.require(ADMIN_CAPABILITY)?;
        let now = self.now();
        self.store.write(|tx| {
            if !kv::remove(tx, tables::CUSTOM_FIELDS, key)? {
                return Err(Error::NotFound);
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "custom_field.deleted",
                    source,
                    Some(key.into()),
                    json!({}),
                ),
            )
        })
    }

    pub fn list_tag_groups(&self, caller: &Caller) -> Result<Vec<TagGroup>> {
        caller.require(Capability::CustomerRead)?;
        let mut groups: Vec<TagGroup> = self.store.read(|tx| kv::all(tx, tables::TAG_GROUPS))?;
        groups.sort_by(|a, b| (a.order, &a.id).cmp(&(b.order, &b.id)));
        Ok(groups)
    }

    /// Creates a group (`id` None) or replaces one.
    pub fn save_tag_group(
        &self,
        caller: &Caller,
        id: Option<&str>,
        input: TagGroupInput,
        source: &str,
    ) -> Result<TagGroup> {
        caller.require(ADMIN_CAPABILITY)?;
        check_group(&input)?;
        let now = self.now();
        self.store.write(|tx| {
            let id = match id {
                Some(id) => {
                    let old: Option<TagGroup> = kv::get_w(tx, tables::TAG_GROUPS, id)?;
                    old.ok_or(Error::NotFound)?.id
                }
                None => new_id(now),
            };
            let g = TagGroup {
                id,
                name: input.name.trim().to_string(),
                tags: input.tags.iter().map(|t| t.trim().to_string()).collect(),
                color: input.color,
                order: input.order,
            };
            kv::put(tx, tables::TAG_GROUPS, &g.id, &g)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "tag_group.saved",
                    source,
                    Some(g.id.clone()),
                    json!({"name": g.name, "tags": g.tags.len()}),
                ),
            )?;
            Ok(g)
        })
    }

    pub fn delete_tag_group(&self, caller: &Caller, id: &str, source: &str) -> Result<()> {
        caller.require(ADMIN_CAPABILITY)?;
        let now = self.now();
        self.store.write(|tx| {
            if !kv::remove(tx, tables::TAG_GROUPS, id)? {
                return Err(Error::NotFound);
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "tag_group.deleted",
                    source,
                    Some(id.into()),
                    json!({}),
                ),
            )
        })
    }

    /// The built-in views and the caller's own.
    pub fn list_views(&self, caller: &Caller) -> Result<Vec<SavedView>> {
        caller.require(Capability::CustomerRead)?;
        let prefix = format!("{}/view/", caller.user.id);
        let mine: Vec<SavedView> = self
            .store
            .read(|tx| kv::with_prefix(tx, tables::USER_PREFS, &prefix))?;
        Ok(builtin_views(caller.access.scope)
            .into_iter()
            .chain(mine)
            .collect())
    }

    pub fn save_view(&self, caller: &Caller, input: SavedViewInput) -> Result<SavedView> {
        caller.require(Capability::CustomerRead)?;
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 16 {
            return Err(Error::validation("name", "视图名称不能为空，最多16个字符"));
        }
        if !crate::domain::text::single_line_ok(name) {
            return Err(Error::validation("name", crate::domain::text::REFUSED));
        }
        let now = self.now();
        let mut filter = input.filter;
        filter.cursor = None;
        filter.limit = None;
        let view = SavedView {
            id: new_id(now),
            name: name.to_string(),
            builtin: false,
            filter,
        };
        let prefix = format!("{}/view/", caller.user.id);
        self.store.write(|tx| {
            let count = kv::count_prefix_w(tx, tables::USER_PREFS, &prefix)?;
            if count >= 20 {
                return Err(Error::validation("name", "最多保存20个视图"));
            }
            kv::put(
                tx,
                tables::USER_PREFS,
                &format!("{prefix}{}", view.id),
                &view,
            )?;
            Ok(())
        })?;
        Ok(view)
    }

    pub fn delete_view(&self, caller: &Caller, id: &str) -> Result<()> {
        caller.require(Capability::CustomerRead)?;
        let key = format!("{}/view/{id}", caller.user.id);
        self.store.write(|tx| {
            if kv::remove(tx, tables::USER_PREFS, &key)? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
    }

    /// Every account's name, department and status (no phones, no roles): for owner pickers
    /// and timelines; with whether the caller may hand customers to each.
    pub fn user_directory(&self, caller: &Caller) -> Result<Vec<DirectoryEntry>> {
        let scope = self.scope_of(caller)?;
        let (mut all, roles) = self
            .store
            .read(|tx| Ok::<_, Error>((users::all(tx)?, crate::store::org::roles(tx)?)))?;
        all.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(all
            .into_iter()
            .map(|u| DirectoryEntry {
                may_receive: crate::service::customers::recipient::refusal(&scope, &roles, &u)
                    .is_none(),
                id: u.id,
                display_name: u.display_name,
                department_id: u.department_id,
                status: u.status,
            })
            .collect())
    }
}
