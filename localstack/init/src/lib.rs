//! `lsk-init`: runs one Lambda function's `bootstrap` as a host process for one
//! LocalStack execution environment (the role of LocalStack's Go init in a Lambda
//! container), or standalone with an RIE-compatible invoke endpoint.
#![deny(unsafe_code)]

pub mod callback;
pub mod config;
pub mod error;
pub mod interop;
pub mod logs;
pub mod process;
pub mod protocol;
pub mod runtime_api;
pub mod sandbox;
pub mod server;
pub mod state;
