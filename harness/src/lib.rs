//! lsk: build, package and deploy Rust Lambdas into LocalStack.
//!
//! - [`Stack`]: the manifest (`lsk.toml`) and what can be done with it: build, deploy, observe.
//! - [`LocalStack`]: a running LocalStack on one of the backends (native, docker, external).
//! - [`Deployed`]: handles on what was deployed, for tests (`invoke`, function URLs, queues, buckets).
#![forbid(unsafe_code)]

pub mod aws;
pub mod backend;
pub mod build;
pub mod deploy;
pub mod error;
pub mod file_lock;
pub mod invoke;
pub mod kinds;
pub mod kit;
pub mod manifest;
pub mod output;
pub mod package;
pub mod progress;
pub mod scaffold;
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
