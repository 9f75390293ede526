//! The `zhudai` binary: command-line parsing only; everything else is the library.

fn main() -> std::process::ExitCode {
    zhudai::cli::main()
}
