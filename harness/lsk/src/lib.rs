//! lsk: build, package and deploy Rust Lambdas into LocalStack, and test them from `cargo test`.
//!
//! The library facade over the harness's crates: what `lsk` (the CLI), `tests/`, the bench and a
//! user's own tests use.
//!
//! - [`Stack`]: the manifest (`lsk.toml`) and what can be done with it: build, deploy, observe.
//! - [`LocalStack`]: a running LocalStack on one of the backends (native, docker, external).
//! - [`Deployed`]: handles on what was deployed, for tests (`invoke`, function URLs, queues, buckets).
#![forbid(unsafe_code)]

// The layers below, each a crate of its own (ARCHITECTURE.md has their order), under the names
// they had as modules of this crate.
pub use lsk_aws as aws;
pub use lsk_backend as backend;
pub use lsk_build as build;
pub use lsk_build::package;
pub use lsk_deploy as deploy;
pub use lsk_deploy::{kinds, output};
pub use lsk_kit as kit;
pub use lsk_kit::{file_lock, progress};
pub use lsk_manifest as manifest;
pub use lsk_sam as sam;

pub mod error;
pub mod invoke;
pub mod stack;
pub mod up;
pub mod watch;

pub use backend::{BackendChoice, BackendKind, Env, LocalStack, StartOptions};
pub use build::BuildTarget;
pub use deploy::{Change, DeployReport};
pub use error::Error;
pub use invoke::{HttpReply, Invocation, InvokeMode};
pub use manifest::Manifest;
pub use progress::Progress;
pub use stack::{
    ApiHandle, BucketHandle, DeployOpts, Deployed, Execution, FunctionHandle, QueueHandle, Stack,
    StateMachineHandle, TopicHandle,
};
pub use up::{Up, UpError};
