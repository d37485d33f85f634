//! The `xmcdp-emulator` binary as a child process (demo, bench, packaging checks, .NET and Windows runs); its
//! inspection API is read through `xmcdp_emulator_admin`.

use crate::process::target_dir;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `xmcdp-emulator` process, stopped on drop.
pub struct EmulatorProcess {
    child: Child,
    pub url: String,
}

impl EmulatorProcess {
    /// Starts the emulator binary (built beforehand) on a free loopback port and waits for its ready line.
    pub fn start(extra_args: &[&str]) -> Result<EmulatorProcess, String> {
        let bin = target_dir().join("debug").join("xmcdp-emulator");
        Self::start_bin(&bin, extra_args)
    }

    pub fn start_bin(bin: &Path, extra_args: &[&str]) -> Result<EmulatorProcess, String> {
        Self::start_with_prefix(bin, &[], extra_args)
    }

    /// Starts it behind a command prefix such as `taskset -c 1` or `chrt -f 10` (benchmarks).
    pub fn start_with_prefix(bin: &Path, prefix: &[String], extra_args: &[&str]) -> Result<EmulatorProcess, String> {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            // Keep draining so the emulator never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "the emulator did not report its address".to_string())?;
        let url = line.strip_prefix("listening on ").ok_or_else(|| format!("unexpected emulator output: {line}"))?.trim().to_string();
        Ok(EmulatorProcess { child, url })
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        // SIGTERM first so it exits cleanly, then make sure.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EmulatorProcess {
    /// Its inspection and fault API.
    pub fn admin(&self) -> xmcdp_emulator_admin::Admin {
        xmcdp_emulator_admin::Admin::new(self.url.as_str())
    }
}
