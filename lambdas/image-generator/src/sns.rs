//! The production [`Notifier`]: an SNS topic through `aws-sdk-sns`. Each image is one `Publish`
//! whose message is the [`ImageReady`] JSON and whose subject is `image-ready`.

use aws_config::SdkConfig;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;

use crate::notify::{IMAGE_READY_SUBJECT, ImageReady, Notifier, NotifyError};

/// Publishes to one topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// A notifier for `topic_arn`, using `config` (see [`crate::aws::load_sdk_config`]).
    pub fn new(config: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client: Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    fn error(&self, message: String) -> NotifyError {
        NotifyError {
            topic: self.topic_arn.clone(),
            message,
        }
    }
}

impl Notifier for SnsNotifier {
    async fn image_ready(&self, ready: &ImageReady) -> Result<(), NotifyError> {
        let message = serde_json::to_string(ready)
            .map_err(|e| self.error(format!("cannot encode the message: {e}")))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(IMAGE_READY_SUBJECT)
            .message(message)
            .send()
            .await
            .map_err(|e| self.error(DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
