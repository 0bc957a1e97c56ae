//! The asynchronous path end to end: prompts sent to the `image-requests` queue in batches of
//! 10, turned into PNGs by image-generator through the SQS event source mapping, counted in S3.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::StreamExt;
use image_generator::GenerateRequest;
use image_generator::key::{IMAGE_PREFIX, image_key};
use image_generator::model::STUB_MODEL_NAME;

const POLL_EVERY: Duration = Duration::from_millis(200);
const QUEUE: &str = "image-requests";
const DLQ: &str = "image-requests-dlq";
const BUCKET_KEY: &str = "images";

#[derive(Debug, Clone)]
pub struct PipelineResult {
    pub sent: usize,
    pub stored: usize,
    pub missing: usize,
    pub elapsed: Duration,
    pub send_time: Duration,
    pub timed_out: bool,
    pub dlq_messages: i64,
}

pub async fn run(
    deployed: &lsk::Deployed,
    prompts: usize,
    nonce: &str,
    timeout: Duration,
) -> Result<PipelineResult> {
    let queue_url = deployed.queue(QUEUE)?.url().to_owned();
    let bucket = deployed.bucket(BUCKET_KEY)?.name().to_owned();
    let sqs = deployed.clients().sqs.clone();
    let s3 = deployed.clients().s3.clone();

    let mut bodies = Vec::with_capacity(prompts);
    let mut expected = HashSet::with_capacity(prompts);
    for i in 0..prompts {
        let prompt = format!("lsk-bench {nonce} #{i}: a lighthouse at dusk");
        let request = GenerateRequest::new(prompt.clone());
        let spec = request
            .validate()
            .map_err(|e| anyhow!("prompt {i} is not a valid request: {e}"))?;
        expected.insert(image_key(&spec, STUB_MODEL_NAME));
        bodies.push(serde_json::to_string(&request)?);
    }
    if expected.len() != prompts {
        bail!(
            "prompts are not unique: {} keys for {prompts} prompts",
            expected.len()
        );
    }

    let start = Instant::now();
    let batches: Vec<Vec<String>> = bodies.chunks(10).map(<[String]>::to_vec).collect();
    let sends = futures::stream::iter(batches.into_iter().enumerate().map(|(b, batch)| {
        let sqs = sqs.clone();
        let queue_url = queue_url.clone();
        async move {
            let entries = batch
                .into_iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(body)
                        .build()
                        .map_err(|e| anyhow!("building batch entry: {e}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let out = sqs
                .send_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| anyhow!("SendMessageBatch {b}: {e:?}"))?;
            if !out.failed().is_empty() {
                bail!(
                    "SendMessageBatch {b}: {} entries failed: {:?}",
                    out.failed().len(),
                    out.failed()
                );
            }
            Ok(())
        }
    }))
    .buffer_unordered(4)
    .collect::<Vec<Result<()>>>()
    .await;
    for r in sends {
        r?;
    }
    let send_time = start.elapsed();

    let mut found: HashSet<String> = HashSet::new();
    let mut timed_out = false;
    loop {
        let mut token: Option<String> = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(IMAGE_PREFIX)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| anyhow!("ListObjectsV2 {bucket}: {e:?}"))?;
            for o in page.contents() {
                if let Some(k) = o.key()
                    && expected.contains(k)
                {
                    found.insert(k.to_owned());
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if found.len() == expected.len() {
            break;
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    let elapsed = start.elapsed();
    let dlq_messages = match deployed.queue(DLQ) {
        Ok(q) => q.depth().await.map(|(w, f)| w + f).unwrap_or(-1),
        Err(_) => -1,
    };
    Ok(PipelineResult {
        sent: prompts,
        stored: found.len(),
        missing: expected.len() - found.len(),
        elapsed,
        send_time,
        timed_out,
        dlq_messages,
    })
}
