//! Starting and stopping the servers, running the measured programs.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// The suite's error: a message for the terminal.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A server this suite started; stopped (SIGTERM, then SIGKILL after 5 s) when
/// dropped, also when the suite fails half-way.
pub struct Server {
    /// What it is, for messages.
    pub name: String,
    /// Base URL, e.g. `http://127.0.0.1:PORT/v1`.
    pub url: String,
    child: Child,
}

impl Server {
    /// Starts `command` and waits for its `listening on URL` line; everything the
    /// server prints goes to `log`.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Result<Self, Error> {
        let stderr = std::fs::File::create(log)?;
        let mut copy = stderr.try_clone()?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no standard output")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep copying until the server exits, so it never blocks on a full pipe.
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = copy.write_all(line.as_bytes());
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                    break;
                }
                line.clear();
            }
            let _ = std::io::copy(&mut reader, &mut copy);
        });
        let mut server = Self {
            name: name.to_owned(),
            url: String::new(),
            child,
        };
        let log = log.display();
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => server.url = url,
            Err(RecvTimeoutError::Timeout) => {
                return Err(
                    format!("{name} did not print its address in 120 s (log: {log})").into(),
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!(
                    "{name} closed its output before printing its address (it exited?); log: {log}"
                )
                .into());
            }
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM: killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs a measured program to completion and returns the JSON object of its last
/// standard-output line, with `process_ms` (its wall time from spawn to exit, start-up
/// included) added.
pub fn run_json(mut command: Command) -> Result<Value, Error> {
    let shown = format!("{command:?}");
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let process_ms = started.elapsed().as_secs_f64() * 1e3;
    if !output.status.success() {
        return Err(format!(
            "{shown} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{shown} printed no JSON line:\n{stdout}"))?;
    let mut value: Value = serde_json::from_str(line)?;
    value["process_ms"] = process_ms.into();
    Ok(value)
}

/// Runs `command` to completion (inheriting nothing but its own log), failing with
/// its output when it fails; returns its wall time in seconds.
pub fn run_timed(mut command: Command, log: &Path) -> Result<f64, Error> {
    let shown = format!("{command:?}");
    let out = std::fs::File::create(log)?;
    let started = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        return Err(format!(
            "{shown} failed ({status}); end of {}:\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
        .into());
    }
    Ok(seconds)
}

/// The first line of `program args...`'s output, or `"absent"`.
pub fn version_of(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().ok();
    let first_line = output.filter(|o| o.status.success()).and_then(|o| {
        let text = if o.stdout.is_empty() {
            o.stderr
        } else {
            o.stdout
        };
        Some(
            String::from_utf8_lossy(&text)
                .lines()
                .next()?
                .trim()
                .to_owned(),
        )
    });
    first_line.unwrap_or_else(|| "absent".into())
}
