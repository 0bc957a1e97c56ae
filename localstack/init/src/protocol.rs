//! The names lsk-init and our LocalStack executor (`localstack/plugin/lsk_localstack/executor.py`)
//! must agree on, in one place. `PROTOCOL.md` describes the protocol; `tests/protocol.rs`
//! fails when the executor's copies of these values differ.

/// The only line lsk-init writes to stdout: `LSK_INIT_LISTENING 127.0.0.1:<port>`.
pub const LISTENING_PREFIX: &str = "LSK_INIT_LISTENING";
/// Where the executor posts an invocation.
pub const INVOKE_PATH: &str = "/invoke";
/// Request header asking for the result in the answer (value [`INLINE`]).
pub const RESULT_MODE_HEADER: &str = "x-lsk-result";
/// The value of [`RESULT_MODE_HEADER`] for inline results.
pub const INLINE: &str = "inline";
/// Answer header: [`OUTCOME_RESPONSE`] or [`OUTCOME_ERROR`].
pub const OUTCOME_HEADER: &str = "x-lsk-outcome";
pub const OUTCOME_RESPONSE: &str = "response";
pub const OUTCOME_ERROR: &str = "error";
/// Answer header: how many bytes of the body are the payload (the logs follow).
pub const PAYLOAD_LENGTH_HEADER: &str = "x-lsk-payload-length";
/// lsk-init's log filter (`target=level,...`), passed through by the executor when set.
pub const LOG_ENV: &str = "LSK_INIT_LOG";
/// `auto` (default) or `host`: the filesystem view of the bootstrap (see `sandbox`).
pub const FS_ENV: &str = "LSK_INIT_FS";
/// `1` for LocalStack's hot-reload code: a new `bootstrap` serves the next invocation.
pub const WATCH_CODE_ENV: &str = "LSK_INIT_WATCH_CODE";
