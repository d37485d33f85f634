//! .NET side of the build: compiles every C# assembly with Mono's `mcs` and runs the NUnit 2.6 suites.
//!
//! Prerequisites (Debian/Ubuntu): `apt-get install -y mono-complete nunit-console` (mcs, System.Web, Mono.Cecil,
//! xsp4 for the end-to-end host, nunit-console 2.6). Only std is used, so this module adds no dependency.
//!
//! Layout written to `out/`:
//! - `XmCdp.dll`, `XmCdp.Sitecore.dll`: the shipped assemblies (same sources as the Windows csproj builds);
//! - `Sitecore.Kernel.dll`, `Sitecore.Mvc.dll`, `Sitecore.ExperienceForms.dll`: TEST-ONLY stand-ins (`dotnet/tests/Sitecore.*.Stub`), never shipped;
//! - `XmCdp.TestHost.dll` and `site/`: the ASP.NET test site whose Global.asax replays the shipped patch config;
//! - `tools/XspPatch.exe`, `tools/XmCdp.XspTlsStub.dll`: the xsp4 fix (see `spec/mono-host-notes.md`), applied by
//!   the end-to-end fixture at test time to a private copy of xsp4.exe;
//! - `XmCdp.Tests.dll`, `XmCdp.Sitecore.Tests.dll`, `nunit.framework.dll`: the test suites.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// mcs accepts language versions up to 7.2; the sources stay within C# 7.2 so the Windows build (LangVersion 7.3)
/// and this one compile the same files.
const LANGVERSION: &str = "7.2";

const NUNIT_FRAMEWORK: &str = "/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll";

