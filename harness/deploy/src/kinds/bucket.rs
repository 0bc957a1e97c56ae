//! Deploying buckets: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::bucket`, re-exported here.

pub use lsk_manifest::kinds::bucket::*;

use crate::aws::Clients;
use crate::{Change, DeployError, aws_error};

/// Creates the bucket when it is missing.
pub async fn ensure_bucket(clients: &Clients, name: &str) -> Result<Change, DeployError> {
    match clients.s3.head_bucket().bucket(name).send().await {
        Ok(_) => return Ok(Change::Unchanged),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {}
        Err(e) => return Err(aws_error("HeadBucket", name, e)),
    }
    let mut create = clients.s3.create_bucket().bucket(name);
    if clients.region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    clients.region.as_str(),
                ))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(Change::Created),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_bucket_already_owned_by_you()) =>
        {
            Ok(Change::Unchanged)
        }
        Err(e) => Err(aws_error("CreateBucket", name, e)),
    }
}
