//! The `wabapool` binary: parse the command line and hand over to the library.

use clap::Parser as _;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    wabapool::telemetry::init();
    match wabapool::cli::run(wabapool::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
