//! `image-client`: queues image requests on SQS for the image-generator Lambda and, with
//! `--wait`, downloads each image once the Lambda has stored it.
//!
//! ```text
//! image-client --prompt "a lighthouse at dusk" --prompt "a red fox" \
//!     --wait --bucket images --out ./generated
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Parser;
use image_generator::aws::{SdkSettings, load_sdk_config};
use image_generator::client::{self, PlannedImage};
use image_generator::model::ModelKind;
use image_generator::s3::S3Store;

/// Where LocalStack listens unless told otherwise.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

#[derive(Debug, Parser)]
#[command(
    name = "image-client",
    version,
    about = "Queue image requests for the image-generator Lambda and optionally wait for the PNGs"
)]
struct Args {
    /// URL of the request queue (instead of --queue-name).
    #[arg(long, conflicts_with = "queue_name")]
    queue_url: Option<String>,

    /// Name of the request queue, resolved to its URL with GetQueueUrl.
    #[arg(long, default_value = "image-requests")]
    queue_name: String,

    /// AWS endpoint (LocalStack).
    #[arg(long, env = "AWS_ENDPOINT_URL", default_value = DEFAULT_ENDPOINT)]
    endpoint_url: String,

    /// Region [default: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1].
    #[arg(long)]
    region: Option<String>,

    /// A prompt to render; repeat for several images.
    #[arg(long = "prompt", value_name = "TEXT")]
    prompts: Vec<String>,

    /// File with one prompt per line (blank lines and lines starting with # are skipped).
    #[arg(long, value_name = "FILE")]
    prompts_file: Option<PathBuf>,

    /// Image width in pixels (64..=1024; the Lambda's default is 512).
    #[arg(long)]
    width: Option<i64>,

    /// Image height in pixels (64..=1024; the Lambda's default is 512).
    #[arg(long)]
    height: Option<i64>,

    /// Seed, for a different picture of the same prompt (default 0).
    #[arg(long)]
    seed: Option<u64>,

    /// The Lambda's MODEL_CLIENT; needed to compute where images will be stored.
    #[arg(long, env = "MODEL_CLIENT", default_value = "stub")]
    model: ModelKind,

    /// Wait until every image is stored, then download them.
    #[arg(long, requires = "bucket")]
    wait: bool,

    /// The Lambda's IMAGES_BUCKET (required with --wait).
    #[arg(long, env = "IMAGES_BUCKET")]
    bucket: Option<String>,

    /// Directory to download images into (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,

    /// Seconds to wait for all images before giving up (exit status 1).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    timeout: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();

    let mut prompts = args.prompts.clone();
    if let Some(path) = &args.prompts_file {
        prompts.extend(client::read_prompts_file(path)?);
    }
    let planned = client::plan(
        &prompts,
        args.width,
        args.height,
        args.seed,
        args.model.model_name(),
    )?;
    if planned.len() < prompts.len() {
        eprintln!(
            "note: {} duplicate prompt(s) will be requested once",
            prompts.len() - planned.len()
        );
    }

    let settings =
        SdkSettings::for_local_tool(&args.endpoint_url, args.region.as_deref(), |name| {
            std::env::var(name).ok()
        });
    let sdk_config = load_sdk_config(&settings).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config);
    let queue_url = match &args.queue_url {
        Some(url) => url.clone(),
        None => client::queue_url(&sqs, &args.queue_name)
            .await
            .with_context(|| format!("is LocalStack running at {}?", args.endpoint_url))?,
    };

    let message_ids = client::send_all(&sqs, &queue_url, &planned).await?;
    for (image, message_id) in planned.iter().zip(&message_ids) {
        println!("queued {message_id} {} {:?}", image.key, image.prompt);
    }

    if !args.wait {
        return Ok(());
    }
    let Some(bucket) = &args.bucket else {
        anyhow::bail!("--wait needs --bucket (or IMAGES_BUCKET)");
    };
    wait(&sdk_config, bucket, &planned, &args).await
}

async fn wait(
    sdk_config: &aws_config::SdkConfig,
    bucket: &str,
    planned: &[PlannedImage],
    args: &Args,
) -> Result<()> {
    eprintln!(
        "waiting up to {}s for {} image(s) in s3://{bucket}/",
        args.timeout,
        planned.len()
    );
    let store = S3Store::new(sdk_config, bucket);
    client::wait_and_download(
        &store,
        planned,
        &args.out,
        Duration::from_secs(args.timeout),
        Duration::from_millis(500),
        |saved| {
            println!(
                "saved {} ({} bytes) {}",
                saved.path.display(),
                saved.bytes,
                saved.uri
            );
        },
    )
    .await?;
    Ok(())
}
