//! `cargo xtask dist [--out DIR] [--debug] [--verify]`: the files to copy onto a Sitecore site, laid out as they
//! go there:
//!
//! ```text
//! dist/
//!   bin/XmCdp.dll, bin/XmCdp.Sitecore.dll        the C# assemblies (mcs -sdk:4.8 here; build.ps1 on Windows)
//!   bin/x64/libxmcdp.so                          the native library, release build (Windows: xmcdp.dll from build.ps1,
//!                                                or cross-built here with `--windows`)
//!   App_Config/Include/XmCdp/XmCdp.config        the shipped patch file, byte for byte
//!   Transforms/web.config.XmCdp.xdt              appSettings placeholders (apply to web.config; Strict-mode env vars)
//!   sitecore/admin/xmcdp.aspx                    the admin page's markup (its class is in XmCdp.Sitecore.dll)
//!   serialization/XmCdp.module.json, items/…     the Sitecore items (Sitecore Content Serialization): not copied
//!                                                onto the site; the solution's sitecore.json lists the module
//!   INSTALL.md                                   the short install note
//! ```
//!
//! `--debug` packages the debug native library (quick local runs); `--verify` then runs the .NET suites
//! (`xtask/src/dotnet.rs`) against the packaged native library. build.ps1 produces the same layout on Windows.
//! `--windows` packages `bin/x64/xmcdp.dll` cross-built with mingw-w64 (`xtask/src/windows.rs`, tested there under
//! Wine) instead of the Linux library, for a Windows user without Rust; build.ps1 stays the MSVC path.

use crate::dotnet;
use crate::process::{self, cargo};
use std::fs;
use std::path::{Path, PathBuf};

pub const INSTALL_MD: &str = include_str!("dist_install.md");
/// The Sitecore Content Serialization module (`XmCdp.module.json` and `items/`), shipped as `serialization/`.
pub const SERIALIZATION_SOURCE: &str = "dotnet/XmCdp.Sitecore/serialization";

