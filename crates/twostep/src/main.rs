//! The `twostep` binary; everything lives in the library so tests can run it.

fn main() -> std::process::ExitCode {
    twostep::main()
}
