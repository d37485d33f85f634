//! `cargo xtask windows`: the Windows DLL, cross-built here (`x86_64-pc-windows-gnu`) and run under Wine against
//! the Linux emulator on loopback. Facts behind each step: `../shared/spec/windows-cross.md`.
//!
//! - Installs what is missing: apt packages (mingw-w64, Wine, the two libraries Debian's cargo links), and
//!   Debian's pinned `rustc-web` toolchain with the std source, unpacked under `target/windows-toolchain/`
//!   (never installed: it would own `/usr/bin/rustc`). rustup cannot fetch targets or `rust-src` here.
//! - Builds `xmcdp.dll` (release, `--locked`, `-Zbuild-std`) in `target/windows/cargo`.
//! - Static checks: exports = the functions of `bindings/c/xmcdp.h`; imports = system DLLs only.
//! - Under Wine (`windows_wine.rs`): the C smoke test and the emulator-side checks of `tests/c_smoke.rs`, the
//!   spool at Windows paths (lock, `taskkill /F`, adoption, per-visitor order, loss), graceful shutdown.
//!
//! Cannot install → Err (the caller counts a failure); it never skips.

use crate::checks::Checks;
use crate::windows_wine::MINGW;
use crate::process::{self, cargo};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Debian 12's `rustc-web` (bookworm-security). Pinned: the DLL must not change with an apt update.
pub const DEBIAN_RUST: &str = "1.96.0+dfsg1-1~deb12u2";
const DEBIAN_RUST_DEBS: [&str; 5] = ["rustc-web", "cargo-web", "rust-web-src", "libstd-rust-web-1.96", "libstd-rust-web-dev"];
/// apt packages: mingw-w64 (linker, C compiler, objdump), Wine, and what Debian's cargo/rustc link against.
const APT_PACKAGES: [&str; 5] = ["gcc-mingw-w64-x86-64", "binutils-mingw-w64-x86-64", "wine64", "libgit2-1.5", "libllvm22"];
pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// DLLs the release DLL may import: each ships with Windows Server 2016 / Windows 10 1607 and later.
/// `bcryptprimitives.dll` exists since Windows 7, but its `ProcessPrng` export (Rust std ≥ 1.78) only since
/// Windows 10 / Server 2016: that export sets the floor, which is also std's own. `msvcrt.dll` is the system
/// C runtime the gnu target links (in every Windows). `api-ms-win-core-synch-l1-2-0.dll` is an API set (std's
/// `WaitOnAddress`) that the loader resolves to kernelbase since Windows 8.
pub const SYSTEM_DLLS: [&str; 12] = [
    "kernel32.dll",
    "ntdll.dll",
    "advapi32.dll",
    "ws2_32.dll",
    "userenv.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "crypt32.dll",
    "secur32.dll",
    "ole32.dll",
    "msvcrt.dll",
    "api-ms-win-core-synch-l1-2-0.dll",
];

pub fn toolchain_dir() -> PathBuf {
    process::target_dir().join("windows-toolchain").join(DEBIAN_RUST).join("root")
}

pub fn work_dir() -> PathBuf {
    process::target_dir().join("windows")
}

pub fn dll_path() -> PathBuf {
    work_dir().join("cargo").join(TARGET).join("release").join("xmcdp.dll")
}

/// Installs what is missing and builds the release DLL; returns its path (`cargo xtask dist --windows`).
pub fn build_release() -> Result<PathBuf, String> {
    ensure_apt_packages()?;
    let tc = ensure_toolchain()?;
    build_dll(&tc)?;
    Ok(dll_path())
}

pub fn run(_args: &[String]) -> Result<(), String> {
    crate::checks::run_layer(test_layer)
}