/// Compiles all C# (shipped assemblies, stand-in kernel, test host, tools, tests) into `out`.
pub fn build(repo_root: &Path, out: &Path) -> Result<(), String> {
    check_tool("mcs", "apt-get install -y mono-complete")?;
    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let dn = repo_root.join("dotnet");
    let tests = dn.join("tests");

    // Shipped: the wrapper over the generated interop, then the Sitecore processors.
    compile_wrapper(repo_root, out)?;

    // TEST-ONLY stand-in for Sitecore.Kernel (same assembly name, so config type strings resolve).
    mcs(
        out,
        "Sitecore.Kernel.dll",
        "library",
        &cs_files(&tests.join("Sitecore.Kernel.Stub"))?,
        &["System.Web.dll", "System.Xml.dll", "System.Core.dll"],
        false,
    )?;

    // TEST-ONLY stand-in for Sitecore.Mvc (TransferRoutedRequest of the stock Sitecore layer).
    mcs(out, "Sitecore.Mvc.dll", "library", &cs_files(&tests.join("Sitecore.Mvc.Stub"))?, &["Sitecore.Kernel.dll", "System.Web.dll"], false)?;

    // TEST-ONLY stand-in for Sitecore.ExperienceForms (the submit-action API of Sitecore Forms).
    forms_stub(&tests, out)?;

    let sc_refs = SITECORE_REFS;
    mcs(out, "XmCdp.Sitecore.dll", "library", &cs_files(&dn.join("XmCdp.Sitecore"))?, &sc_refs, false)?;

    // The ASP.NET test host (Global.asax code-behind) and its site template.
    mcs(
        out,
        "XmCdp.TestHost.dll",
        "library",
        &cs_files(&tests.join("WebHost").join("src"))?,
        &[
            "XmCdp.dll",
            "XmCdp.Sitecore.dll",
            "Sitecore.Kernel.dll",
            "Sitecore.Mvc.dll",
            "Sitecore.ExperienceForms.dll",
            "System.Web.dll",
            "System.Web.Extensions.dll",
            "System.Configuration.dll",
            "System.Xml.dll",
            "System.Core.dll",
        ],
        false,
    )?;
    let site = out.join("site");
    if site.exists() {
        fs::remove_dir_all(&site).map_err(|e| format!("cannot clean {}: {e}", site.display()))?;
    }
    copy_tree(&tests.join("WebHost").join("site"), &site)?;
    let include = site.join("App_Config").join("Include").join("XmCdp");
    fs::create_dir_all(&include).map_err(|e| e.to_string())?;
    // The SHIPPED patch file, byte for byte: the host must run what customers deploy.
    copy_file(
        &dn.join("XmCdp.Sitecore").join("App_Config").join("Include").join("XmCdp").join("XmCdp.config"),
        &include.join("XmCdp.config"),
    )?;
    // The SHIPPED serialized items: the test site builds its rule elements and submit actions from them.
    copy_tree(&dn.join("XmCdp.Sitecore").join("serialization"), &site.join("App_Data").join("XmCdp").join("serialization"))?;

    // The SHIPPED admin page, where a Sitecore site has its /sitecore/admin pages.
    let admin = site.join("sitecore").join("admin");
    fs::create_dir_all(&admin).map_err(|e| e.to_string())?;
    copy_file(&dn.join("XmCdp.Sitecore").join("sitecore").join("admin").join("xmcdp.aspx"), &admin.join("xmcdp.aspx"))?;

    // xsp4 fix: a stub for the TLS types Mono 6 removed, and the Cecil tool that retargets xsp4.exe to it.
    let tools = out.join("tools");
    fs::create_dir_all(&tools).map_err(|e| e.to_string())?;
    let xsp = dn.join("tools").join("XspPatch");
    mcs(&tools, "XmCdp.XspTlsStub.dll", "library", &[xsp.join("TlsStub.cs")], &[], false)?;
    let cecil = find_cecil()?;
    mcs(&tools, "XspPatch.exe", "exe", &[xsp.join("XspPatch.cs")], &[cecil.to_str().unwrap_or_default()], false)?;
    copy_file(&cecil, &tools.join("Mono.Cecil.dll"))?;

    // Test suites.
    copy_file(Path::new(NUNIT_FRAMEWORK), &out.join("nunit.framework.dll"))?;
    let common = cs_files(&tests.join("Common"))?;
    let mut wrapper_tests = cs_files(&tests.join("XmCdp.Tests"))?;
    wrapper_tests.extend(common.iter().cloned());
    mcs(
        out,
        "XmCdp.Tests.dll",
        "library",
        &wrapper_tests,
        &["XmCdp.dll", "nunit.framework.dll", "System.Web.dll", "System.Web.Extensions.dll", "System.Core.dll"],
        true,
    )?;
    // appSettings of the NUnit test domain (NUnit reads <assembly>.config).
    copy_file(&tests.join("XmCdp.Sitecore.Tests").join("App.config"), &out.join("XmCdp.Sitecore.Tests.dll.config"))?;
    let mut sc_tests = cs_files(&tests.join("XmCdp.Sitecore.Tests"))?;
    sc_tests.extend(common);
    mcs(
        out,
        "XmCdp.Sitecore.Tests.dll",
        "library",
        &sc_tests,
        &[
            "XmCdp.dll",
            "XmCdp.Sitecore.dll",
            "Sitecore.Kernel.dll",
            "Sitecore.Mvc.dll",
            "Sitecore.ExperienceForms.dll",
            "nunit.framework.dll",
            "System.Web.dll",
            "System.Web.Extensions.dll",
            "System.Configuration.dll",
            "System.Xml.dll",
            "System.Core.dll",
        ],
        false,
    )?;
    Ok(())
}

