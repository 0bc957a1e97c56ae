//! The resource kinds a manifest declares, one module each: its manifest types, validation,
//! how it is observed in LocalStack, and how a deploy reconciles it.
//!
//! To add a kind: add its module here, then register it where the kinds are iterated over:
//! [`crate::manifest`] (its section and validation, in dependency order), [`crate::deploy`]
//! (its reconcile, in dependency order, and its prune), [`crate::stack`] (its status view) and
//! [`crate::output`] (its section of the endpoint table).

pub mod bucket;
pub mod function;
pub mod queue;
pub mod s3_trigger;
pub mod sqs_trigger;
pub mod url;

use crate::manifest::Manifest;

/// The LocalStack services the kinds `manifest` uses need beyond the kit's own.
pub(crate) fn services(manifest: &Manifest) -> Vec<String> {
    // Functions, URLs, SQS triggers, queues and buckets use the kit's own services only.
    let _ = manifest;
    Vec::new()
}
