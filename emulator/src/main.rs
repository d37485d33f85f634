//! `xmcdp-emulator [--listen ADDR] [--config FILE] [fault flags]` — prints `listening on http://ADDR` once
//! ready and serves until SIGTERM / Ctrl-C, then exits 0.

use std::io::Write;
use xmcdp_emulator::{apply_cli_flag, EmulatorConfig};

const USAGE: &str = "usage: xmcdp-emulator [--listen ADDR] [--config FILE]
  [--latency ROUTE=MS[+JITTER]] [--error-rate ROUTE=RATE[:STATUS]] [--throttle ROUTE=RATE[:RETRY_AFTER_SECS]]
  [--reset-rate ROUTE=RATE] [--slow-body ROUTE=RATE[:DELAY_MS]] [--outage]
  [--threads N] [--max-requests N] [--max-events N] [--max-guests N] [--max-body-bytes N]
ROUTE: browser_create | browser_show | events | callflows | guests | *";

fn main() {
    match real_main() {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("xmcdp-emulator: {e}");
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The config file comes first so that flags override it, whatever their order.
    let mut cfg = EmulatorConfig::default();
    if let Some(i) = args.iter().position(|a| a == "--config") {
        let file = args.get(i + 1).ok_or("--config needs a FILE")?;
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        cfg = EmulatorConfig::from_json(&text)?;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "--config" => {
                val("--config")?;
            }
            "--listen" => {
                cfg.listen = val("--listen")?
                    .parse()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--outage" => cfg.faults.outage = true,
            f @ ("--latency" | "--error-rate" | "--throttle" | "--reset-rate" | "--slow-body") => {
                let v = val(f)?;
                apply_cli_flag(&mut cfg.faults, f, &v)?;
            }
            "--threads" => cfg.threads = Some(val(a)?.parse().map_err(|e| format!("{a}: {e}"))?),
            "--max-requests" => {
                cfg.limits.max_requests = val(a)?.parse().map_err(|e| format!("{a}: {e}"))?
            }
            "--max-events" => {
                cfg.limits.max_events = val(a)?.parse().map_err(|e| format!("{a}: {e}"))?
            }
            "--max-guests" => {
                cfg.limits.max_guests = val(a)?.parse().map_err(|e| format!("{a}: {e}"))?
            }
            "--max-body-bytes" => {
                cfg.limits.max_body_bytes = val(a)?.parse().map_err(|e| format!("{a}: {e}"))?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let shutdown = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    xmcdp_emulator::run(
        cfg,
        |addr| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        },
        shutdown,
    )
    .map_err(|e| e.to_string())
}
