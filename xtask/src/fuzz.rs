//! `fuzz smoke`: builds the cargo-fuzz targets in `fuzz/` and runs each one briefly from its committed
//! seeds, so a crash the seeds or a few seconds of mutation reach fails the suite. The long runs are
//! manual (`fuzz/README.md`).
//!
//! Stable Rust only: cargo-fuzz needs nightly `-Z` flags, which `RUSTC_BOOTSTRAP=1` unlocks on stable.
//! Built without a sanitizer (`-s none`): ASan doubles the build and halves the executions, and every
//! target's checks are assertions in safe code (ASan is for the long runs). Debug assertions are on
//! (`-a`), so integer overflow panics too.

use crate::process::{cargo, target_dir};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Seconds of fuzzing per target (plus its start-up), and a cap on executions so a fast target stops early.
const SECONDS_PER_TARGET: u32 = 8;
const MAX_RUNS: u32 = 300_000;

fn cargo_fuzz_version() -> Option<String> {
    let out = cargo().args(["fuzz", "--version"]).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    if cargo_fuzz_version().is_some() {
        return Ok(());
    }
    println!("xtask: fuzz smoke: installing cargo-fuzz (cargo install cargo-fuzz --locked)");
    let st = cargo()
        .args(["install", "cargo-fuzz", "--locked"])
        .env("CARGO_TARGET_DIR", target_dir().join("cargo-fuzz-install"))
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !st.success() || cargo_fuzz_version().is_none() {
        return Err("cargo install cargo-fuzz failed".into());
    }
    Ok(())
}

fn targets(repo_root: &Path) -> Result<Vec<String>, String> {
    let dir = repo_root.join("fuzz").join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".rs")).map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

fn fuzz_cmd(repo_root: &Path) -> Command {
    let mut c = cargo();
    c.current_dir(repo_root.join("fuzz")).env("RUSTC_BOOTSTRAP", "1").arg("fuzz");
    c
}

/// Builds and runs every fuzz target briefly. `Ok((passed, failed))` counts targets; `Err` when the fuzz
/// project cannot be built at all.
pub fn smoke(repo_root: &Path) -> Result<(u64, u64), String> {
    let started = Instant::now();
    ensure_cargo_fuzz()?;
    let fuzz_target_dir = target_dir().join("fuzz");
    let common = ["-s", "none", "-a", "--target-dir"];
    let st = fuzz_cmd(repo_root).arg("build").args(common).arg(&fuzz_target_dir).status().map_err(|e| format!("cannot run cargo fuzz build: {e}"))?;
    if !st.success() {
        return Err(format!("cargo fuzz build failed with {st}"));
    }
    println!("xtask: fuzz smoke: built in {:.0} s", started.elapsed().as_secs_f64());

    let work = fuzz_target_dir.join("smoke");
    let (mut passed, mut failed) = (0, 0);
    for t in targets(repo_root)? {
        let corpus = work.join("corpus").join(&t);
        let _ = std::fs::remove_dir_all(&corpus);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        let artifacts = work.join("artifacts");
        std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
        let seeds = repo_root.join("fuzz").join("seeds").join(&t);
        let t0 = Instant::now();
        let mut cmd = fuzz_cmd(repo_root);
        cmd.arg("run").args(common).arg(&fuzz_target_dir).arg(&t).arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--").args([
            format!("-max_total_time={SECONDS_PER_TARGET}"),
            format!("-runs={MAX_RUNS}"),
            "-seed=1".into(),
            "-timeout=10".into(),
            "-rss_limit_mb=2048".into(),
            format!("-artifact_prefix={}/{t}-", artifacts.display()),
        ]);
        let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| format!("cannot run cargo fuzz run {t}: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let runs = log.lines().rev().find_map(|l| l.strip_prefix("Done ")).and_then(|l| l.split_whitespace().next()).unwrap_or("?");
        if out.status.success() {
            passed += 1;
            println!("xtask: fuzz smoke: {t}: ok ({runs} runs, {:.0} s)", t0.elapsed().as_secs_f64());
        } else {
            failed += 1;
            let why: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("panicked at") || l.contains("ERROR:") || l.contains("Test unit written") || l.contains("assertion"))
                .take(6)
                .collect();
            println!("xtask: fuzz smoke: {t}: FAILED ({}):\n  {}", out.status, why.join("\n  "));
        }
    }
    println!("xtask: fuzz smoke: {passed} targets passed, {failed} failed in {:.0} s", started.elapsed().as_secs_f64());
    Ok((passed, failed))
}
