//! The table on stdout and `target/bench/results.json`: one row per case (xmcdp, peer, ratio), the raw output of
//! every peer run, and a description of the machine.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A failed peer run is reported and its case left without a peer figure, so one broken toolchain does not hide
/// the others.
pub fn opt<T>(r: Option<Result<T, String>>) -> Option<T> {
    match r? {
        Ok(v) => Some(v),
        Err(e) => {
            println!("   (skipped: {e})");
            None
        }
    }
}

/// The rows of the table (`cases` in results.json) and every peer's raw output (`raw`).
#[derive(Default)]
pub struct Report {
    rows: Vec<Value>,
    raw: serde_json::Map<String, Value>,
}

impl Report {
    /// Prints one peer's raw output and keeps it for results.json.
    pub fn note(&mut self, name: &str, v: &Value) {
        println!("   {name}: {v}");
        self.raw.insert(name.to_string(), v.clone());
    }

    /// One field of a raw output noted earlier (null when absent).
    pub fn raw_value(&self, name: &str, key: &str) -> Value {
        self.raw.get(name).map(|v| v[key].clone()).unwrap_or(Value::Null)
    }

    pub fn add(
        &mut self,
        name: &str,
        unit: &str,
        xmcdp: Value,
        peer: Option<Value>,
        peer_name: &str,
        higher_is_better: bool,
    ) {
        let peer = peer.unwrap_or(Value::Null);
        let ratio = match (xmcdp.as_f64(), peer.as_f64()) {
            (Some(x), Some(p)) if x > 0.0 && p > 0.0 => {
                let r = if higher_is_better { x / p } else { p / x };
                json!((r * 10.0).round() / 10.0)
            }
            _ => Value::Null,
        };
        let peer_name = if peer.is_null() { Value::Null } else { json!(peer_name) };
        self.rows.push(
            json!({"name": name, "unit": unit, "xmcdp": xmcdp, "peer": peer, "peer_name": peer_name, "ratio": ratio}),
        );
    }

    /// Makes the row just added a headline: its ratio's target. `--quick` fails when a headline ratio is below half
    /// of its target (or was not measured), so a regression cannot land silently; the full run only reports it.
    pub fn target(&mut self, min_ratio: f64) {
        if let Some(row) = self.rows.last_mut() {
            row["target_ratio"] = json!(min_ratio);
        }
    }

    /// Headline rows whose ratio is missing or below half of its target, one line each.
    pub fn guard_failures(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|r| {
                let target = r["target_ratio"].as_f64()?;
                let name = r["name"].as_str().unwrap_or("");
                match r["ratio"].as_f64() {
                    Some(x) if x >= target / 2.0 => None,
                    Some(x) => Some(format!("{name}: ratio {x} is below half of its target {target}")),
                    None => Some(format!("{name}: not measured (xmcdp {}, peer {})", r["xmcdp"], r["peer"])),
                }
            })
            .collect()
    }

    /// Writes results.json and prints the table.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        self,
        out_dir: &Path,
        quick: bool,
        pinned: bool,
        rt: bool,
        load_before: &str,
        started: Instant,
        run_started: Instant,
    ) -> Result<(), String> {
        let machine = machine_description();
        let guard = self.guard_failures();
        let results = json!({
            "machine": machine,
            "quick": quick,
            "pinned": pinned,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "rt": rt,
            "seconds": started.elapsed().as_secs(),
            "run_seconds": run_started.elapsed().as_secs(),
            "guard_failures": guard,
            "cases": self.rows,
            "raw": self.raw,
        });
        std::fs::write(out_dir.join("results.json"), serde_json::to_string_pretty(&results).unwrap())
            .map_err(|e| e.to_string())?;
        let rows = results["cases"].as_array().cloned().unwrap_or_default();
        print_rows(&rows);
        println!(
            "\nratio = how many times better xmcdp is (peer/xmcdp for costs, xmcdp/peer for throughput)\nmachine: {machine}\nload average before/after: {load_before} / {}\nresults: {} ({} s in all, {} s after the build)",
            load_average(),
            out_dir.join("results.json").display(),
            started.elapsed().as_secs(),
            run_started.elapsed().as_secs()
        );
        if guard.is_empty() {
            println!("guard: every headline ratio is at least half of its target");
            return Ok(());
        }
        for g in &guard {
            println!("guard: {g}");
        }
        if quick {
            return Err(format!("{} headline ratio(s) below half of their target (see above)", guard.len()));
        }
        println!("guard: reported only (it fails `--quick` runs)");
        Ok(())
    }
}

fn print_rows(rows: &[Value]) {
    println!("\n{:<84} {:>12} {:>12} {:>9} {:>7}  unit", "case", "xmcdp", "peer", "ratio", "target");
    for c in rows {
        let f = |v: &Value| if v.is_null() { "-".to_string() } else { v.to_string() };
        println!(
            "{:<84} {:>12} {:>12} {:>9} {:>7}  {}",
            c["name"].as_str().unwrap_or(""),
            f(&c["xmcdp"]),
            f(&c["peer"]),
            f(&c["ratio"]),
            if c["target_ratio"].is_null() { String::new() } else { format!("≥{}", c["target_ratio"]) },
            c["unit"].as_str().unwrap_or("")
        );
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map(|kb| format!("{} GiB", kb / 1024 / 1024))
        .unwrap_or_default();
    let tool = |c: &str, a: &str| {
        Command::new(c)
            .arg(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{cpu}, {cores} cores, {mem}, {}; node {}; {}",
        std::env::consts::OS,
        tool("node", "--version"),
        tool("mono", "--version")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(xmcdp: f64, peer: Option<f64>) -> Report {
        let mut r = Report::default();
        r.add("page view p50", "ns", json!(xmcdp), peer.map(|p| json!(p)), "peer", false);
        r.target(100.0);
        r.add("not a headline", "ns", json!(1), None, "", false);
        r
    }

    #[test]
    fn guard_passes_at_half_the_target_and_fails_below_it() {
        assert!(report(2_000.0, Some(100_000.0)).guard_failures().is_empty(), "50x is half of 100x");
        let f = report(2_000.0, Some(98_000.0)).guard_failures();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("page view p50") && f[0].contains("49"), "{f:?}");
    }

    #[test]
    fn guard_fails_a_headline_that_was_not_measured() {
        let f = report(2_000.0, None).guard_failures();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("not measured"), "{f:?}");
    }
}
