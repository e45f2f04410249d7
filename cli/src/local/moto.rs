//! moto's server, the local AWS emulator: found, started on a free port, and stopped with us.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto_server not found: run scripts/bootstrap (it installs moto into .venv), or set LEADRELAY_MOTO_SERVER to its path")]
    NotFound,
    #[error("cannot start moto_server ({path}): {source}")]
    Spawn {
        path: String,
        source: std::io::Error,
    },
    #[error("moto_server did not answer on {0} within 30 s")]
    NotReady(String),
    #[error("no free local port: {0}")]
    Port(std::io::Error),
}

/// A running moto server. Dropping it stops the server; if this process dies without dropping
/// it, a watchdog stops the server all the same.
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    child: Child,
}

/// Where moto's server is: `LEADRELAY_MOTO_SERVER`, the project's `scripts/moto-server` (moto
/// with DynamoDB's write isolation) once `.venv` is installed, or `moto_server` on the `PATH`.
pub fn locate() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("LEADRELAY_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let mut dir = std::env::current_dir().ok();
    while let Some(d) = dir {
        let candidate = d.join("scripts/moto-server");
        if candidate.is_file() && d.join(".venv/bin/python").is_file() {
            return Some(candidate);
        }
        dir = d.parent().map(PathBuf::from);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
}

impl MotoServer {
    pub async fn start() -> Result<Self, MotoError> {
        let path = locate().ok_or(MotoError::NotFound)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(MotoError::Port)?
            .port();
        // The watchdog shell stops moto when our process is gone, however it ended.
        let script = r#"moto_bin="$1"; port="$2"; parent="$3"
"$moto_bin" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$moto" 2>/dev/null; do sleep 1; done
kill $moto 2>/dev/null"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("leadrelay-moto")
            .arg(&path)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| MotoError::Spawn {
                path: path.display().to_string(),
                source,
            })?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = MotoServer { endpoint, child };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> Result<(), MotoError> {
        let started = Instant::now();
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(MotoError::NotReady(self.endpoint.clone()))
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Keeps the server running until this process ends (for a server shared by many tests).
    pub fn leak(self) -> String {
        let endpoint = self.endpoint.clone();
        std::mem::forget(self);
        endpoint
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGTERM lets the watchdog take moto down with it.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
