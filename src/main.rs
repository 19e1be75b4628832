//! The `wabapool` binary: parse the command line and hand over to the library.

use clap::Parser as _;

/// Two glibc malloc settings, for a server that stays small:
///
/// - Large blocks (an argon2 check's 7 MiB) stay on mmap. glibc would raise
///   its mmap threshold past that size after the first free and then carve
///   such blocks out of its arenas, where fragmentation keeps them resident:
///   a storm of sign-ins grew the server to hundreds of megabytes.
/// - Two arenas. glibc gives each thread that allocates while the others
///   hold theirs an arena of its own, up to eight per core, and every arena
///   keeps its freed memory: under load each blocking thread that served a
///   page kept a few megabytes. Two arenas on two cores still let both
///   allocate at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_malloc_small() {
    let arenas = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    // SAFETY: mallopt only sets malloc parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, arenas as libc::c_int);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_malloc_small() {}

fn main() -> std::process::ExitCode {
    keep_malloc_small();
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
