//! Names AWS gives resources in LocalStack's one account: ARNs, the region and account, the
//! roles lsk names. Pure strings, shared by the manifest (targets) and everything that deploys.

/// LocalStack's default region, and ours.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account LocalStack uses for the `test` access key.
pub const ACCOUNT_ID: &str = "000000000000";
/// LocalStack does not enforce IAM; every function gets this role.
pub const LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";

/// The ARN a function has (or will have) in LocalStack.
pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")
}

/// The ARN of an S3 bucket.
pub fn bucket_arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

/// The ARN of an SNS topic.
pub fn topic_arn(region: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{ACCOUNT_ID}:{name}")
}

/// The ARN of an EventBridge rule on `bus` (rules on the default bus have no bus in their ARN).
pub fn rule_arn(region: &str, bus: &str, name: &str) -> String {
    if bus == "default" {
        format!("arn:aws:events:{region}:{ACCOUNT_ID}:rule/{name}")
    } else {
        format!("arn:aws:events:{region}:{ACCOUNT_ID}:rule/{bus}/{name}")
    }
}

/// The ARN of an EventBridge event bus.
pub fn bus_arn(region: &str, bus: &str) -> String {
    format!("arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{bus}")
}

/// The ARN of a Step Functions state machine.
pub fn state_machine_arn(region: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}")
}

/// The role state machines run with (LocalStack does not enforce IAM).
pub const STATES_ROLE: &str = "arn:aws:iam::000000000000:role/lsk-states";

/// The role EventBridge uses for targets that need one (LocalStack does not enforce IAM).
pub const EVENTS_ROLE: &str = "arn:aws:iam::000000000000:role/lsk-events";

/// The ARN of an SQS queue.
pub fn queue_arn(region: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}")
}
