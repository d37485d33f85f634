//! The peers of a run: the C ABI programs (`benches/c`), the C# wrapper and HttpClient peer on Mono, Engage on Node,
//! all built here, then run one at a time against one emulator (pinned to their cores when possible), each
//! printing one JSON object.

use crate::emulator_process::EmulatorProcess;
use crate::process::{self, cargo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use xmcdp_emulator_admin::Admin;

/// What `build` made; a peer whose toolchain is missing is `None` and its cases run without it.
pub struct Built {
    release: PathBuf,
    exe: PathBuf,
    scenarios: PathBuf,
    pub csharp: Option<PathBuf>,
    node: Option<PathBuf>,
}

/// The built peers and the emulator they talk to.
pub struct Peers {
    pub exe: PathBuf,
    scenarios: PathBuf,
    pub csharp: Option<PathBuf>,
    pub node: Option<PathBuf>,
    pub url: String,
    /// 64 browser ids minted before the run, comma-separated, and the first of them.
    pub bids: String,
    bid0: String,
    admin: Admin,
    pub pinned: bool,
    pub rt: bool,
}

pub fn build(out_dir: &Path) -> Result<Built, String> {
    let root = process::repo_root();
    println!("== building release artifacts (target dir {})", process::target_dir().display());
    process::run(cargo().args(["build", "--release", "--quiet", "-p", "xmcdp", "--lib"]))?;
    process::run(cargo().args(["build", "--release", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
    let release = process::target_dir().join("release");
    // Both C programs link the release library and call it exactly as a host does. DT_RPATH (not RUNPATH), and
    // LD_LIBRARY_PATH removed from every child: `cargo run` puts <target>/debug on it, and a debug libxmcdp.so
    // there would otherwise be loaded instead of the release one.
    let exe = out_dir.join("enqueue");
    let scenarios = out_dir.join("scenarios");
    for (bin, src) in [(&exe, "benches/c/enqueue.c"), (&scenarios, "benches/c/scenarios.c")] {
        process::run(
            Command::new("gcc")
                .args(["-std=c99", "-O2", "-Wall", "-o"])
                .arg(bin)
                .arg(root.join(src))
                .arg("-I")
                .arg(root.join("bindings/c"))
                .arg("-L")
                .arg(&release)
                .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", release.display()))
                .arg("-lxmcdp"),
        )?;
    }
    let csharp = match build_csharp(&root, &out_dir.join("csharp"), &release.join("libxmcdp.so")) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("   C# cases skipped: {e}");
            None
        }
    };
    let node = match prepare_node(&root) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("   Engage (Node) cases skipped: {e}");
            None
        }
    };
    Ok(Built { release, exe, scenarios, csharp, node })
}

/// Starts the emulator (on the last core when pinning) and mints the browser ids every case shares.
pub fn start(b: Built, rt: bool) -> Result<(EmulatorProcess, Peers), String> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let pinned = process::have("taskset") && cores >= 2;
    let rt = rt && process::have("chrt");
    let emu_core = (cores - 1).to_string();
    let emu = EmulatorProcess::start_with_prefix(&b.release.join("xmcdp-emulator"), &prefix(rt, pinned, &emu_core), &[])?;
    let url = emu.url.clone();
    println!(
        "== emulator at {url}{}{}",
        if pinned { format!(" (pinned to core {emu_core}; clients pinned to core 0)") } else { " (unpinned)".into() },
        if rt { ", SCHED_FIFO 10" } else { "" }
    );
    let admin = emu.admin();
    let mut bids = Vec::new();
    for _ in 0..64 {
        bids.push(admin.create_browser()?);
    }
    let bid0 = bids[0].clone();
    let peers = Peers {
        exe: b.exe,
        scenarios: b.scenarios,
        csharp: b.csharp,
        node: b.node,
        url,
        bids: bids.join(","),
        bid0,
        admin,
        pinned,
        rt,
    };
    Ok((emu, peers))
}

