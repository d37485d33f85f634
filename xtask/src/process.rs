//! Where xtask works (repo root, target dir) and how it runs other programs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo").to_path_buf()
}

/// The cargo target directory in use (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let p = PathBuf::from(d);
            if p.is_absolute() { p } else { repo_root().join(p) }
        }
        None => repo_root().join("target"),
    }
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(repo_root());
    c
}

/// Runs a command, inheriting stdio; Err names the command.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

/// Runs a command, echoing its stdout line by line and returning it.
pub fn run_tee(cmd: &mut Command) -> (bool, String) {
    let shown = format!("{cmd:?}");
    let mut child = match cmd.stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot start {shown}: {e}")),
    };
    let mut captured = String::new();
    let out = child.stdout.take().expect("piped");
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        println!("{line}");
        captured.push_str(&line);
        captured.push('\n');
    }
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    (ok, captured)
}

pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool} >/dev/null 2>&1")).status().map(|s| s.success()).unwrap_or(false)
}

/// File name of the native library that `cargo build --lib` writes on this platform.
pub fn native_lib_name() -> &'static str {
    if cfg!(windows) {
        "xmcdp.dll"
    } else if cfg!(target_os = "macos") {
        "libxmcdp.dylib"
    } else {
        "libxmcdp.so"
    }
}
