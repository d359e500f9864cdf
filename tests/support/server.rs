//! The binary under test: exactly `twostep`'s entry point.

fn main() -> std::process::ExitCode {
    twostep::main()
}