/// Compiles only what ships (`XmCdp.dll`, `XmCdp.Sitecore.dll`) into `out`, for `cargo xtask dist`. The
/// Sitecore assembly is compiled against the TEST-ONLY stand-in kernel, written to `out/ref/` (never shipped);
/// returns the two shipped assemblies.
pub fn build_shipped(repo_root: &Path, out: &Path) -> Result<[PathBuf; 2], String> {
    check_tool("mcs", "apt-get install -y mono-complete")?;
    let reference = out.join("ref");
    fs::create_dir_all(&reference).map_err(|e| format!("cannot create {}: {e}", reference.display()))?;
    let dn = repo_root.join("dotnet");
    compile_wrapper(repo_root, out)?;
    mcs(
        &reference,
        "Sitecore.Kernel.dll",
        "library",
        &cs_files(&dn.join("tests").join("Sitecore.Kernel.Stub"))?,
        &["System.Web.dll", "System.Xml.dll", "System.Core.dll"],
        false,
    )?;
    forms_stub(&dn.join("tests"), &reference)?;
    let kernel = reference.join("Sitecore.Kernel.dll").display().to_string();
    let forms = reference.join("Sitecore.ExperienceForms.dll").display().to_string();
    let sc_refs = ["XmCdp.dll", kernel.as_str(), forms.as_str(), "System.Web.dll", "System.Web.Extensions.dll", "System.Configuration.dll", "System.Xml.dll"];
    mcs(out, "XmCdp.Sitecore.dll", "library", &cs_files(&dn.join("XmCdp.Sitecore"))?, &sc_refs, false)?;
    Ok([out.join("XmCdp.dll"), out.join("XmCdp.Sitecore.dll")])
}

/// What `XmCdp.Sitecore.dll` is compiled against (the Sitecore ones are stand-ins in `out`).
pub(crate) const SITECORE_REFS: [&str; 7] = [
    "XmCdp.dll",
    "Sitecore.Kernel.dll",
    "Sitecore.ExperienceForms.dll",
    "System.Web.dll",
    "System.Web.Extensions.dll",
    "System.Configuration.dll",
    "System.Xml.dll",
];

/// TEST-ONLY `Sitecore.ExperienceForms.dll` into `out` (needs the stand-in kernel there: its log is the Forms log).
pub(crate) fn forms_stub(tests: &Path, out: &Path) -> Result<(), String> {
    let stub = tests.join("Sitecore.ExperienceForms.Stub");
    mcs(out, "Sitecore.ExperienceForms.dll", "library", &cs_files(&stub)?, &["Sitecore.Kernel.dll", "System.Core.dll"], false)
}

/// Compiles `XmCdp.dll` (the hand-written wrapper plus the generated `bindings/csharp/Interop.cs`) into `out`:
/// the one place both the test build and the shipped build get it from.
fn compile_wrapper(repo_root: &Path, out: &Path) -> Result<(), String> {
    let interop = repo_root.join("bindings").join("csharp").join("Interop.cs");
    if !interop.is_file() {
        return Err(format!("{} is missing: run `cargo xtask bindings` first", interop.display()));
    }
    let mut sources = cs_files(&repo_root.join("dotnet").join("XmCdp"))?;
    sources.push(interop);
    mcs(out, "XmCdp.dll", "library", &sources, &["System.Web.dll"], true)
}

