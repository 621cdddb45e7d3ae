//! The `bientap` binary: a thin shell over the library.

fn main() -> std::process::ExitCode {
    bientap::cli::main()
}
