//! Deploying queues: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::queue`, re-exported here.

pub use lsk_manifest::kinds::queue::*;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::types::QueueAttributeName;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::{self, AwsError, Clients};
use crate::{Change, DeployError, aws_error};

/// The SQS attributes a queue should have. `RedrivePolicy` is `""` when there is no DLQ, which
/// is also how SQS is told to remove one.
pub fn desired_queue_attributes(queue: &Queue, dlq_arn: Option<&str>) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::from([
        (
            "VisibilityTimeout".to_owned(),
            queue.deployed_visibility_timeout().to_string(),
        ),
        (
            "MessageRetentionPeriod".to_owned(),
            queue.message_retention.to_string(),
        ),
    ]);
    let redrive = match (&queue.dead_letter, dlq_arn) {
        (Some(dl), Some(arn)) => serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": dl.max_receive_count,
        })
        .to_string(),
        _ => String::new(),
    };
    attrs.insert("RedrivePolicy".to_owned(), redrive);
    attrs
}

/// Attributes that can only be given at creation.
pub fn creation_only_attributes(queue: &Queue) -> BTreeMap<String, String> {
    if queue.fifo {
        BTreeMap::from([("FifoQueue".to_owned(), "true".to_owned())])
    } else {
        BTreeMap::new()
    }
}