/// Builds into `<target>/dotnet-tests`, maps the native library, runs every NUnit suite and returns
/// (passed, failed) summed over the suites. Starts xmcdp-emulator itself when `emulator_url` is None.
pub fn test(repo_root: &Path, native_lib: &Path, emulator_url: Option<&str>) -> Result<(u32, u32), String> {
    check_tool("nunit-console", "apt-get install -y nunit-console")?;
    let native_lib = fs::canonicalize(native_lib)
        .map_err(|e| format!("native library {} not found ({e}); build it with `cargo build --lib`", native_lib.display()))?;
    let out = target_dir(repo_root).join("dotnet-tests");
    build(repo_root, &out)?;
    // Sites and patched xsp copies of earlier end-to-end runs.
    if let Ok(entries) = fs::read_dir(&out) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("e2e-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    write_dllmap(&out.join("XmCdp.dll.config"), &native_lib)?;

    let mut emulator = None;
    let url = match emulator_url {
        Some(u) => u.to_owned(),
        None => {
            let (child, url) = start_emulator(repo_root)?;
            emulator = Some(child);
            url
        }
    };

    let mut passed = 0;
    let mut failed = 0;
    let mut problems = Vec::new();
    for suite in ["XmCdp.Tests.dll", "XmCdp.Sitecore.Tests.dll"] {
        match run_suite(&out, suite, &url, &native_lib) {
            Ok((p, f)) => {
                println!("dotnet: {suite}: {p} passed, {f} failed");
                passed += p;
                failed += f;
            }
            Err(e) => problems.push(format!("{suite}: {e}")),
        }
    }
    if let Some(mut child) = emulator {
        let _ = child.kill();
        let _ = child.wait();
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    println!("{passed} passed, {failed} failed");
    Ok((passed, failed))
}

fn run_suite(out: &Path, suite: &str, emulator_url: &str, native_lib: &Path) -> Result<(u32, u32), String> {
    let result_xml = out.join(format!("TestResult.{}.xml", suite.trim_end_matches(".dll")));
    let mut cmd = Command::new("nunit-console");
    if let Ok(run) = std::env::var("XMCDP_NUNIT_RUN") {
        cmd.arg(format!("-run={run}"));
    }
    let output = cmd
        .current_dir(out)
        .arg(suite)
        .arg("-nologo")
        // No shadow copy: XmCdp.dll.config (the dllmap) must sit next to the XmCdp.dll that is loaded.
        .arg("-noshadow")
        .arg(format!("-result={}", result_xml.display()))
        .env("XMCDP_EMULATOR_URL", emulator_url)
        .env("XMCDP_NATIVE_LIB", native_lib)
        .env("XMCDP_TEST_OUT", out)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start nunit-console: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    parse_nunit_summary(&stdout).ok_or_else(|| {
        format!("nunit-console printed no summary (exit {:?}); see the output above", output.status.code())
    })
}

/// Parses `Tests run: N, Errors: E, Failures: F, Inconclusive: I, …` and the following
/// `Not run: X, Invalid: V, Ignored: G, Skipped: S` line into (passed, failed). Errors, failures, invalid,
/// ignored and skipped tests all count as failed: a test that did not run proves nothing.
pub fn parse_nunit_summary(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find(|l| l.trim_start().starts_with("Tests run:"))?;
    let run = field(line, "Tests run:")?;
    let errors = field(line, "Errors:")?;
    let failures = field(line, "Failures:")?;
    let inconclusive = field(line, "Inconclusive:").unwrap_or(0);
    let mut not_counted = 0;
    if let Some(next) = output.lines().find(|l| l.trim_start().starts_with("Not run:")) {
        not_counted = field(next, "Invalid:").unwrap_or(0) + field(next, "Ignored:").unwrap_or(0) + field(next, "Skipped:").unwrap_or(0);
    }
    let failed = errors + failures + inconclusive + not_counted;
    let passed = run.saturating_sub(errors + failures + inconclusive);
    Some((passed, failed))
}

fn field(line: &str, name: &str) -> Option<u32> {
    let start = line.find(name)? + name.len();
    let digits: String = line[start..].trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn mcs(out: &Path, name: &str, target: &str, sources: &[PathBuf], refs: &[&str], unsafe_code: bool) -> Result<(), String> {
    mcs_with(out, name, target, sources, refs, unsafe_code, &["-debug"])
}

/// One `mcs -sdk:4.8` compile into `out` (which is also the reference search path), with extra `flags`.
pub fn mcs_with(
    out: &Path,
    name: &str,
    target: &str,
    sources: &[PathBuf],
    refs: &[&str],
    unsafe_code: bool,
    flags: &[&str],
) -> Result<(), String> {
    if sources.is_empty() {
        return Err(format!("{name}: no sources"));
    }
    let mut cmd = Command::new("mcs");
    cmd.current_dir(out)
        .arg("-sdk:4.8")
        .arg(format!("-langversion:{LANGVERSION}"))
        .arg(format!("-target:{target}"))
        .args(flags)
        .arg("-nowarn:1591")
        .arg(format!("-out:{}", out.join(name).display()))
        .arg(format!("-lib:{}", out.display()));
    if unsafe_code {
        cmd.arg("-unsafe");
    }
    for r in refs {
        cmd.arg(format!("-r:{r}"));
    }
    cmd.args(sources);
    let output = cmd.output().map_err(|e| format!("cannot start mcs: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "mcs failed for {name}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// All `*.cs` under `dir`, sorted (deterministic builds), skipping `bin`/`obj` of a Windows build.
fn cs_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.retain(|p| p.extension().is_some_and(|e| e == "cs"));
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name != "bin" && name != "obj" {
                walk(&path, files)?;
            }
        } else {
            files.push(path);
        }
    }
    Ok(())
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    walk(from, &mut files)?;
    for f in files {
        let rel = f.strip_prefix(from).map_err(|e| e.to_string())?;
        copy_file(&f, &to.join(rel))?;
    }
    Ok(())
}

pub(crate) fn copy_file(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::copy(from, to).map(|_| ()).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Mono resolves `[DllImport("xmcdp")]` through this map (a dllmap in web.config is not honoured).
pub(crate) fn write_dllmap(path: &Path, native_lib: &Path) -> Result<(), String> {
    let target = native_lib.display().to_string().replace('&', "&amp;").replace('"', "&quot;");
    let xml = format!("<configuration>\n  <dllmap dll=\"xmcdp\" target=\"{target}\" />\n</configuration>\n");
    fs::write(path, xml).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn find_cecil() -> Result<PathBuf, String> {
    let gac = Path::new("/usr/lib/mono/gac/Mono.Cecil");
    let mut versions: Vec<PathBuf> = fs::read_dir(gac)
        .map_err(|e| format!("Mono.Cecil not found in {} ({e}); apt-get install -y mono-complete", gac.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Mono.Cecil.dll").is_file())
        .collect();
    // Newest first: "0.11.0.0__…" sorts after "0.9.5.0__…" only numerically.
    versions.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        name.split("__").next().unwrap_or("").split('.').map(|s| s.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>()
    });
    versions.last().map(|p| p.join("Mono.Cecil.dll")).ok_or_else(|| "no Mono.Cecil.dll in the GAC".to_owned())
}

fn target_dir(repo_root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let p = PathBuf::from(d);
            if p.is_absolute() { p } else { repo_root.join(p) }
        }
        None => repo_root.join("target"),
    }
}

fn check_tool(tool: &str, install: &str) -> Result<(), String> {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok { Ok(()) } else { Err(format!("`{tool}` not found; install it with `{install}`")) }
}

/// `cargo run -p xmcdp-emulator -- --listen 127.0.0.1:0`, waiting for its `listening on http://ADDR` line.
fn start_emulator(repo_root: &Path) -> Result<(Child, String), String> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root)
        .args(["run", "-q", "-p", "xmcdp-emulator", "--", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let stdout = child.stdout.take().ok_or("no emulator stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(pos) = line.find("listening on ") {
            let url = line[pos + "listening on ".len()..].trim().to_owned();
            // Keep draining its stdout so the emulator never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok((child, url));
        }
    }
    let _ = child.kill();
    Err("the emulator exited without printing `listening on`".into())
}

#[cfg(test)]
mod tests {
    use super::parse_nunit_summary;

    #[test]
    fn parses_the_summary_not_the_last_line() {
        let out = "....F\nTests run: 5, Errors: 1, Failures: 1, Inconclusive: 0, Time: 0.1 seconds\n  Not run: 0, Invalid: 0, Ignored: 0, Skipped: 0\n\nErrors and Failures:\n1) ...";
        assert_eq!(parse_nunit_summary(out), Some((3, 2)));
    }

    #[test]
    fn not_run_tests_count_as_failed() {
        let out = "Tests run: 4, Errors: 0, Failures: 0, Inconclusive: 0, Time: 1 seconds\n  Not run: 2, Invalid: 0, Ignored: 1, Skipped: 1\n";
        assert_eq!(parse_nunit_summary(out), Some((4, 2)));
    }

    #[test]
    fn no_summary_is_none() {
        assert_eq!(parse_nunit_summary("Unhandled Exception: boom"), None);
    }
}
