//! The logic behind `image-client`: turn prompts into image requests, queue them on SQS in
//! batches of ten, and optionally wait for the Lambda to store each image (whose key the client
//! derives itself, see [`crate::key`]) and download it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tokio::time::Instant;

use crate::key::{IMAGE_PREFIX, image_key};
use crate::request::{GenerateRequest, RequestError};
use crate::store::{ImageStore, StoreError};

/// SQS accepts at most ten entries per `SendMessageBatch`.
pub const SQS_BATCH_LIMIT: usize = 10;

/// One image the client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage {
    /// The prompt as the user gave it.
    pub prompt: String,
    /// The message body sent to the queue.
    pub request: GenerateRequest,
    /// Where the Lambda will store the image.
    pub key: String,
}

impl PlannedImage {
    /// File name of the image (the key without `images/`).
    pub fn file_name(&self) -> &str {
        self.key.strip_prefix(IMAGE_PREFIX).unwrap_or(&self.key)
    }
}

/// An image downloaded by [`wait_and_download`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    pub path: PathBuf,
    pub bytes: u64,
    pub uri: String,
    pub prompt: String,
}

/// What went wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no prompts given: pass --prompt \"...\" (repeatable) or --prompts-file FILE")]
    NoPrompts,
    #[error("prompt {prompt:?} cannot be sent: {reason}")]
    InvalidPrompt {
        prompt: String,
        reason: RequestError,
    },
    #[error("cannot read prompts file {path}: {reason}")]
    PromptsFile {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("cannot encode the request for {prompt:?}: {reason}")]
    Encode {
        prompt: String,
        reason: serde_json::Error,
    },
    #[error("sending to {queue_url} failed: {message}")]
    Send { queue_url: String, message: String },
    #[error("SQS refused the message for {prompt:?}: {code}: {message}")]
    Rejected {
        prompt: String,
        code: String,
        message: String,
    },
    #[error("cannot find queue {name:?}: {message}")]
    QueueUrl { name: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {reason}")]
    Write {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error(
        "timed out after {seconds}s waiting for {} of {total} image(s); still missing: {}",
        missing.len(),
        missing.join(", ")
    )]
    Timeout {
        seconds: u64,
        total: usize,
        /// `"prompt" (key)` for each image that never appeared.
        missing: Vec<String>,
    },
}

/// Prompts from a prompts file: one per line; blank lines and lines starting with `#` are
/// skipped, surrounding whitespace is trimmed.
pub fn parse_prompts_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Reads a prompts file (see [`parse_prompts_file`]).
pub fn read_prompts_file(path: &Path) -> Result<Vec<String>, ClientError> {
    std::fs::read_to_string(path)
        .map(|text| parse_prompts_file(&text))
        .map_err(|reason| ClientError::PromptsFile {
            path: path.to_owned(),
            reason,
        })
}

/// Validates every prompt with the options and computes its key for `model`. Prompts that map
/// to the same key (e.g. differing only in surrounding whitespace) are asked for once.
pub fn plan(
    prompts: &[String],
    width: Option<i64>,
    height: Option<i64>,
    seed: Option<u64>,
    model: &str,
) -> Result<Vec<PlannedImage>, ClientError> {
    if prompts.is_empty() {
        return Err(ClientError::NoPrompts);
    }
    let mut seen = HashSet::new();
    let mut planned = Vec::new();
    for prompt in prompts {
        let request = GenerateRequest {
            prompt: prompt.clone(),
            width,
            height,
            seed,
        };
        let spec = request
            .validate()
            .map_err(|reason| ClientError::InvalidPrompt {
                prompt: prompt.clone(),
                reason,
            })?;
        let key = image_key(&spec, model);
        if seen.insert(key.clone()) {
            planned.push(PlannedImage {
                prompt: prompt.clone(),
                request,
                key,
            });
        }
    }
    Ok(planned)
}