/// `(target arn, max receive count)` of a RedrivePolicy, whatever the number's JSON type.
fn parse_redrive(policy: &str) -> Option<(String, i64)> {
    let v: serde_json::Value = serde_json::from_str(policy).ok()?;
    let arn = v.get("deadLetterTargetArn")?.as_str()?.to_owned();
    let count = match v.get("maxReceiveCount")? {
        serde_json::Value::Number(n) => n.as_i64()?,
        serde_json::Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    Some((arn, count))
}

/// The attributes to set so that `observed` becomes `desired`.
pub fn queue_attribute_changes(
    desired: &BTreeMap<String, String>,
    observed: &HashMap<String, String>,
) -> BTreeMap<String, String> {
    desired
        .iter()
        .filter(|(k, want)| {
            let have = observed.get(*k).map(String::as_str).unwrap_or("");
            if k.as_str() == "RedrivePolicy" {
                match (want.is_empty(), have.is_empty()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    (false, false) => parse_redrive(want) != parse_redrive(have),
                }
            } else {
                have != want.as_str()
            }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The queue's URL, or `None` when there is no such queue.
pub async fn queue_url(clients: &Clients, name: &str) -> Result<Option<String>, DeployError> {
    match clients.sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e)
            if e.as_service_error().is_some_and(|se| {
                se.is_queue_does_not_exist() || se.code().is_some_and(is_missing_queue_code)
            }) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error("GetQueueUrl", name, e)),
    }
}

/// Whether an SQS error code says the queue does not exist. SQS's JSON protocol answers
/// `QueueDoesNotExist` (the SDK's typed variant); LocalStack may answer with the query
/// protocol's code instead, which the SDK does not map to that variant.
fn is_missing_queue_code(code: &str) -> bool {
    matches!(
        code,
        "QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue"
    )
}

/// All attributes of a queue, by name.
pub async fn queue_attributes(
    clients: &Clients,
    url: &str,
) -> Result<HashMap<String, String>, DeployError> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_error("GetQueueAttributes", url, e))?;
    Ok(out
        .attributes()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

/// Creates the queue or brings its attributes to the manifest's; returns its url and arn.
pub async fn ensure_queue(
    clients: &Clients,
    queue: &crate::manifest::Queue,
    dlq_arn: Option<&str>,
) -> Result<(Change, String, String), DeployError> {
    let desired = desired_queue_attributes(queue, dlq_arn);
    let arn_of = |attrs: &HashMap<String, String>| {
        attrs
            .get("QueueArn")
            .cloned()
            .unwrap_or_else(|| aws::queue_arn(&clients.region, &queue.name))
    };
    let Some(url) = queue_url(clients, &queue.name).await? else {
        let mut create = clients.sqs.create_queue().queue_name(&queue.name);
        for (k, v) in desired
            .iter()
            .chain(creation_only_attributes(queue).iter())
            .filter(|(_, v)| !v.is_empty())
        {
            create = create.attributes(QueueAttributeName::from(k.as_str()), v);
        }
        let out = create
            .send()
            .await
            .map_err(|e| aws_error("CreateQueue", &queue.name, e))?;
        let url = out.queue_url().map(str::to_owned).ok_or_else(|| {
            AwsError::answer("CreateQueue", &queue.name, "no QueueUrl in the answer")
        })?;
        let arn = arn_of(&queue_attributes(clients, &url).await?);
        return Ok((Change::Created, url, arn));
    };
    let observed = queue_attributes(clients, &url).await?;
    let arn = arn_of(&observed);
    let changes = queue_attribute_changes(&desired, &observed);
    if changes.is_empty() {
        return Ok((Change::Unchanged, url, arn));
    }
    let mut set = clients.sqs.set_queue_attributes().queue_url(&url);
    for (k, v) in &changes {
        set = set.attributes(QueueAttributeName::from(k.as_str()), v);
    }
    set.send()
        .await
        .map_err(|e| aws_error("SetQueueAttributes", &queue.name, e))?;
    Ok((Change::Updated(changes.into_keys().collect()), url, arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(dl: Option<(&str, i32)>) -> Queue {
        Queue {
            name: "jobs".into(),
            visibility_timeout: 2,
            local_visibility_timeout: None,
            message_retention: 345_600,
            fifo: false,
            dead_letter: dl.map(|(q, n)| DeadLetter {
                queue: q.into(),
                max_receive_count: n,
            }),
            example: None,
        }
    }

    #[test]
    fn queue_attributes_with_redrive_policy() {
        let attrs = desired_queue_attributes(
            &queue(Some(("jobs-dlq", 3))),
            Some("arn:aws:sqs:us-east-1:000000000000:jobs-dlq"),
        );
        assert_eq!(attrs["VisibilityTimeout"], "2");
        let redrive: serde_json::Value = serde_json::from_str(&attrs["RedrivePolicy"]).unwrap();
        assert_eq!(
            redrive,
            serde_json::json!({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:jobs-dlq", "maxReceiveCount": 3})
        );
        assert_eq!(
            desired_queue_attributes(&queue(None), None)["RedrivePolicy"],
            ""
        );
    }

    #[test]
    fn queue_attribute_diff_is_semantic_for_the_redrive_policy() {
        let desired = desired_queue_attributes(
            &queue(Some(("jobs-dlq", 3))),
            Some("arn:aws:sqs:us-east-1:000000000000:jobs-dlq"),
        );
        let observed = HashMap::from([
            ("VisibilityTimeout".to_owned(), "2".to_owned()),
            ("MessageRetentionPeriod".to_owned(), "345600".to_owned()),
            (
                "RedrivePolicy".to_owned(),
                // LocalStack may echo the count as a string, and reorder keys.
                r#"{"maxReceiveCount": "3", "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:jobs-dlq"}"#
                    .to_owned(),
            ),
            ("QueueArn".to_owned(), "arn".to_owned()),
        ]);
        assert!(queue_attribute_changes(&desired, &observed).is_empty());

        let mut changed = observed.clone();
        changed.insert("VisibilityTimeout".into(), "30".into());
        changed.insert(
            "RedrivePolicy".into(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:jobs-dlq","maxReceiveCount":5}"#.into(),
        );
        let diff = queue_attribute_changes(&desired, &changed);
        assert_eq!(
            diff.keys().collect::<Vec<_>>(),
            ["RedrivePolicy", "VisibilityTimeout"]
        );

        // Removing the DLQ from the manifest clears the policy.
        let without = desired_queue_attributes(&queue(None), None);
        let diff = queue_attribute_changes(&without, &observed);
        assert_eq!(diff.get("RedrivePolicy").map(String::as_str), Some(""));
    }
}
