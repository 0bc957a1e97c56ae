//! Both sides of the executor <-> lsk-init protocol (PROTOCOL.md) use the same names: every
//! constant of `src/protocol.rs` has its twin in the executor (`executor.py`), with the same
//! value, and PROTOCOL.md names each of them.

use std::path::Path;

use lsk_init::protocol as p;

const EXECUTOR: &str = include_str!("../../plugin/lsk_localstack/executor.py");
const PROTOCOL: &str = include_str!("../PROTOCOL.md");

/// The value of `NAME = "value"` at the start of a line of executor.py.
fn python_constant(name: &str) -> Option<&'static str> {
    EXECUTOR.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(" = \"")?;
        rest.strip_suffix('"')
    })
}

#[test]
fn the_executor_and_lsk_init_agree_on_every_name() {
    let shared = [
        ("LISTENING_PREFIX", p::LISTENING_PREFIX),
        ("INVOKE_PATH", p::INVOKE_PATH),
        ("RESULT_MODE_HEADER", p::RESULT_MODE_HEADER),
        ("INLINE", p::INLINE),
        ("OUTCOME_HEADER", p::OUTCOME_HEADER),
        ("OUTCOME_RESPONSE", p::OUTCOME_RESPONSE),
        ("OUTCOME_ERROR", p::OUTCOME_ERROR),
        ("PAYLOAD_LENGTH_HEADER", p::PAYLOAD_LENGTH_HEADER),
        ("LOG_ENV", p::LOG_ENV),
        ("FS_ENV", p::FS_ENV),
        ("WATCH_CODE_ENV", p::WATCH_CODE_ENV),
    ];
    for (name, rust) in shared {
        let python = python_constant(name)
            .unwrap_or_else(|| panic!("executor.py has no `{name} = \"...\"` line"));
        assert_eq!(
            python, rust,
            "{name} differs between executor.py and protocol.rs"
        );
        assert!(
            PROTOCOL.contains(rust),
            "PROTOCOL.md does not mention {name} ({rust})"
        );
    }
}

#[test]
fn the_documented_file_is_where_it_says() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(here.join("PROTOCOL.md").is_file());
    assert!(
        here.join("../plugin/lsk_localstack/executor.py").is_file(),
        "the executor moved; update this test and PROTOCOL.md"
    );
}