/// The whole layer: install, build, check, run under Wine. Ok((passed, failed)); Err when it could not run.
pub fn test_layer() -> Result<(u64, u64), String> {
    let t0 = Instant::now();
    ensure_apt_packages()?;
    let tc = ensure_toolchain()?;
    println!("== windows: installed/checked in {:.0}s", t0.elapsed().as_secs_f64());
    let t1 = Instant::now();
    build_dll(&tc)?;
    println!("== windows: xmcdp.dll built in {:.0}s", t1.elapsed().as_secs_f64());
    process::run(cargo().args(["build", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;

    let mut tally = Checks::new("windows");
    // Everything below looks at the stripped DLL, the bytes `cargo xtask dist --windows` ships.
    let dll = work_dir().join("xmcdp-stripped.dll");
    strip_dll(&dll_path(), &dll)?;
    let objdump = command_output(Command::new(format!("{MINGW}-objdump")).arg("-p").arg(&dll))?;
    let header = std::fs::read_to_string(process::repo_root().join("bindings/c/xmcdp.h")).map_err(|e| e.to_string())?;
    let want = header_functions(&header);
    let got = dll_exports(&objdump);
    tally.check(
        &format!("exports = the {} functions of bindings/c/xmcdp.h", want.len()),
        want == got,
        format!("missing {:?}, extra {:?}", want.difference(&got).collect::<Vec<_>>(), got.difference(&want).collect::<Vec<_>>()),
    );
    let imports = dll_imports(&objdump);
    let foreign = non_system(&imports);
    println!("windows: xmcdp.dll imports {}", imports.iter().cloned().collect::<Vec<_>>().join(", "));
    tally.check("imports only system DLLs of Windows Server 2016+", foreign.is_empty() && !imports.is_empty(), format!("non-system imports: {foreign:?}"));

    crate::windows_wine::run_all(&tc, &work_dir(), &mut tally)?;
    println!("== windows: done in {:.0}s", t0.elapsed().as_secs_f64());
    Ok((tally.passed, tally.failed))
}


fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn ensure_apt_packages() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES.iter().copied().filter(|p| !dpkg_installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("== windows: installing {} (apt-get)", missing.join(" "));
    let hint = "the Windows layer needs them; run as root on Debian 12 (bookworm with bookworm-security)";
    process::run(apt_get().args(["update", "-qq"])).map_err(|e| format!("{e} ({hint})"))?;
    process::run(apt_get().args(["install", "-y", "-qq"]).args(&missing)).map_err(|e| format!("{e} ({hint})"))
}

/// `apt-get`, through `sudo` for a developer who is not root (CI runs as root).
pub(crate) fn apt_get() -> Command {
    let root = command_output(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0");
    let mut c = if !root && process::have("sudo") {
        let mut c = Command::new("sudo");
        c.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        c
    } else {
        Command::new("apt-get")
    };
    c.env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// Debian's toolchain unpacked (not installed) into the cache folder; a marker file says it is complete.
fn ensure_toolchain() -> Result<PathBuf, String> {
    let root = toolchain_dir();
    let marker = root.join(".complete");
    if marker.exists() {
        return Ok(root);
    }
    let debs = root.parent().expect("root has a parent").join("debs");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    println!("== windows: unpacking Debian rustc-web {DEBIAN_RUST} into {}", root.display());
    let pinned: Vec<String> = DEBIAN_RUST_DEBS.iter().map(|p| format!("{p}={DEBIAN_RUST}")).collect();
    // As root, apt's download sandbox user cannot write into target/; root downloads (no other effect).
    process::run(Command::new("apt-get").args(["-o", "APT::Sandbox::User=root", "download"]).args(&pinned).current_dir(&debs))
        .map_err(|e| format!("{e} (is {DEBIAN_RUST} still in bookworm-security? `apt-cache policy rustc-web`; update DEBIAN_RUST)"))?;
    for entry in std::fs::read_dir(&debs).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "deb") && path.to_string_lossy().contains(&DEBIAN_RUST.replace(':', "%3a")) {
            process::run(Command::new("dpkg-deb").arg("-x").arg(&path).arg(&root))?;
        }
    }
    if !root.join("usr/bin/cargo").exists() || !root.join("usr/lib/rustlib/src/rust/library").exists() {
        return Err(format!("{} is incomplete after unpacking", root.display()));
    }
    std::fs::write(&marker, DEBIAN_RUST).map_err(|e| e.to_string())?;
    Ok(root)
}

/// Debian's cargo from the cache folder, with nothing of rustup's environment leaking into it.
pub fn debian_cargo(tc: &Path) -> Command {
    let mut c = Command::new(tc.join("usr/bin/cargo"));
    c.current_dir(process::repo_root());
    for v in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        c.env_remove(v);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{}:{path}", tc.join("usr/bin").display()))
        .env("LD_LIBRARY_PATH", tc.join("usr/lib/x86_64-linux-gnu"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER", format!("{MINGW}-gcc"))
        .env("CC_x86_64_pc_windows_gnu", format!("{MINGW}-gcc"))
        .env("AR_x86_64_pc_windows_gnu", format!("{MINGW}-ar"))
        .env("CARGO_TARGET_DIR", work_dir().join("cargo"));
    c
}

pub fn build_dll(tc: &Path) -> Result<(), String> {
    println!("== windows: cargo build --release --locked --target {TARGET} -Zbuild-std (Debian rustc {DEBIAN_RUST})");
    process::run(debian_cargo(tc).args(["build", "--release", "--locked", "-p", "xmcdp", "--lib", "--target", TARGET, "-Zbuild-std"]))
}

/// The shipped form of the DLL: no symbols or debug info (8 MB instead of 70 MB); exports are untouched.
pub fn strip_dll(from: &Path, to: &Path) -> Result<(), String> {
    process::run(Command::new(format!("{MINGW}-strip")).arg("--strip-all").arg("-o").arg(to).arg(from))
}

pub fn command_output(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Function names declared at the top level of the cbindgen header (`type name(args);`).
pub fn header_functions(h: &str) -> BTreeSet<String> {
    h.lines()
        .filter(|l| !l.starts_with(char::is_whitespace) && !l.starts_with("//") && !l.starts_with('#') && !l.starts_with("typedef"))
        .filter_map(|l| l.split_once('(').map(|(before, _)| before))
        .filter_map(|before| before.rsplit(|c: char| c.is_whitespace() || c == '*').next())
        .filter(|name| name.starts_with("xmcdp_"))
        .map(str::to_string)
        .collect()
}

/// The export names of `objdump -p`: the `[Ordinal/Name Pointer] Table` lines `[   n] name`.
pub fn dll_exports(objdump: &str) -> BTreeSet<String> {
    objdump
        .lines()
        .skip_while(|l| !l.contains("[Ordinal/Name Pointer] Table"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(']').map(|(_, name)| name.trim().to_string()))
        .collect()
}

/// The `DLL Name:` lines of `objdump -p`, lowercased (the loader ignores case; std and crates spell them differently).
pub fn dll_imports(objdump: &str) -> BTreeSet<String> {
    objdump.lines().filter_map(|l| l.trim().strip_prefix("DLL Name:")).map(|n| n.trim().to_ascii_lowercase()).collect()
}

/// Imports that are not in [`SYSTEM_DLLS`] (a mingw runtime DLL such as `libgcc_s_seh-1.dll` would be one).
pub fn non_system(imports: &BTreeSet<String>) -> Vec<&String> {
    imports.iter().filter(|d| !SYSTEM_DLLS.contains(&d.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_functions_exports_and_imports() {
        let h = "// doc\n#define X 1\ntypedef struct a { int b; } a;\nenum s xmcdp_client_new(struct xmcdp_str_t j,\n    uint64_t *out);\nuint32_t xmcdp_version(void);\nstruct xmcdp_str_t xmcdp_status_name(uint32_t status);\n";
        let want: BTreeSet<String> = ["xmcdp_client_new", "xmcdp_version", "xmcdp_status_name"].iter().map(|s| s.to_string()).collect();
        assert_eq!(header_functions(h), want);
        let dump = "\tDLL Name: KERNEL32.dll\n\tvma: x\n\tDLL Name: msvcrt.dll\n[Ordinal/Name Pointer] Table\n\t[   0] xmcdp_client_new\n\t[   1] xmcdp_status_name\n\t[   2] xmcdp_version\n\nThe Function Table\n";
        assert_eq!(dll_exports(dump), want);
        assert_eq!(dll_imports(dump).into_iter().collect::<Vec<_>>(), ["kernel32.dll", "msvcrt.dll"]);
        let with_runtime = dll_imports("\tDLL Name: KERNEL32.dll\n\tDLL Name: libwinpthread-1.dll\n\tDLL Name: libgcc_s_seh-1.dll\n");
        assert_eq!(non_system(&with_runtime), ["libgcc_s_seh-1.dll", "libwinpthread-1.dll"]);
    }
}
