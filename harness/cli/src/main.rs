//! The `lsk` command line: a thin dispatcher over the `lsk` library.
#![forbid(unsafe_code)]

mod cli;
mod scaffold;

fn main() -> std::process::ExitCode {
    cli::main()
}
