//! The build script of every function's crate (`build = "../build.rs"` in each Cargo.toml).
//!
//! A release build of a function is linked without its unwinding tables (`.eh_frame` and its
//! index, about 1 MB of each function): the release profile aborts on a panic (Cargo.toml), and
//! nothing unwinds in a process that aborts; it also strips the symbols a backtrace would name
//! its frames with, so the tables would only feed a backtrace of unnamed addresses. The panic's
//! message and location are still written before the abort. `-C force-unwind-tables=no` cannot
//! drop them: the standard library's bitcode asks for them for the whole optimised module.
//!
//! Cargo tells a build script the profile but not its panic strategy (`CARGO_CFG_PANIC` is the
//! target's default), so the release profile is the condition, and a release build told to
//! unwind through the environment (`CARGO_PROFILE_RELEASE_PANIC=unwind`) keeps them. A release
//! build told to unwind any other way (Cargo.toml, `--config`) would abort on every panic, so
//! the script also sets `cfg(no_unwind_tables)`, and each function's `main.rs` refuses to
//! compile with it and `cfg(panic = "unwind")` ([`leadrelay_aws::release_panics_abort`]).
//! The linker script is added to the linker's default layout (`INSERT`), which GNU ld, lld
//! (Rust's default linker on x86_64 Linux since 1.90) and zig's (the arm64 build's) all keep.

use std::env;
use std::path::Path;

fn main() {
    let script = Path::new("../no-unwind-tables.ld");
    println!("cargo::rerun-if-changed={}", script.display());
    println!("cargo::rerun-if-env-changed=CARGO_PROFILE_RELEASE_PANIC");
    println!("cargo::rustc-check-cfg=cfg(no_unwind_tables)");
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let unwinds = env::var("CARGO_PROFILE_RELEASE_PANIC").as_deref() == Ok("unwind");
    let elf = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if release && !unwinds && elf {
        let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let script = Path::new(&manifest).join(script);
        println!("cargo::rustc-link-arg-bins=-Wl,-T,{}", script.display());
        println!("cargo::rustc-cfg=no_unwind_tables");
    }
}
