//! When a starting LocalStack is ready: one wait for every backend that starts one (native,
//! our container detached or attached), with one strategy per kind of signal, in the shape of
//! testcontainers' `WaitFor`. (The attached container started through testcontainers also has
//! testcontainers wait for LocalStack's `Ready.` line first.)

use std::time::{Duration, Instant};

use super::external::{Health, health};

/// What "ready" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// `GET /_localstack/health` lists each of these services as available or running.
    Services(&'static [&'static str]),
}

/// Why a wait ended without a ready LocalStack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// The process or container ended first (its exit status, as its backend words it).
    #[error("it ended during start-up ({0})")]
    Gone(String),
    /// `within` passed; `last` is what the last check saw.
    #[error("not ready after {} s; last: {last}", .within.as_secs())]
    TimedOut { within: Duration, last: String },
}

/// A wait for the LocalStack at `endpoint`.
#[derive(Debug, Clone)]
pub struct Wait {
    pub endpoint: String,
    pub strategy: WaitFor,
    pub within: Duration,
    /// Between two checks (a check is cheap, but each one is a request LocalStack serves while
    /// it starts).
    pub interval: Duration,
}

impl Wait {
    pub fn new(endpoint: &str, strategy: WaitFor, within: Duration) -> Wait {
        Wait {
            endpoint: endpoint.to_owned(),
            strategy,
            within,
            interval: Duration::from_millis(100),
        }
    }

    /// Checks until ready, `within` has passed, or `gone` says what started LocalStack ended
    /// (it returns that end's description).
    pub async fn until_ready(
        &self,
        mut gone: impl FnMut() -> Option<String>,
    ) -> Result<Health, NotReady> {
        let deadline = Instant::now() + self.within;
        loop {
            if let Some(why) = gone() {
                return Err(NotReady::Gone(why));
            }
            let last = match self.check().await {
                Ok(health) => return Ok(health),
                Err(last) => last,
            };
            if Instant::now() >= deadline {
                return Err(NotReady::TimedOut {
                    within: self.within,
                    last,
                });
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// One check: the health when ready, else what is missing.
    async fn check(&self) -> Result<Health, String> {
        match self.strategy {
            WaitFor::Services(services) => {
                let h = health(&self.endpoint, Duration::from_secs(2))
                    .await
                    .map_err(|e| e.to_string())?;
                let bad = h.unusable(services);
                if bad.is_empty() {
                    Ok(h)
                } else {
                    Err(format!("services not ready: {}", bad.join(", ")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A health endpoint that reports `lambda` starting `starting` times, then running.
    async fn fake_localstack(starting: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut served = 0;
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let state = if served < starting {
                    "initialized"
                } else {
                    "running"
                };
                served += 1;
                let body =
                    format!(r#"{{"services": {{"lambda": "{state}", "sqs": "available"}}}}"#);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            }
        });
        endpoint
    }

    #[tokio::test]
    async fn ready_once_every_service_runs() {
        let endpoint = fake_localstack(2).await;
        let wait = Wait {
            interval: Duration::from_millis(10),
            ..Wait::new(
                &endpoint,
                WaitFor::Services(&["lambda", "sqs"]),
                Duration::from_secs(10),
            )
        };
        let health = wait.until_ready(|| None).await.unwrap();
        assert_eq!(health.services["lambda"], "running");
    }

    #[tokio::test]
    async fn a_missing_service_times_out_and_says_which() {
        let endpoint = fake_localstack(0).await;
        let wait = Wait {
            interval: Duration::from_millis(10),
            ..Wait::new(
                &endpoint,
                WaitFor::Services(&["lambda", "s3"]),
                Duration::from_millis(200),
            )
        };
        match wait.until_ready(|| None).await {
            Err(NotReady::TimedOut { last, .. }) => {
                assert!(last.contains("s3 (not offered)"), "{last}")
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_ended_start_stops_the_wait_with_its_reason() {
        let wait = Wait::new(
            "http://127.0.0.1:9",
            WaitFor::Services(&["lambda"]),
            Duration::from_secs(60),
        );
        let mut checks = 0;
        let ended = wait
            .until_ready(|| {
                checks += 1;
                (checks > 2).then(|| "exit status: 1".to_owned())
            })
            .await;
        assert_eq!(ended.unwrap_err(), NotReady::Gone("exit status: 1".into()));
    }
}
