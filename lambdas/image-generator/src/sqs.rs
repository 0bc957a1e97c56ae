//! The SQS trigger: each record's body is an image request. Every valid record is rendered and
//! stored; each record that is invalid or fails is reported in `batchItemFailures`, so SQS
//! retries only those and, after the queue's `maxReceiveCount`, moves them to its dead-letter
//! queue. Content-addressed keys make a redelivered record harmless. A stored image whose
//! `image-ready` notification could not be published is not retried (see
//! [`ImageService::create`]).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::tracing;

use crate::model::ModelClient;
use crate::notify::Notifier;
use crate::request::GenerateRequest;
use crate::service::{ImageCreated, ImageService, ServiceError};
use crate::store::ImageStore;

/// The `eventSource` of SQS records.
pub const SQS_EVENT_SOURCE: &str = "aws:sqs";

/// Processes a batch in order and reports the records to retry.
///
/// A record without a `messageId` (never sent by SQS) is reported with an empty identifier,
/// which makes Lambda retry the whole batch: the safe choice when a failure cannot be pinned on
/// one message.
pub async fn process_batch<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        match process_record(service, record).await {
            Ok(created) => {
                tracing::info!(message_id, key = %created.key, bytes = created.bytes, "stored image");
            }
            Err(error) => {
                tracing::warn!(message_id, %error, "record failed; reporting it for retry");
                response.add_failure(message_id);
            }
        }
    }
    response
}

async fn process_record<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    record: &SqsMessage,
) -> Result<ImageCreated, ServiceError> {
    let request = GenerateRequest::from_json(record.body.as_deref().unwrap_or_default())?;
    service.create(&request).await
}
