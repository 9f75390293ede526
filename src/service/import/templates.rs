//! Saved column mappings (导入模板): a firm imports the same export of the same tool every
//! week, so the mapping chosen once is kept by name and applied to files whose headers match.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::super::access::auth::Caller;
use super::super::{Error, Result, access::audit, new_id};
use super::Mapping;
use crate::domain::capability::Capability;
use crate::store::{codec, tables};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportTemplate {
    pub id: String,
    pub name: String,
    /// Header → field (`null`: ignore the column).
    #[schema(value_type = Object)]
    pub mapping: Mapping,
    pub created_by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTemplate {
    pub name: String,
    #[schema(value_type = Object)]
    pub mapping: Mapping,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub items: Vec<ImportTemplate>,
}

impl ImportTemplate {
    /// A template applies to a file that has every header it names.
    pub fn matches(&self, headers: &[String]) -> bool {
        !self.mapping.is_empty()
            && self
                .mapping
                .keys()
                .all(|h| headers.iter().any(|c| c.trim() == h))
    }
}

impl crate::service::import::UseCases<'_> {
    pub fn import_template(&self, id: &str) -> Result<ImportTemplate> {
        let found: Option<ImportTemplate> = self.store.read(|tx| {
            let t = tx.open_table(tables::IMPORT_TEMPLATES)?;
            let v = t.get(id)?;
            v.map(|v| codec::decode("import_templates", v.value()))
                .transpose()
        })?;
        found.ok_or(Error::NotFound)
    }

    pub fn list_import_templates(&self, caller: &Caller) -> Result<TemplateList> {
        caller.require(Capability::CustomerImport)?;
        let items = self.store.read(|tx| {
            let t = tx.open_table(tables::IMPORT_TEMPLATES)?;
            let mut out = Vec::new();
            for row in redb::ReadableTable::iter(&t)? {
                let (_, v) = row?;
                out.push(codec::decode::<ImportTemplate>(
                    "import_templates",
                    v.value(),
                )?);
            }
            Ok::<_, crate::store::Error>(out)
        })?;
        Ok(TemplateList { items })
    }

    pub fn create_import_template(
        &self,
        caller: &Caller,
        new: NewTemplate,
        source: &str,
    ) -> Result<ImportTemplate> {
        caller.require(Capability::CustomerImport)?;
        let name = new.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Error::validation("name", "模板名称不能为空，最多64个字符"));
        }
        let mapping: Mapping = new
            .mapping
            .into_iter()
            .map(|(h, f)| {
                let f = f.filter(|f| !f.is_empty() && f != "ignore");
                (h.trim().to_string(), f)
            })
            .filter(|(h, _)| !h.is_empty())
            .collect();
        if mapping.is_empty() || mapping.len() > super::source::MAX_COLUMNS as usize {
            return Err(Error::validation("mapping", "模板至少需要一列映射"));
        }
        let headers: Vec<String> = mapping.keys().cloned().collect();
        super::resolve_columns(&headers, &mapping, &self.custom_field_defs()?)?;
        let now = self.now();
        let t = ImportTemplate {
            id: new_id(now),
            name,
            mapping,
            created_by: caller.user.id.clone(),
            at: now,
        };
        self.store.write(|tx| {
            let clash = (|| {
                let mut table = tx.open_table(tables::IMPORT_TEMPLATES)?;
                for row in redb::ReadableTable::iter(&table)? {
                    let (_, v) = row?;
                    let other: ImportTemplate = codec::decode("import_templates", v.value())?;
                    if other.name == t.name {
                        return Ok::<_, crate::store::Error>(true);
                    }
                }
                table.insert(t.id.as_str(), codec::encode(&t)?.as_slice())?;
                Ok(false)
            })()?;
            if clash {
                return Err(Error::Conflict {
                    code: "template_exists",
                    message: format!("已有同名模板“{}”", t.name),
                });
            }
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "import_template.created",
                    source,
                    Some(t.id.clone()),
                    json!({"name": t.name}),
                ),
            )
        })?;
        Ok(t)
    }

    pub fn delete_import_template(&self, caller: &Caller, id: &str, source: &str) -> Result<()> {
        caller.require(Capability::CustomerImport)?;
        let t = self.import_template(id)?;
        // Anyone who imports may use a template; only its author or an admin removes it.
        if t.created_by != caller.user.id && !caller.can(Capability::SettingsManage) {
            return Err(Error::Forbidden(Capability::SettingsManage.as_str().into()));
        }
        let now = self.now();
        self.store.write(|tx| {
            (|| {
                tx.open_table(tables::IMPORT_TEMPLATES)?.remove(id)?;
                Ok::<_, crate::store::Error>(())
            })()?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "import_template.deleted",
                    source,
                    Some(id.to_string()),
                    json!({"name": t.name}),
                ),
            )
        })
    }
}
