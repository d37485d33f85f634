//! `cargo xtask bench [--quick]`: request-thread cost of a page view through the C ABI, sustained delivery
//! to the local emulator, and the instruction count of the enqueue path. Results in
//! `target/bench/results.json` (shape shared with the peer benchmarks) and a table on stdout.

use crate::util::{self, cargo, http_get, EmulatorProcess};
use serde_json::{json, Value};
use std::process::Command;

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let root = util::repo_root();
    let out_dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;

    println!("== building release artifacts");
    util::run(cargo().args(["build", "--release", "--quiet", "-p", "xmcdp", "--lib"]))?;
    util::run(cargo().args(["build", "--release", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
    let release = util::target_dir().join("release");
    let exe = out_dir.join("enqueue");
    util::run(
        Command::new("gcc")
            .args(["-std=c99", "-O2", "-Wall", "-o"])
            .arg(&exe)
            .arg(root.join("benches/c/enqueue.c"))
            .arg("-I")
            .arg(root.join("bindings/c"))
            .arg("-L")
            .arg(&release)
            .arg(format!("-Wl,-rpath,{}", release.display()))
            .arg("-lxmcdp"),
    )?;

    let emu = EmulatorProcess::start_bin(&release.join("xmcdp-emulator"), &[])?;
    let mut bids = Vec::new();
    for _ in 0..64 {
        let v: Value = serde_json::from_str(&http_get(&format!("{}/v1.2/browser/create.json?client_key=ck_test&message={{}}", emu.url))?)
            .map_err(|e| e.to_string())?;
        bids.push(v["ref"].as_str().ok_or("no ref")?.to_string());
    }
    let bids = bids.join(",");
    let run_c = |mode: &str, n: u64| -> Result<Value, String> {
        let out = Command::new(&exe).args([mode, &emu.url, &n.to_string(), &bids]).output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("bench {mode} failed: {text} {}", String::from_utf8_lossy(&out.stderr)));
        }
        serde_json::from_str(text.trim()).map_err(|e| format!("bench {mode}: {e}: {text}"))
    };

    let n = if quick { 20_000 } else { 200_000 };
    println!("== page view through the C ABI, {n} calls");
    let lat = run_c("latency", n)?;
    println!("   {lat}");
    let tn = if quick { 20_000 } else { 200_000 };
    println!("== sustained delivery to the emulator, {tn} events (client and emulator share this machine's cores)");
    let thr = run_c("throughput", tn)?;
    println!("   {thr}");

    let mut cases = vec![
        json!({"name": "page view enqueue via C ABI, p50", "unit": "ns", "xmcdp": lat["p50_ns"], "peer": null, "peer_name": null, "ratio": null}),
        json!({"name": "page view enqueue via C ABI, p99", "unit": "ns", "xmcdp": lat["p99_ns"], "peer": null, "peer_name": null, "ratio": null}),
        json!({"name": "sustained delivery to the emulator", "unit": "events/s", "xmcdp": thr["events_per_s"], "peer": null, "peer_name": null, "ratio": null}),
        json!({"name": "peak RSS of the sending process during delivery", "unit": "KiB", "xmcdp": thr["peak_rss_kb"], "peer": null, "peer_name": null, "ratio": null}),
    ];

    if util::have("valgrind") {
        let calls = 2_000u64;
        println!("== instruction count of xmcdp_client_page_view under callgrind, {calls} calls");
        let cg_out = out_dir.join("callgrind.out");
        let status = Command::new("valgrind")
            .args(["--tool=callgrind", "--toggle-collect=xmcdp_client_page_view"])
            .arg(format!("--callgrind-out-file={}", cg_out.display()))
            .arg(&exe)
            .args(["callgrind", &emu.url, &calls.to_string(), &bids])
            .output()
            .map_err(|e| e.to_string())?;
        if !status.status.success() {
            return Err(format!("callgrind run failed: {}", String::from_utf8_lossy(&status.stderr)));
        }
        let text = std::fs::read_to_string(&cg_out).map_err(|e| e.to_string())?;
        let total: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .ok_or("no summary in the callgrind output")?;
        let per_call = total / calls;
        println!("   {per_call} instructions per call");
        cases.push(json!({"name": "page view enqueue instructions (callgrind)", "unit": "instructions", "xmcdp": per_call, "peer": null, "peer_name": null, "ratio": null}));
    } else {
        println!("== valgrind not installed: skipping the instruction count (apt-get install -y valgrind)");
    }

    let machine = machine_description();
    let results = json!({"machine": machine, "quick": quick, "cases": cases});
    std::fs::write(out_dir.join("results.json"), serde_json::to_string_pretty(&results).unwrap()).map_err(|e| e.to_string())?;
    println!("\n{:<52} {:>14}  unit", "case", "xmcdp");
    for c in results["cases"].as_array().unwrap() {
        println!("{:<52} {:>14}  {}", c["name"].as_str().unwrap(), c["xmcdp"].to_string(), c["unit"].as_str().unwrap());
    }
    println!("\nmachine: {machine}\nresults: {}", out_dir.join("results.json").display());
    Ok(())
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map(|kb| format!("{} GiB", kb / 1024 / 1024))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem}, {}", std::env::consts::OS)
}
