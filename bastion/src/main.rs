//! `bastion`: the command line. One file per subcommand in [`cli`]; everything they run is in
//! the `bastion` library ([`bastion::server`] serves, [`bastion::audit`] is the audit store).
#![forbid(unsafe_code)]

mod cli;

/// jemalloc instead of the system's malloc: glibc keeps the high-water mark of a burst of
/// sessions (RSS 34 MiB idle, 210 MiB after 1,000 sessions had closed, issue 17); jemalloc's
/// background thread gives unused pages back within about a second (`malloc_conf` in
/// `.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