/// Resolves a queue name to its URL.
pub async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, ClientError> {
    let error = |message: String| ClientError::QueueUrl {
        name: name.to_owned(),
        message,
    };
    let output = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| error(DisplayErrorContext(e).to_string()))?;
    output
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| error("the response has no QueueUrl".to_owned()))
}

/// Sends one message per planned image, in batches of [`SQS_BATCH_LIMIT`]. Returns the SQS
/// message id of each, in order.
pub async fn send_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    planned: &[PlannedImage],
) -> Result<Vec<String>, ClientError> {
    let mut message_ids = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(SQS_BATCH_LIMIT) {
        let mut entries = Vec::with_capacity(chunk.len());
        for (index, image) in chunk.iter().enumerate() {
            let body =
                serde_json::to_string(&image.request).map_err(|reason| ClientError::Encode {
                    prompt: image.prompt.clone(),
                    reason,
                })?;
            let entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(body)
                .build()
                .map_err(|e| ClientError::Send {
                    queue_url: queue_url.to_owned(),
                    message: e.to_string(),
                })?;
            entries.push(entry);
        }
        let output = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| ClientError::Send {
                queue_url: queue_url.to_owned(),
                message: DisplayErrorContext(e).to_string(),
            })?;
        if let Some(failed) = output.failed().first() {
            let prompt = entry_prompt(chunk, failed.id());
            return Err(ClientError::Rejected {
                prompt,
                code: failed.code().to_owned(),
                message: failed.message().unwrap_or("no message").to_owned(),
            });
        }
        let mut ids = vec![String::new(); chunk.len()];
        for ok in output.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| ids.get_mut(i)) {
                *slot = ok.message_id().to_owned();
            }
        }
        message_ids.extend(ids);
    }
    Ok(message_ids)
}

fn entry_prompt(chunk: &[PlannedImage], id: &str) -> String {
    id.parse::<usize>()
        .ok()
        .and_then(|i| chunk.get(i))
        .map_or_else(|| format!("batch entry {id}"), |image| image.prompt.clone())
}