/// The command prefix every process of the run gets: chrt (with --rt), then taskset.
fn prefix(rt: bool, pinned: bool, core: &str) -> Vec<String> {
    let mut p = Vec::new();
    if rt {
        p.extend(["chrt", "-f", "10"].map(String::from));
    }
    if pinned {
        p.extend(["taskset", "-c", core].map(String::from));
    }
    p
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

impl Peers {
    /// Every client process goes through here: pinned to core 0 when possible, stdout parsed as one JSON object.
    fn client(&self, program: &Path, args: &[String], cwd: Option<&Path>) -> Result<Value, String> {
        let pre = prefix(self.rt, self.pinned, "0");
        let mut cmd = match pre.first() {
            Some(first) => {
                let mut c = Command::new(first);
                c.args(&pre[1..]).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args).stdin(Stdio::null()).env_remove("LD_LIBRARY_PATH");
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let out = cmd.output().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
        if !out.status.success() || line.is_empty() {
            return Err(format!(
                "{} {args:?} failed: {text} {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_str(line.trim()).map_err(|e| format!("{}: {e}: {line}", program.display()))
    }

    /// `benches/c/enqueue.c`: page views through the C ABI.
    pub fn c_run(&self, mode: &str, n: u64, deadline_ms: u64) -> Result<Value, String> {
        self.client(&self.exe, &s(&[mode, &self.url, &n.to_string(), &self.bids, &deadline_ms.to_string()]), None)
    }

    /// `benches/c/scenarios.c`: decisions, prefetch, first visits, the open breaker.
    pub fn dec_run(&self, mode: &str, n: u64, arg: u64) -> Result<Value, String> {
        self.client(&self.scenarios, &s(&[mode, &self.url, &n.to_string(), &self.bid0, &arg.to_string()]), None)
    }

    /// `benches/node/engage.js`: the official SDK.
    pub fn node_run(&self, mode: &str, n: u64, arg: u64) -> Result<Value, String> {
        let dir = self.node.as_ref().ok_or("no node")?;
        let mut a = vec![dir.join("engage.js").display().to_string()];
        a.extend(s(&[mode, &self.url, &n.to_string(), &self.bids, &arg.to_string()]));
        self.client(Path::new("node"), &a, Some(dir))
    }

    /// `benches/csharp/Bench.cs` on Mono: the C# wrapper, the Sitecore processors, HttpClient.
    pub fn cs_run(&self, mode: &str, n: u64) -> Result<Value, String> {
        let dir = self.csharp.as_ref().ok_or("no C#")?;
        let mut a = vec![dir.join("XmCdp.Bench.exe").display().to_string()];
        a.extend(s(&[mode, &self.url, &n.to_string(), &self.bids]));
        self.client(Path::new("mono"), &a, Some(dir))
    }

    pub fn faults(&self, f: Value) -> Result<(), String> {
        self.admin.set_faults(&f).map(|_| ())
    }

    /// Events the emulator has accepted so far.
    pub fn accepted(&self) -> Result<u64, String> {
        let v = self.admin.stats()?;
        v["events"]["accepted"].as_u64().ok_or_else(|| "no events.accepted in /__emulator/stats".to_string())
    }
}

/// Compiles the shipped C# wrapper and Sitecore processors (same sources as `xtask test`), the TEST-ONLY
/// Sitecore.Kernel stand-in and `benches/csharp/Bench.cs` with Mono's mcs; maps `xmcdp` to the release library.
fn build_csharp(root: &Path, out: &Path, native: &Path) -> Result<PathBuf, String> {
    if !process::have("mcs") || !process::have("mono") {
        return Err("mcs/mono not installed (apt-get install -y mono-complete)".into());
    }
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let dn = root.join("dotnet");
    let mut xmcdp = cs_files(&dn.join("XmCdp"));
    xmcdp.push(root.join("bindings/csharp/Interop.cs"));
    mcs(out, "XmCdp.dll", "library", &xmcdp, &["System.Web.dll"], true)?;
    mcs(
        out,
        "Sitecore.Kernel.dll",
        "library",
        &cs_files(&dn.join("tests/Sitecore.Kernel.Stub")),
        &["System.Web.dll", "System.Xml.dll", "System.Core.dll"],
        false,
    )?;
    // XmCdp.Sitecore's Forms submit actions compile against the TEST-ONLY Sitecore.ExperienceForms stand-in.
    crate::dotnet::forms_stub(&dn.join("tests"), out)?;
    mcs(out, "XmCdp.Sitecore.dll", "library", &cs_files(&dn.join("XmCdp.Sitecore")), &crate::dotnet::SITECORE_REFS, false)?;
    mcs(
        out,
        "XmCdp.Bench.exe",
        "exe",
        &cs_files(&root.join("benches/csharp")),
        &[
            "XmCdp.dll",
            "XmCdp.Sitecore.dll",
            "Sitecore.Kernel.dll",
            "System.Web.dll",
            "System.Net.Http.dll",
            "System.Xml.dll",
        ],
        false,
    )?;
    let native = std::fs::canonicalize(native).map_err(|e| format!("{}: {e}", native.display()))?;
    std::fs::write(
        out.join("XmCdp.dll.config"),
        format!("<configuration>\n  <dllmap dll=\"xmcdp\" target=\"{}\" />\n</configuration>\n", native.display()),
    )
    .map_err(|e| e.to_string())?;
    Ok(out.to_path_buf())
}

fn mcs(out: &Path, name: &str, target: &str, sources: &[PathBuf], refs: &[&str], unsafe_code: bool) -> Result<(), String> {
    crate::dotnet::mcs_with(out, name, target, sources, refs, unsafe_code, &["-optimize+"])
}

fn cs_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, acc: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if name != "bin" && name != "obj" {
                    walk(&p, acc);
                }
            } else if p.extension().is_some_and(|x| x == "cs") {
                acc.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, &mut v);
    v.sort();
    v
}

/// `benches/node` with @sitecore/engage installed from the committed lock file (`npm ci` when missing).
fn prepare_node(root: &Path) -> Result<PathBuf, String> {
    if !process::have("node") || !process::have("npm") {
        return Err("node/npm not installed".into());
    }
    let dir = root.join("benches").join("node");
    if !dir.join("node_modules/@sitecore/engage/package.json").is_file() {
        println!("== npm ci in {} (pinned @sitecore/engage)", dir.display());
        process::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir))?;
    }
    Ok(dir)
}
