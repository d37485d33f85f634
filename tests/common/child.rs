//! Child processes for the kill, soak and recycle tests: the test binary re-runs itself with one child test
//! (a no-op unless the parent set its variables), which prints `TAG a b` lines the parent parses.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running child test process.
pub struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: Option<JoinHandle<()>>,
}

/// Starts this test binary running only `test` with `envs`; every stdout line `TAG a b` whose `a` and `b` are
/// numbers goes to `on_line(tag, a, b)` on a reader thread. Stdin is a pipe (`ChildProc::say`).
pub fn spawn_child(test: &str, envs: &[(&str, String)], mut on_line: impl FnMut(&str, u64, u64) + Send + 'static) -> ChildProc {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The last three words: libtest's `test name ... ` has no newline, so the child's first line follows it.
            let w: Vec<&str> = line.split_whitespace().collect();
            if let [.., tag, a, b] = w[..] {
                if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                    on_line(tag, a, b);
                }
            }
        }
    });
    ChildProc { child, stdin, reader: Some(reader) }
}

impl ChildProc {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// One line to the child's stdin.
    pub fn say(&mut self, line: &str) {
        let w = self.stdin.as_mut().unwrap();
        writeln!(w, "{line}").unwrap();
        w.flush().unwrap();
    }

    /// `kill -9` (TerminateProcess on Windows), then waits for the process and for its last lines.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
    }

    /// Waits for the child to exit by itself; `None` (and a kill) when it does not within `timeout`.
    pub fn wait_exit(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                self.reader.take().unwrap().join().unwrap();
                return Some(st);
            }
            if Instant::now() >= end {
                self.kill_9();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        // A failing assertion must not leave the child running.
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh directory under the system temp dir, named after the test binary's pid and `name`.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let d = std::env::temp_dir().join(format!("xmcdp-{prefix}-{}-{name}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Bytes the files under `dir` take (their lengths; redb files are not sparse).
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}