pub fn run(args: &[String]) -> Result<(), String> {
    let root = process::repo_root();
    let mut out = root.join("dist");
    let mut release = true;
    let mut verify = false;
    let mut windows = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
            "--debug" => release = false,
            "--verify" => verify = true,
            "--windows" => windows = true,
            other => return Err(format!("dist: unknown argument `{other}` (expected --out DIR, --debug, --verify, --windows)")),
        }
    }
    if windows && (verify || !release) {
        return Err("dist --windows: release only, and without --verify (the .NET suites run on Mono against the Linux library; `cargo xtask windows` tests the DLL under Wine)".into());
    }
    let profile = if release { "release" } else { "debug" };
    let native = if windows {
        println!("== cross-building xmcdp.dll (x86_64-pc-windows-gnu, release)");
        crate::windows::build_release()?
    } else {
        println!("== building the native library ({profile})");
        let mut build = cargo();
        build.args(["build", "--quiet", "-p", "xmcdp", "--lib"]);
        if release {
            build.arg("--release");
        }
        process::run(&mut build)?;
        process::target_dir().join(profile).join(crate::process::native_lib_name())
    };
    let staging = process::target_dir().join("dist-build");
    println!("== compiling XmCdp.dll and XmCdp.Sitecore.dll (mcs -sdk:4.8)");
    let assemblies = dotnet::build_shipped(&root, &staging)?;
    assemble(&root, &out, &assemblies, &native)?;
    for f in list(&out)? {
        println!("  {}", f.display());
    }
    println!(
        "== {} is ready to copy onto the site root (see {}/INSTALL.md)",
        out.display(),
        out.display()
    );
    if verify {
        println!("== verifying: the .NET suites against {}", out.join("bin/x64").display());
        process::run(cargo().args(["build", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
        let emulator = crate::emulator_process::EmulatorProcess::start(&[])?;
        let packaged = out.join("bin").join("x64").join(crate::process::native_lib_name());
        let (passed, failed) = dotnet::test(&root, &packaged, Some(&emulator.url))?;
        if failed > 0 {
            return Err(format!("dist --verify: {failed} .NET tests failed ({passed} passed)"));
        }
    }
    Ok(())
}

/// Writes the site layout into `out` (emptied first) from built assemblies and a native library.
pub fn assemble(root: &Path, out: &Path, assemblies: &[PathBuf], native: &Path) -> Result<(), String> {
    if out.exists() {
        fs::remove_dir_all(out).map_err(|e| format!("cannot clean {}: {e}", out.display()))?;
    }
    let bin = out.join("bin");
    let x64 = bin.join("x64");
    fs::create_dir_all(&x64).map_err(|e| format!("cannot create {}: {e}", x64.display()))?;
    for a in assemblies {
        let name = a.file_name().ok_or("assembly without a file name")?;
        copy(a, &bin.join(name))?;
    }
    let native_name = native.file_name().ok_or("native library without a file name")?;
    if !native.is_file() {
        return Err(format!("native library {} is missing", native.display()));
    }
    let shipped = x64.join(native_name);
    copy(native, &shipped)?;
    // The release profile keeps debug info for profiling (tens of MB); the shipped copy doesn't need it.
    if shipped.extension().is_some_and(|e| e == "dll") {
        // The cross-built DLL: stripped exactly as the copy `cargo xtask windows` tests under Wine.
        crate::windows::strip_dll(native, &shipped)?;
    } else if process::have("strip") {
        let _ = std::process::Command::new("strip").arg("--strip-debug").arg(&shipped).status();
    }
    let include = out.join("App_Config").join("Include").join("XmCdp");
    fs::create_dir_all(&include).map_err(|e| e.to_string())?;
    copy(
        &root.join("dotnet/XmCdp.Sitecore/App_Config/Include/XmCdp/XmCdp.config"),
        &include.join("XmCdp.config"),
    )?;
    // Not copied onto the site: applied to its web.config (Strict-mode SITECORE_APPSETTINGS_* needs the keys).
    let transforms = out.join("Transforms");
    fs::create_dir_all(&transforms).map_err(|e| e.to_string())?;
    copy(
        &root.join("dotnet/XmCdp.Sitecore/Transforms/web.config.XmCdp.xdt"),
        &transforms.join("web.config.XmCdp.xdt"),
    )?;
    // System.Web compiles the page from this file on the site; without it the admin page is a 404.
    let admin = out.join("sitecore").join("admin");
    fs::create_dir_all(&admin).map_err(|e| e.to_string())?;
    copy(&root.join("dotnet/XmCdp.Sitecore/sitecore/admin/xmcdp.aspx"), &admin.join("xmcdp.aspx"))?;
    // The rule elements and submit actions as a serialization module: pushed into Sitecore by the solution's
    // `dotnet sitecore ser push`, never copied onto the site.
    let items = root.join(SERIALIZATION_SOURCE);
    for f in list(&items)? {
        let to = out.join("serialization").join(&f);
        fs::create_dir_all(to.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
        copy(&items.join(&f), &to)?;
    }
    fs::write(out.join("INSTALL.md"), INSTALL_MD).map_err(|e| format!("cannot write INSTALL.md: {e}"))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Every file under `dir`, relative, sorted.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    fn walk(base: &Path, dir: &Path, acc: &mut Vec<PathBuf>) -> Result<(), String> {
        for e in fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                walk(base, &p, acc)?;
            } else {
                acc.push(p.strip_prefix(base).map_err(|e| e.to_string())?.to_path_buf());
            }
        }
        Ok(())
    }
    let mut acc = Vec::new();
    walk(dir, dir, &mut acc)?;
    acc.sort();
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the dist steps (real mcs build of the shipped assemblies) into a temp dir and checks the layout. The
    /// native library is a stand-in file here: building the release library belongs to `cargo xtask dist`, not to
    /// a unit test; the layout code is the same.
    #[test]
    fn dist_writes_the_site_layout() {
        let root = process::repo_root();
        let tmp = std::env::temp_dir().join(format!("xmcdp-dist-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let staging = tmp.join("staging");
        let assemblies = dotnet::build_shipped(&root, &staging).expect("mcs builds the shipped assemblies");
        let native = tmp.join(crate::process::native_lib_name());
        fs::write(&native, b"stand-in").unwrap();
        let out = tmp.join("dist");
        // A stale file from an earlier run must not survive.
        fs::create_dir_all(out.join("bin")).unwrap();
        fs::write(out.join("bin/stale.dll"), b"old").unwrap();

        assemble(&root, &out, &assemblies, &native).unwrap();

        let all: Vec<String> = list(&out).unwrap().iter().map(|p| p.display().to_string()).collect();
        let (items, files): (Vec<String>, Vec<String>) = all.into_iter().partition(|f| f.starts_with("serialization/"));
        // The serialization module, file for file (the module file, its README and every item).
        let want: Vec<String> =
            list(&root.join(SERIALIZATION_SOURCE)).unwrap().iter().map(|p| format!("serialization/{}", p.display())).collect();
        assert_eq!(items, want);
        assert!(items.iter().any(|f| f == "serialization/XmCdp.module.json"), "{items:?}");
        for f in &items {
            let rel = f.trim_start_matches("serialization/");
            assert_eq!(fs::read(out.join(f)).unwrap(), fs::read(root.join(SERIALIZATION_SOURCE).join(rel)).unwrap(), "{f}");
        }
        let lib = format!("bin/x64/{}", crate::process::native_lib_name());
        assert_eq!(
            files,
            vec![
                "App_Config/Include/XmCdp/XmCdp.config",
                "INSTALL.md",
                "Transforms/web.config.XmCdp.xdt",
                "bin/XmCdp.Sitecore.dll",
                "bin/XmCdp.dll",
                lib.as_str(),
                "sitecore/admin/xmcdp.aspx"
            ]
        );
        // No test-only stand-in kernel in bin: the site's own Sitecore.Kernel.dll must be used.
        assert!(!out.join("bin/Sitecore.Kernel.dll").exists());
        let shipped = fs::read(root.join("dotnet/XmCdp.Sitecore/App_Config/Include/XmCdp/XmCdp.config")).unwrap();
        assert_eq!(fs::read(out.join("App_Config/Include/XmCdp/XmCdp.config")).unwrap(), shipped);
        // Strict-mode SITECORE_APPSETTINGS_* needs the placeholders (issue 10 item 6): the transform ships as is.
        let xdt = fs::read(root.join("dotnet/XmCdp.Sitecore/Transforms/web.config.XmCdp.xdt")).unwrap();
        assert_eq!(fs::read(out.join("Transforms/web.config.XmCdp.xdt")).unwrap(), xdt);
        // The admin page's markup: its Page directive names the class in bin/XmCdp.Sitecore.dll.
        let aspx = fs::read(root.join("dotnet/XmCdp.Sitecore/sitecore/admin/xmcdp.aspx")).unwrap();
        assert_eq!(fs::read(out.join("sitecore/admin/xmcdp.aspx")).unwrap(), aspx);
        // Real .NET assemblies (PE files), not placeholders.
        for a in ["bin/XmCdp.dll", "bin/XmCdp.Sitecore.dll"] {
            assert_eq!(&fs::read(out.join(a)).unwrap()[..2], b"MZ", "{a}");
        }
        let install = fs::read_to_string(out.join("INSTALL.md")).unwrap();
        for needle in ["bin\\x64\\xmcdp.dll", "recycle", "build.ps1", "XmCdp.config", "web.config.XmCdp.xdt", "sitecore/admin/xmcdp.aspx", "sitecore\\admin\\xmcdp.aspx", "XmCdp.module.json", "ser push"] {
            assert!(install.contains(needle), "INSTALL.md does not mention {needle}");
        }
        let _ = fs::remove_dir_all(&tmp);
    }

    /// build.ps1 cannot run here (no PowerShell, no MSVC target); this keeps it in step with what is tested on
    /// Linux: the same layout, the same sources, the documented parameters and the static CRT.
    #[test]
    fn build_ps1_mirrors_the_dist_layout_and_steps() {
        let root = process::repo_root();
        let ps1 = fs::read_to_string(root.join("build.ps1")).expect("build.ps1 exists");
        for needle in [
            "[string]$Configuration",
            "[string]$SitecoreVersion",
            "[string]$OutDir",
            "x86_64-pc-windows-msvc",
            "-C target-feature=+crt-static",
            "cargo xtask bindings",
            "git diff --exit-code -- bindings/c/xmcdp.h bindings/csharp/Interop.cs",
            "'XmCdp.dll'",
            "'XmCdp.Sitecore.dll'",
            "(Join-Path $x64 'xmcdp.dll')",
            "'App_Config\\Include\\XmCdp'",
            "'dotnet\\XmCdp.Sitecore\\App_Config\\Include\\XmCdp\\XmCdp.config'",
            "'xtask\\src\\dist_install.md'",
            "'dotnet\\XmCdp.Sitecore\\Transforms\\web.config.XmCdp.xdt'",
            "(Join-Path $OutDir 'Transforms')",
            "'dotnet\\XmCdp.Sitecore\\sitecore\\admin\\xmcdp.aspx'",
            "(Join-Path $OutDir 'sitecore\\admin')",
            "Copy-Item -Recurse 'dotnet\\XmCdp.Sitecore\\serialization' (Join-Path $OutDir 'serialization')",
            "-p:SitecoreVersion=$SitecoreVersion",
        ] {
            assert!(ps1.contains(needle), "build.ps1 does not contain {needle}");
        }
        for path in [
            "dotnet/XmCdp/XmCdp.csproj",
            "dotnet/XmCdp.Sitecore/XmCdp.Sitecore.csproj",
            "dotnet/nuget.config",
            "xtask/src/dist_install.md",
        ] {
            assert!(
                ps1.contains(&path.replace('/', "\\")) || path.ends_with("dist_install.md"),
                "build.ps1 does not use {path}"
            );
            assert!(root.join(path).is_file(), "{path} is missing");
        }
        // Hardening (issue 10 item 12), each point by what implements it.
        for (needle, why) in [
            ("$ErrorActionPreference = 'Stop'", "script errors stop the build"),
            ("$ErrorActionPreference = 'Continue'", "native stderr (cargo progress) must not abort under Windows PowerShell 5.1"),
            ("2>&1 | ForEach-Object { Write-Host $_ }", "native stderr is shown as text, not turned into terminating errors"),
            ("if ($LASTEXITCODE -ne 0) { throw", "a native step is judged by its exit code"),
            ("$savedRustFlags = $env:RUSTFLAGS", "RUSTFLAGS is saved"),
            ("finally {", "... and restored in finally"),
            ("$env:RUSTFLAGS = $savedRustFlags", "... to the caller's value"),
            ("[System.IO.Path]::GetFullPath(", "-OutDir is made absolute"),
            ("function Test-PreviousDist", "a non-empty -OutDir is emptied only when it is a previous dist folder"),
            ("refusing to empty -OutDir", "... else refused"),
            ("@('bin', 'App_Config', 'Transforms', 'sitecore', 'serialization', 'INSTALL.md')", "a previous dist folder holds exactly the dist layout's entries"),
            ("Write-Host \"  $($_.FullName)\"", "packaged files are printed with absolute paths"),
        ] {
            assert!(ps1.contains(needle), "build.ps1 does not contain {needle} ({why})");
        }
        assert!(!ps1.contains("Write-Error"), "Write-Error does not stop the build under 'Continue': throw instead");
        let rustflags_removed = ps1.matches("Remove-Item Env:\\RUSTFLAGS").count();
        let finally_at = ps1.find("finally {").unwrap();
        assert!(ps1.match_indices("Remove-Item Env:\\RUSTFLAGS").all(|(i, _)| i > finally_at) && rustflags_removed <= 1, "RUSTFLAGS is only reset in finally");
        for project in ["dotnet/XmCdp/XmCdp.csproj", "dotnet/XmCdp.Sitecore/XmCdp.Sitecore.csproj"] {
            let text = fs::read_to_string(root.join(project)).unwrap();
            assert!(
                text.contains("<CopyLocalLockFileAssemblies>false</CopyLocalLockFileAssemblies>"),
                "{project}: no NuGet dependency (Sitecore, Microsoft.Extensions) may land in the output"
            );
        }
        let csproj = fs::read_to_string(root.join("dotnet/XmCdp.Sitecore/XmCdp.Sitecore.csproj")).unwrap();
        assert!(csproj.contains("Version=\"$(SitecoreVersion)\""), "the csproj must take -SitecoreVersion");
        assert!(csproj.contains("<ExcludeAssets>runtime</ExcludeAssets>"), "Sitecore.Kernel must not ship");
    }
}
