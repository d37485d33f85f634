//! `cargo xtask test`: every layer, one summary line.

use crate::process::{self, cargo};
use std::process::Command;

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn step(&mut self, name: &str, result: Result<(u64, u64), String>) {
        match result {
            Ok((p, f)) => {
                self.passed += p;
                self.failed += f;
                if f > 0 {
                    self.failures.push(format!("{name}: {f} failed"));
                }
                println!("xtask: {name}: {p} passed, {f} failed");
            }
            Err(e) => {
                self.failed += 1;
                self.failures.push(format!("{name}: {e}"));
                println!("xtask: {name}: FAILED: {e}");
            }
        }
    }
}

/// Sums `test result: ok. N passed; M failed; …` lines of cargo test output.
fn cargo_counts(output: &str) -> (u64, u64) {
    let mut p = 0;
    let mut f = 0;
    for line in output.lines().filter(|l| l.starts_with("test result:")) {
        let num_before = |word: &str| -> u64 {
            line.split(';')
                .find(|part| part.trim_end().ends_with(word))
                .and_then(|part| part.split_whitespace().rev().nth(1))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        p += num_before("passed");
        f += num_before("failed");
    }
    (p, f)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let root = process::repo_root();
    let quick = args.iter().any(|a| a == "--rust-only");
    // Iterating on the C# layer: only the NUnit step (narrow it further with XMCDP_NUNIT_RUN=Namespace.Fixture).
    if args.iter().any(|a| a == "--dotnet-only") {
        let (p, f) = dotnet_tests(&root)?;
        println!("{p} passed, {f} failed");
        return if f > 0 { Err(format!("{f} failed")) } else { Ok(()) };
    }
    let mut tally = Tally::default();

    for tool in ["gcc", "node", "npm"] {
        if !process::have(tool) {
            return Err(format!("`{tool}` is missing: run `bash .ci/run` once, or see the README prerequisites"));
        }
    }

    // 1. Rust: unit + integration tests of every crate (core, emulator incl. the official-SDK conformance run,
    //    C smoke test driver, FFI tests).
    let (ok, out) = process::run_tee(cargo().args(["test", "--workspace", "--no-fail-fast", "--color", "never"]));
    let (p, f) = cargo_counts(&out);
    tally.step("cargo test --workspace", if ok || f > 0 { Ok((p, f)) } else { Err("cargo test failed before reporting (build error?)".into()) });

    // 2. Generated bindings are up to date.
    tally.step("bindings are fresh", crate::bindings::check(&root).map(|_| (1, 0)));
    tally.step("fuzz smoke", crate::fuzz::smoke(&root));

    if !quick {
        // 3. The generated C# compiles for .NET Framework 4.8.
        let out_dir = process::target_dir().join("csharp-check");
        std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
        tally.step("Interop.cs compiles with mcs -sdk:4.8", crate::csharp_check::compile_bindings(&root, &out_dir).map(|_| (1, 0)));

        // 4. .NET wrapper and Sitecore processors on Mono against the real native library and the emulator.
        tally.step(".NET tests (NUnit on Mono)", dotnet_tests(&root));

        // 5. The Windows DLL, cross-built and run under Wine. Installs what it needs; when it cannot, the step
        //    fails (never a silent skip).
        tally.step("Windows DLL under Wine (cargo xtask windows)", crate::windows::test_layer());

        // 6. Real browser: Debian chromium + playwright-core against the test site (browser tag, VIEW owner, admin
        //    page; screenshot in target/browser/). Installs chromium and the pinned npm packages when missing.
        tally.step("real browser (cargo xtask browser)", crate::browser::test_layer());

        // 7. The NuGet packages: packed with nuget 2.8, installed, built into a classic project with xbuild.
        tally.step("NuGet packages (cargo xtask pack, nuget install, xbuild)", crate::pack_install::test_layer());
    }

    println!();
    for f in &tally.failures {
        println!("xtask: FAILED {f}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 {
        Err(format!("{} failed", tally.failed))
    } else {
        Ok(())
    }
}

fn dotnet_tests(root: &std::path::Path) -> Result<(u64, u64), String> {
    process::run(cargo().args(["build", "--lib", "-p", "xmcdp", "-p", "xmcdp-emulator", "--bins"]))?;
    let native = process::target_dir().join("debug").join(process::native_lib_name());
    let emulator = crate::emulator_process::EmulatorProcess::start(&[])?;
    let (p, f) = crate::dotnet::test(root, &native, Some(&emulator.url))?;
    Ok((p as u64, f as u64))
}


#[allow(dead_code)]
fn _assert_command_is_used(_: Command) {}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_cargo_summaries() {
        let out = "test result: ok. 29 passed; 0 failed; 0 ignored\nfoo\ntest result: FAILED. 3 passed; 2 failed; 1 ignored";
        assert_eq!(super::cargo_counts(out), (32, 2));
    }
}
