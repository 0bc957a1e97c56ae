//! Tests of `cli.rs` (`cli`).

use super::*;
use clap::CommandFactory;

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn target_flags_work_before_and_after_the_command() {
    let cli = parse(&[
        "lsk",
        "--backend",
        "native",
        "up",
        "--port",
        "4567",
        "--json",
    ]);
    assert_eq!(cli.target.backend, BackendChoice::Native);
    assert_eq!(cli.target.port, 4567);
    assert!(matches!(
        cli.command,
        Command::Up(DeployArgs { json: true, .. })
    ));
    let cli = parse(&["lsk", "status", "--endpoint", "http://127.0.0.1:4599"]);
    assert_eq!(choice(&cli.target), BackendChoice::External);
}

#[test]
fn invoke_and_logs_arguments() {
    let cli = parse(&[
        "lsk",
        "invoke",
        "square",
        "--data",
        "{\"number\": 6}",
        "--async",
    ]);
    match cli.command {
        Command::Invoke {
            function,
            data,
            asynchronous,
            ..
        } => {
            assert_eq!(function, "square");
            assert_eq!(data.as_deref(), Some("{\"number\": 6}"));
            assert!(asynchronous);
        }
        other => panic!("{other:?}"),
    }
    let cli = parse(&["lsk", "logs", "square", "-f", "--since", "2h"]);
    assert!(matches!(
        cli.command,
        Command::Logs { follow: true, since, .. } if since == Duration::from_secs(7200)
    ));
    assert!(Cli::try_parse_from(["lsk", "logs", "square", "--since", "2 fortnights"]).is_err());
    assert!(Cli::try_parse_from(["lsk", "up", "--backend", "podman"]).is_err());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
    assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    assert!(parse_duration("m").is_err());
    assert!(parse_duration("-5").is_err());
    let err = parse_duration("10 parsecs").unwrap_err();
    assert!(err.contains("not a duration"), "{err}");
}

#[test]
fn payloads_must_be_json() {
    assert_eq!(
        read_payload(None, Some("{\"number\": 6}")).unwrap(),
        b"{\"number\": 6}"
    );
    assert_eq!(read_payload(None, None).unwrap(), b"{}");
    let err = read_payload(Some("{number: 6}".into()), None).unwrap_err();
    assert!(err.to_string().contains("not JSON"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, "[1, 2]").unwrap();
    assert_eq!(
        read_payload(Some(format!("@{}", file.display())), None).unwrap(),
        b"[1, 2]"
    );
    let missing = read_payload(Some("@/nonexistent.json".into()), None).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent.json"),
        "{missing}"
    );
}

#[test]
fn errors_print_their_message_and_the_help_of_their_kind() {
    let port_taken: miette::Report = native::NativeError::PortInUse {
        port: 4566,
        by: String::new(),
    }
    .into();
    assert_eq!(
        error_text(port_taken.as_ref()),
        "error: port 4566 on 127.0.0.1 is already in use; stop it or pick another port with --port\nhint: `lsk down` stops a LocalStack started by `lsk up`"
    );
}

#[test]
fn clock_format() {
    assert_eq!(clock(0), "00:00:00.000");
    assert_eq!(clock(86_400_000 + 3_723_004), "01:02:03.004");
}

#[test]
fn help_lists_examples_and_commands() {
    let help = Cli::command().render_long_help().to_string();
    for needle in [
        "lsk up",
        "eval \"$(lsk env)\"",
        "invoke",
        "logs",
        "--backend",
        "LSK_PORT",
    ] {
        assert!(help.contains(needle), "missing {needle} in help:\n{help}");
    }
}
