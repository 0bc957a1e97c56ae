//! Where LocalStack runs, and a handle to it.
//!
//! - `external`: `--endpoint`, `LOCALSTACK_ENDPOINT` or `AWS_ENDPOINT_URL` names a running one;
//!   nothing is started, its health is checked.
//! - `docker`: our image (the same pinned LocalStack, plugin and `lsk-init`, built when missing)
//!   in a container; `docker-official`: LocalStack's official image with its Docker executor.
//! - `native`: a pinned LocalStack in a project-local venv, run as a process (see `native.rs`).
//!
//! `auto` picks external when an endpoint is given, else native where it can run (Linux with
//! Python 3.11-3.13, or a venv already installed), else docker when a daemon answers, and says
//! which and why.

pub mod docker;
pub mod external;
pub mod image;
pub mod native;
pub mod ready;
mod rootfs;

mod error;
mod handle;
mod options;
mod select;
mod settings;
pub use error::*;
pub use handle::*;
pub use options::*;
pub use select::*;
pub use settings::*;

use lsk_aws as aws;
use lsk_build as build;
use lsk_kit::{self as kit, file_lock, progress};

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::progress::Progress;

#[cfg(test)]
mod tests;
