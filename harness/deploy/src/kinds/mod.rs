//! The deploy halves of the resource kinds, one module each: how a kind is observed in
//! LocalStack, planned (pure functions) and reconciled, pruned and shown. Each module re-exports
//! its manifest half (`lsk_manifest::kinds::<kind>`: types and validation), so `kinds::function`
//! is the whole kind to a reader of this crate.
//!
//! To add a kind: its manifest half first (`lsk_manifest::kinds`), then its module here,
//! registered where the kinds are iterated over: [`crate::apply`] (its reconcile, in dependency
//! order, and its prune), the status view (`lsk::stack::status`) and [`crate::output`] (its
//! section of the endpoint table).

pub mod api;
pub mod bucket;
pub mod function;
pub mod permission;
pub mod queue;
pub mod rule;
pub mod s3_trigger;
pub mod sqs_trigger;
pub mod state_machine;
pub mod topic;
pub mod url;

pub use lsk_manifest::kinds::{Target, services};
