//! Credit products: the current version of each under its id, and every version ever written
//! under `<id>/<version>`. Products are configuration an admin writes by hand or from a sheet
//! (tens to a few hundred rows), read whole like roles; matching needs every active one anyway.

use redb::{ReadTransaction, WriteTransaction};

use super::org::{decode_all, decode_one};
use super::{Result, codec, tables};
use crate::domain::product::Product;

pub fn all(tx: &ReadTransaction) -> Result<Vec<Product>> {
    decode_all(&tx.open_table(tables::PRODUCTS)?, "products")
}

pub fn get(tx: &ReadTransaction, id: &str) -> Result<Option<Product>> {
    decode_one(&tx.open_table(tables::PRODUCTS)?, id, "products")
}

pub fn get_w(tx: &WriteTransaction, id: &str) -> Result<Option<Product>> {
    decode_one(&tx.open_table(tables::PRODUCTS)?, id, "products")
}

pub fn all_w(tx: &WriteTransaction) -> Result<Vec<Product>> {
    decode_all(&tx.open_table(tables::PRODUCTS)?, "products")
}

fn version_key(id: &str, version: u32) -> String {
    format!("{id}/{version:08}")
}

/// Writes `p` as the current version and keeps it in the history.
pub fn put(tx: &WriteTransaction, p: &Product) -> Result<()> {
    let bytes = codec::encode(p)?;
    tx.open_table(tables::PRODUCTS)?
        .insert(p.id.as_str(), bytes.as_slice())?;
    tx.open_table(tables::PRODUCT_VERSIONS)?
        .insert(version_key(&p.id, p.version).as_str(), bytes.as_slice())?;
    Ok(())
}

/// Every version of product `id`, oldest first.
pub fn versions(tx: &ReadTransaction, id: &str) -> Result<Vec<Product>> {
    versions_in(&tx.open_table(tables::PRODUCT_VERSIONS)?, id)
}

/// [`versions`] in a write transaction.
pub fn versions_w(tx: &WriteTransaction, id: &str) -> Result<Vec<Product>> {
    versions_in(&tx.open_table(tables::PRODUCT_VERSIONS)?, id)
}

fn versions_in(
    table: &impl redb::ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Vec<Product>> {
    let start = format!("{id}/");
    let end = format!("{id}0");
    let mut out = Vec::new();
    for row in table.range(start.as_str()..end.as_str())? {
        let (_, v) = row?;
        out.push(codec::decode("product_versions", v.value())?);
    }
    Ok(out)
}
