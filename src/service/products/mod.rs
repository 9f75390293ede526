//! Credit products (信贷产品): written by holders of `product.manage`, read by every signed-in
//! user with `customer.read` (salespeople match customers against them); every version kept,
//! every change audited in its transaction. Matching a customer lives in `matching.rs`.

crate::service::use_cases!(products, "Credit products and product matching.");

pub mod matching;
pub mod reverse;
pub mod sheet;

use serde::Serialize;
use serde_json::json;

use super::access::audit;
use super::access::auth::Caller;
use super::{Error, Result, new_id};
use crate::domain::capability::Capability;
use crate::domain::product::{self, Category, Product, ProductInput};
use crate::store;

/// Which products a list shows.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// `true`: only active products; `false`: only inactive; absent: all.
    pub active: Option<bool>,
    pub category: Option<Category>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductList {
    pub items: Vec<Product>,
    pub total: usize,
}

fn checked(mut input: ProductInput) -> Result<ProductInput> {
    product::normalise(&mut input);
    product::check(&input).map_err(|(field, reason)| Error::validation(field, reason))?;
    Ok(input)
}

/// The names of the top-level fields that differ between two versions, for the audit row.
fn changed_fields(before: &ProductInput, after: &ProductInput) -> Result<Vec<String>> {
    let (a, b) = (json(before)?, json(after)?);
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Err(Error::Internal(
            "a product did not encode as an object".into(),
        ));
    };
    Ok(b.iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect())
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("product: {e}")))
}

impl crate::service::products::UseCases<'_> {
    fn require_read(caller: &Caller) -> Result<()> {
        caller.require(Capability::CustomerRead)
    }

    pub fn list_products(&self, caller: &Caller, f: &ProductFilter) -> Result<ProductList> {
        Self::require_read(caller)?;
        let mut items = self.store.read(store::products::all)?;
        items.retain(|p| {
            f.active.is_none_or(|a| p.terms.active == a)
                && f.category.is_none_or(|c| p.terms.category == c)
        });
        items.sort_by(|a, b| {
            (b.terms.active, a.terms.category as u8, &a.terms.name).cmp(&(
                a.terms.active,
                b.terms.category as u8,
                &b.terms.name,
            ))
        });
        Ok(ProductList {
            total: items.len(),
            items,
        })
    }

    pub fn get_product(&self, caller: &Caller, id: &str) -> Result<Product> {
        Self::require_read(caller)?;
        self.store
            .read(|tx| store::products::get(tx, id))?
            .ok_or(Error::NotFound)
    }

    /// Every version of a product, oldest first.
    pub fn product_versions(&self, caller: &Caller, id: &str) -> Result<Vec<Product>> {
        Self::require_read(caller)?;
        let versions = self.store.read(|tx| store::products::versions(tx, id))?;
        if versions.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(versions)
    }

    pub fn create_product(
        &self,
        caller: &Caller,
        input: ProductInput,
        source: &str,
    ) -> Result<Product> {
        caller.require(Capability::ProductManage)?;
        let terms = checked(input)?;
        let now = self.now();
        self.store.write(|tx| {
            Self::unique_name(tx, &terms, None)?;
            let p = Product {
                id: new_id(now),
                terms,
                version: 1,
                created_at: now,
                updated_at: now,
                updated_by: caller.user.id.clone(),
            };
            store::products::put(tx, &p)?;
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    "product.created",
                    source,
                    Some(p.id.clone()),
                    json!({"name": p.terms.name, "lender": p.terms.lender,
                           "category": p.terms.category}),
                ),
            )?;
            Ok(p)
        })
    }

    /// Replaces a product's terms with `input` as a new version. Writing the same terms again
    /// is not a new version.
    pub fn update_product(
        &self,
        caller: &Caller,
        id: &str,
        input: ProductInput,
        source: &str,
    ) -> Result<Product> {
        caller.require(Capability::ProductManage)?;
        let terms = checked(input)?;
        self.replace_terms(caller, id, source, |_| Ok(terms))
    }

    /// `PATCH /products/{id}`: a JSON merge patch (RFC 7396) over the current version, read and
    /// written in one transaction, so a concurrent edit is never undone by a stale patch.
    pub fn patch_product(
        &self,
        caller: &Caller,
        id: &str,
        patch: serde_json::Value,
        source: &str,
    ) -> Result<Product> {
        caller.require(Capability::ProductManage)?;
        let serde_json::Value::Object(mut patch) = patch else {
            return Err(Error::validation("body", "应为 JSON 对象"));
        };
        product::canonical_names(&mut patch).map_err(|(f, r)| Error::validation(f, r))?;
        self.replace_terms(caller, id, source, |before| {
            let mut current = json(before)?;
            product::merge_patch(&mut current, serde_json::Value::Object(patch));
            checked(product::from_wire(current).map_err(|(f, r)| Error::validation(f, r))?)
        })
    }

    fn replace_terms(
        &self,
        caller: &Caller,
        id: &str,
        source: &str,
        make: impl FnOnce(&ProductInput) -> Result<ProductInput>,
    ) -> Result<Product> {
        let now = self.now();
        self.store.write(|tx| {
            let before = store::products::get_w(tx, id)?.ok_or(Error::NotFound)?;
            let terms = make(&before.terms)?;
            let changed = changed_fields(&before.terms, &terms)?;
            if changed.is_empty() {
                return Ok(before);
            }
            Self::unique_name(tx, &terms, Some(id))?;
            let p = Product {
                terms,
                version: before.version + 1,
                updated_at: now,
                updated_by: caller.user.id.clone(),
                ..before.clone()
            };
            store::products::put(tx, &p)?;
            let action = match (before.terms.active, p.terms.active) {
                (true, false) => "product.deactivated",
                (false, true) => "product.activated",
                _ => "product.updated",
            };
            audit::record(
                tx,
                now,
                audit::by_user(
                    &caller.user,
                    action,
                    source,
                    Some(p.id.clone()),
                    json!({"name": p.terms.name, "version": p.version, "changed": changed}),
                ),
            )?;
            Ok(p)
        })
    }

    /// Two products of one lender may not share a name: sheets and deals name them that way.
    fn unique_name(
        tx: &redb::WriteTransaction,
        p: &ProductInput,
        except: Option<&str>,
    ) -> Result<()> {
        let all = store::products::all_w(tx)?;
        if all.iter().any(|o| {
            Some(o.id.as_str()) != except && o.terms.lender == p.lender && o.terms.name == p.name
        }) {
            return Err(Error::Conflict {
                code: "product_exists",
                message: format!("{} 的产品 {} 已存在", p.lender, p.name),
            });
        }
        Ok(())
    }
}
