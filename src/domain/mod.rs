//! Types and rules of the business, no I/O.

pub mod call;
pub mod capability;
pub mod contract;
pub mod custody;
pub mod custom_field;
pub mod customer;
pub mod deal;
pub mod fee;
pub mod followup;
pub mod id_number;
pub mod loan;
pub mod matching;
pub mod org;
pub mod phone;
pub mod pool;
pub mod product;
pub mod profile;
pub mod roles;
pub mod target;
pub mod text;
