//! The `wabapool` binary: parse the command line and hand over to the library.

use clap::Parser as _;

/// Every argon2 check allocates a 19 MiB block. glibc's malloc would raise
/// its mmap threshold past that size after the first free and then carve the
/// blocks out of its arenas, where fragmentation keeps them resident: a storm
/// of sign-ins grew the server to hundreds of megabytes. A fixed threshold
/// keeps large blocks on mmap, returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only sets a malloc parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

fn main() -> std::process::ExitCode {
    return_large_blocks_to_the_system();
    run()
}

#[actix_web::main]
async fn run() -> std::process::ExitCode {
    wabapool::telemetry::init();
    match wabapool::cli::run(wabapool::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