/// Polls `store` (HeadObject) until every planned image exists, downloading each into `out_dir`
/// as `<file name>` as soon as it appears and reporting it through `on_saved`. Fails with
/// [`ClientError::Timeout`] naming the prompts still missing after `timeout`.
pub async fn wait_and_download<S: ImageStore>(
    store: &S,
    planned: &[PlannedImage],
    out_dir: &Path,
    timeout: Duration,
    poll_interval: Duration,
    mut on_saved: impl FnMut(&SavedImage),
) -> Result<Vec<SavedImage>, ClientError> {
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(|reason| ClientError::Write {
            path: out_dir.to_owned(),
            reason,
        })?;
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<&PlannedImage> = planned.iter().collect();
    let mut saved = Vec::with_capacity(planned.len());
    loop {
        let mut still_pending = Vec::with_capacity(pending.len());
        for image in pending {
            // HEAD first: cheap while the image does not exist yet, which is the common case.
            if store.head(&image.key).await?.is_none() {
                still_pending.push(image);
                continue;
            }
            let Some(object) = store.get(&image.key).await? else {
                still_pending.push(image);
                continue;
            };
            let path = out_dir.join(image.file_name());
            tokio::fs::write(&path, &object.bytes)
                .await
                .map_err(|reason| ClientError::Write {
                    path: path.clone(),
                    reason,
                })?;
            let entry = SavedImage {
                path,
                bytes: object.bytes.len() as u64,
                uri: format!("s3://{}/{}", store.bucket(), image.key),
                prompt: image.prompt.clone(),
            };
            on_saved(&entry);
            saved.push(entry);
        }
        pending = still_pending;
        if pending.is_empty() {
            return Ok(saved);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ClientError::Timeout {
                seconds: timeout.as_secs(),
                total: planned.len(),
                missing: pending
                    .iter()
                    .map(|image| format!("{:?} ({})", image.prompt, image.key))
                    .collect(),
            });
        }
        tokio::time::sleep(poll_interval.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, StoredImage};
    use std::collections::BTreeMap;

    fn prompts(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn prompts_file_skips_blanks_and_comments() {
        let text = "# my prompts\na red fox\n\n   \n  a blue whale  \n#skip\n";
        assert_eq!(parse_prompts_file(text), ["a red fox", "a blue whale"]);
    }

    #[test]
    fn plan_validates_dedupes_and_uses_the_lambdas_keys() {
        let planned = plan(
            &prompts(&["a red fox", " a red fox ", "a blue whale"]),
            Some(256),
            None,
            Some(4),
            "stub-v1",
        )
        .unwrap();
        assert_eq!(planned.len(), 2);
        let spec = GenerateRequest {
            width: Some(256),
            seed: Some(4),
            ..GenerateRequest::new("a red fox")
        }
        .validate()
        .unwrap();
        assert_eq!(planned[0].key, image_key(&spec, "stub-v1"));
        assert_eq!(
            serde_json::to_string(&planned[0].request).unwrap(),
            r#"{"prompt":"a red fox","width":256,"seed":4}"#
        );
        assert!(planned[1].file_name().ends_with(".png"));

        assert!(matches!(
            plan(&[], None, None, None, "stub-v1"),
            Err(ClientError::NoPrompts)
        ));
        let err = plan(&prompts(&["ok", "  "]), None, None, None, "stub-v1").unwrap_err();
        assert!(err.to_string().contains("\"  \" cannot be sent"), "{err}");
        assert!(plan(&prompts(&["ok"]), Some(2000), None, None, "stub-v1").is_err());
    }

    fn png(bytes: &[u8]) -> StoredImage {
        StoredImage {
            bytes: bytes.to_vec(),
            content_type: "image/png".into(),
            metadata: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn downloads_every_image_once_it_exists() {
        let store = MemoryStore::new("images");
        let planned = plan(&prompts(&["fox", "whale"]), None, None, None, "stub-v1").unwrap();
        for image in &planned {
            store
                .put(&image.key, png(image.prompt.as_bytes()))
                .await
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let saved = wait_and_download(
            &store,
            &planned,
            dir.path(),
            Duration::from_secs(1),
            Duration::from_millis(10),
            |s| {
                lines.push(format!(
                    "saved {} ({} bytes) {}",
                    s.path.display(),
                    s.bytes,
                    s.uri
                ))
            },
        )
        .await
        .unwrap();
        assert_eq!(saved.len(), 2);
        assert_eq!(std::fs::read(&saved[0].path).unwrap(), b"fox");
        assert_eq!(saved[1].uri, format!("s3://images/{}", planned[1].key));
        assert_eq!(
            lines[0],
            format!(
                "saved {} (3 bytes) s3://images/{}",
                dir.path().join(planned[0].file_name()).display(),
                planned[0].key
            )
        );
    }

    #[tokio::test]
    async fn timeout_names_the_missing_prompts() {
        let store = MemoryStore::new("images");
        let planned = plan(&prompts(&["fox", "whale"]), None, None, None, "stub-v1").unwrap();
        store.put(&planned[0].key, png(b"fox")).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = wait_and_download(
            &store,
            &planned,
            dir.path(),
            Duration::from_millis(50),
            Duration::from_millis(10),
            |_| {},
        )
        .await
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("1 of 2 image(s)"), "{message}");
        assert!(message.contains("\"whale\""), "{message}");
        assert!(!message.contains("\"fox\""), "{message}");
        // The image that did arrive was still saved.
        assert!(dir.path().join(planned[0].file_name()).exists());
    }

    #[tokio::test]
    async fn store_errors_stop_the_wait() {
        let store = MemoryStore::failing("images", "connection refused");
        let planned = plan(&prompts(&["fox"]), None, None, None, "stub-v1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = wait_and_download(
            &store,
            &planned,
            dir.path(),
            Duration::from_secs(5),
            Duration::from_millis(10),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("HeadObject"), "{err}");
    }
}
