//! The "what needs to change" decisions of a deploy, as pure functions of what the manifest wants
//! and what LocalStack reports, so they are tested without LocalStack.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::manifest::{Architecture, Cors, FunctionUrl, Queue, UrlAuth};

/// Every function runs on the OS-only runtime with the binary as `bootstrap`.
pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";
/// Tag marking a function as deployed by lsk, and the project it belongs to (for pruning).
pub const TAG_MANAGED: &str = "lsk:managed-by";
pub const TAG_PROJECT: &str = "lsk:project";
/// How the deployed binary was built (`host`, `cargo-lambda ...`), shown by `lsk status`.
pub const TAG_BUILD: &str = "lsk:build";
/// Statement id of the public `lambda:InvokeFunctionUrl` permission of `auth = "NONE"` URLs.
pub const PUBLIC_URL_STATEMENT: &str = "lsk-function-url-public";

/// A function as the manifest wants it, with references resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFunction {
    pub name: String,
    pub code_sha256: String,
    pub memory: i32,
    pub timeout: i32,
    pub environment: BTreeMap<String, String>,
    pub architecture: Architecture,
    pub description: String,
    pub role: String,
    pub tags: BTreeMap<String, String>,
}

/// A function as LocalStack reports it (GetFunction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedFunction {
    pub code_sha256: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub environment: BTreeMap<String, String>,
    pub architecture: Option<String>,
    pub description: Option<String>,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub state: Option<String>,
    pub last_update_status: Option<String>,
    /// Where the code comes from (`Code.Location`): `file://<dir>` for hot-reload code.
    pub code_location: Option<String>,
}

/// What to do with a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionAction {
    Create,
    Update {
        /// Upload the zip (the code or the architecture changed).
        code: bool,
        /// Configuration fields to update, by name.
        config: Vec<&'static str>,
        /// Tags to add or correct.
        tags: BTreeMap<String, String>,
    },
    Unchanged,
}

impl FunctionAction {
    /// What an update changes, for the report (`code`, `memory`, ...).
    pub fn changed(&self) -> Vec<String> {
        match self {
            FunctionAction::Update { code, config, tags } => {
                let mut out = Vec::new();
                if *code {
                    out.push("code".to_owned());
                }
                out.extend(config.iter().map(|c| (*c).to_owned()));
                if !tags.is_empty() {
                    out.push("tags".to_owned());
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

/// Compares desired and observed; `None` observed means the function does not exist.
pub fn plan_function(
    desired: &DesiredFunction,
    observed: Option<&ObservedFunction>,
) -> FunctionAction {
    let Some(o) = observed else {
        return FunctionAction::Create;
    };
    let arch_differs = o.architecture.as_deref() != Some(desired.architecture.as_str());
    let code = o.code_sha256.as_deref() != Some(desired.code_sha256.as_str()) || arch_differs;
    let mut config = Vec::new();
    if o.memory != Some(desired.memory) {
        config.push("memory");
    }
    if o.timeout != Some(desired.timeout) {
        config.push("timeout");
    }
    if o.environment != desired.environment {
        config.push("environment");
    }
    if o.runtime.as_deref() != Some(RUNTIME) {
        config.push("runtime");
    }
    if o.handler.as_deref() != Some(HANDLER) {
        config.push("handler");
    }
    if o.role.as_deref() != Some(desired.role.as_str()) {
        config.push("role");
    }
    if o.description.as_deref().unwrap_or("") != desired.description {
        config.push("description");
    }
    let tags: BTreeMap<String, String> = desired
        .tags
        .iter()
        .filter(|(k, v)| o.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !code && config.is_empty() && tags.is_empty() {
        FunctionAction::Unchanged
    } else {
        FunctionAction::Update { code, config, tags }
    }
}

/// Whether a function must be waited for before it can be changed, and for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Nothing,
    /// State Pending: wait until Active.
    Active,
    /// LastUpdateStatus InProgress: wait until the update ends.
    Updated,
}

pub fn wait_before_change(observed: &ObservedFunction) -> WaitFor {
    if observed.state.as_deref() == Some("Pending") {
        WaitFor::Active
    } else if observed.last_update_status.as_deref() == Some("InProgress") {
        WaitFor::Updated
    } else {
        WaitFor::Nothing
    }
}

/// A function URL as LocalStack reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedUrl {
    pub auth: String,
    pub cors: Option<Cors>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlAction {
    Create,
    Update(Vec<&'static str>),
    Delete,
    Unchanged,
    /// Neither wanted nor there.
    Absent,
}

fn normalized(cors: Option<&Cors>) -> Cors {
    let mut c = cors.cloned().unwrap_or_default();
    let sort = |v: &mut Vec<String>, upper: bool| {
        if upper {
            v.iter_mut().for_each(|s| *s = s.to_ascii_uppercase());
        }
        v.sort();
        v.dedup();
    };
    sort(&mut c.allow_origins, false);
    sort(&mut c.allow_methods, true);
    // Header names are case-insensitive.
    c.allow_headers
        .iter_mut()
        .for_each(|s| *s = s.to_ascii_lowercase());
    c.expose_headers
        .iter_mut()
        .for_each(|s| *s = s.to_ascii_lowercase());
    sort(&mut c.allow_headers, false);
    sort(&mut c.expose_headers, false);
    if c.allow_credentials == Some(false) {
        c.allow_credentials = None;
    }
    if c.max_age == Some(0) {
        c.max_age = None;
    }
    c
}

pub fn plan_url(desired: Option<&FunctionUrl>, observed: Option<&ObservedUrl>) -> UrlAction {
    match (desired, observed) {
        (None, None) => UrlAction::Absent,
        (None, Some(_)) => UrlAction::Delete,
        (Some(_), None) => UrlAction::Create,
        (Some(d), Some(o)) => {
            let mut changed = Vec::new();
            if o.auth != d.auth.as_str() {
                changed.push("auth");
            }
            if normalized(d.cors.as_ref()) != normalized(o.cors.as_ref()) {
                changed.push("cors");
            }
            if changed.is_empty() {
                UrlAction::Unchanged
            } else {
                UrlAction::Update(changed)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionAction {
    Add,
    Remove,
    Keep,
    Absent,
}

/// The public invoke permission exists exactly when the URL is `auth = "NONE"`.
pub fn plan_public_permission(
    url: Option<&FunctionUrl>,
    statement_exists: bool,
) -> PermissionAction {
    let wanted = url.is_some_and(|u| u.auth == UrlAuth::None);
    match (wanted, statement_exists) {
        (true, true) => PermissionAction::Keep,
        (true, false) => PermissionAction::Add,
        (false, true) => PermissionAction::Remove,
        (false, false) => PermissionAction::Absent,
    }
}

/// Whether a resource policy (GetPolicy's JSON) has a statement with this id.
pub fn policy_has_statement(policy_json: &str, sid: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(policy_json)
        .ok()
        .and_then(|v| v.get("Statement").cloned())
        .and_then(|s| s.as_array().cloned())
        .is_some_and(|statements| {
            statements
                .iter()
                .any(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid))
        })
}

/// An SQS trigger as the manifest wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredMapping {
    pub queue: String,
    pub source_arn: String,
    pub batch_size: i32,
    pub batching_window: i32,
    pub report_failures: bool,
    pub enabled: bool,
}

/// An event source mapping as LocalStack reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedMapping {
    pub uuid: String,
    pub source_arn: String,
    pub batch_size: Option<i32>,
    pub batching_window: Option<i32>,
    pub report_failures: bool,
    pub state: Option<String>,
}

impl ObservedMapping {
    fn enabled(&self) -> bool {
        !matches!(self.state.as_deref(), Some("Disabled" | "Disabling"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingAction {
    Create(DesiredMapping),
    Update {
        uuid: String,
        desired: DesiredMapping,
        changes: Vec<&'static str>,
    },
    Delete {
        uuid: String,
        source_arn: String,
    },
    Unchanged {
        uuid: String,
        queue: String,
    },
}

/// One mapping per source queue: matching ones are kept or updated in place, missing ones
/// created, and the rest (sources no longer in the manifest, duplicates) deleted.
pub fn plan_mappings(
    desired: &[DesiredMapping],
    observed: &[ObservedMapping],
) -> Vec<MappingAction> {
    let mut actions = Vec::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for d in desired {
        let found = observed
            .iter()
            .find(|o| o.source_arn == d.source_arn && !used.contains(o.uuid.as_str()));
        match found {
            None => actions.push(MappingAction::Create(d.clone())),
            Some(o) => {
                used.insert(&o.uuid);
                let mut changes = Vec::new();
                if o.batch_size != Some(d.batch_size) {
                    changes.push("batch_size");
                }
                if o.batching_window.unwrap_or(0) != d.batching_window {
                    changes.push("batching_window");
                }
                if o.report_failures != d.report_failures {
                    changes.push("report_batch_item_failures");
                }
                if o.enabled() != d.enabled {
                    changes.push("enabled");
                }
                if changes.is_empty() {
                    actions.push(MappingAction::Unchanged {
                        uuid: o.uuid.clone(),
                        queue: d.queue.clone(),
                    });
                } else {
                    actions.push(MappingAction::Update {
                        uuid: o.uuid.clone(),
                        desired: d.clone(),
                        changes,
                    });
                }
            }
        }
    }
    for o in observed {
        if !used.contains(o.uuid.as_str()) {
            actions.push(MappingAction::Delete {
                uuid: o.uuid.clone(),
                source_arn: o.source_arn.clone(),
            });
        }
    }
    actions
}

/// Mapping states in which LocalStack refuses an update or delete until they settle.
pub fn mapping_is_transitional(state: Option<&str>) -> bool {
    matches!(
        state,
        Some("Creating" | "Updating" | "Enabling" | "Disabling" | "Deleting")
    )
}

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

/// Functions deployed by lsk for this project that the manifest no longer lists.
pub fn functions_to_prune(
    in_manifest: &BTreeSet<String>,
    deployed: &[(String, BTreeMap<String, String>)],
    project: &str,
) -> Vec<String> {
    deployed
        .iter()
        .filter(|(name, tags)| {
            !in_manifest.contains(name)
                && tags.get(TAG_MANAGED).map(String::as_str) == Some("lsk")
                && tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DeadLetter;

    fn desired() -> DesiredFunction {
        DesiredFunction {
            name: "square".into(),
            code_sha256: "abc=".into(),
            memory: 128,
            timeout: 3,
            environment: BTreeMap::from([("MODE".into(), "x".into())]),
            architecture: Architecture::X86_64,
            description: "squares".into(),
            role: crate::aws::LAMBDA_ROLE.into(),
            tags: BTreeMap::from([
                (TAG_MANAGED.into(), "lsk".into()),
                (TAG_PROJECT.into(), "main".into()),
            ]),
        }
    }

    fn observed_matching(d: &DesiredFunction) -> ObservedFunction {
        ObservedFunction {
            code_sha256: Some(d.code_sha256.clone()),
            memory: Some(d.memory),
            timeout: Some(d.timeout),
            environment: d.environment.clone(),
            architecture: Some("x86_64".into()),
            description: Some(d.description.clone()),
            runtime: Some(RUNTIME.into()),
            handler: Some(HANDLER.into()),
            role: Some(d.role.clone()),
            tags: d.tags.clone(),
            state: Some("Active".into()),
            last_update_status: Some("Successful".into()),
            code_location: None,
        }
    }

    #[test]
    fn watched_code_goes_back_to_the_zip_at_the_next_deploy() {
        // `lsk watch` leaves functions on LocalStack's hot-reload code, whose CodeSha256 is a
        // placeholder: a deploy must upload the zip again.
        let d = desired();
        let mut o = observed_matching(&d);
        o.code_sha256 = Some(crate::deploy::HOT_RELOAD_SHA256.into());
        o.code_location = Some("file:///ws/.lsk/watch/square".into());
        assert!(matches!(
            plan_function(&d, Some(&o)),
            FunctionAction::Update { code: true, .. }
        ));
    }

    #[test]
    fn missing_function_is_created() {
        assert_eq!(plan_function(&desired(), None), FunctionAction::Create);
    }

    #[test]
    fn identical_function_is_unchanged_so_nothing_is_uploaded() {
        let d = desired();
        assert_eq!(
            plan_function(&d, Some(&observed_matching(&d))),
            FunctionAction::Unchanged
        );
    }

    #[test]
    fn new_code_is_uploaded_without_touching_configuration() {
        let d = desired();
        let mut o = observed_matching(&d);
        o.code_sha256 = Some("old=".into());
        let action = plan_function(&d, Some(&o));
        assert_eq!(
            action,
            FunctionAction::Update {
                code: true,
                config: vec![],
                tags: BTreeMap::new()
            }
        );
        assert_eq!(action.changed(), ["code"]);
    }

    #[test]
    fn configuration_changes_are_named_and_code_is_not_reuploaded() {
        let d = desired();
        let mut o = observed_matching(&d);
        o.memory = Some(256);
        o.timeout = Some(30);
        o.environment.insert("EXTRA".into(), "1".into());
        let action = plan_function(&d, Some(&o));
        assert_eq!(action.changed(), ["memory", "timeout", "environment"]);
        assert!(matches!(action, FunctionAction::Update { code: false, .. }));
    }

    #[test]
    fn architecture_change_needs_a_code_upload() {
        let mut d = desired();
        let o = observed_matching(&d);
        d.architecture = Architecture::Arm64;
        assert!(matches!(
            plan_function(&d, Some(&o)),
            FunctionAction::Update { code: true, .. }
        ));
    }

    #[test]
    fn no_environment_equals_empty_environment_and_missing_description_equals_empty() {
        let mut d = desired();
        d.environment.clear();
        d.description.clear();
        let mut o = observed_matching(&d);
        o.description = None;
        assert_eq!(plan_function(&d, Some(&o)), FunctionAction::Unchanged);
    }

    #[test]
    fn foreign_function_is_adopted_by_tagging() {
        let d = desired();
        let mut o = observed_matching(&d);
        o.tags.clear();
        o.runtime = Some("python3.11".into());
        o.handler = Some("lambda_function_square.lambda_handler".into());
        let action = plan_function(&d, Some(&o));
        assert_eq!(action.changed(), ["runtime", "handler", "tags"]);
    }

    #[test]
    fn waits_for_pending_or_in_progress_functions() {
        let d = desired();
        let mut o = observed_matching(&d);
        assert_eq!(wait_before_change(&o), WaitFor::Nothing);
        o.last_update_status = Some("InProgress".into());
        assert_eq!(wait_before_change(&o), WaitFor::Updated);
        o.state = Some("Pending".into());
        assert_eq!(wait_before_change(&o), WaitFor::Active);
    }

    fn url(auth: UrlAuth, cors: Option<Cors>) -> FunctionUrl {
        FunctionUrl { auth, cors }
    }

    #[test]
    fn url_plans() {
        let none = url(UrlAuth::None, None);
        assert_eq!(plan_url(None, None), UrlAction::Absent);
        assert_eq!(plan_url(Some(&none), None), UrlAction::Create);
        let there = ObservedUrl {
            auth: "NONE".into(),
            cors: None,
        };
        assert_eq!(plan_url(Some(&none), Some(&there)), UrlAction::Unchanged);
        assert_eq!(plan_url(None, Some(&there)), UrlAction::Delete);
        assert_eq!(
            plan_url(Some(&url(UrlAuth::AwsIam, None)), Some(&there)),
            UrlAction::Update(vec!["auth"])
        );
    }

    #[test]
    fn cors_compares_as_sets_and_ignores_defaults() {
        let wanted = Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["post".into(), "GET".into()],
            allow_headers: vec!["Content-Type".into()],
            ..Cors::default()
        };
        let reported = Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            allow_credentials: Some(false),
            max_age: Some(0),
            ..Cors::default()
        };
        let observed = ObservedUrl {
            auth: "NONE".into(),
            cors: Some(reported),
        };
        assert_eq!(
            plan_url(
                Some(&url(UrlAuth::None, Some(wanted.clone()))),
                Some(&observed)
            ),
            UrlAction::Unchanged
        );
        let mut different = wanted;
        different.allow_origins = vec!["http://localhost:3000".into()];
        assert_eq!(
            plan_url(Some(&url(UrlAuth::None, Some(different))), Some(&observed)),
            UrlAction::Update(vec!["cors"])
        );
        // An empty CORS block is the same as none.
        assert_eq!(
            plan_url(
                Some(&url(UrlAuth::None, Some(Cors::default()))),
                Some(&ObservedUrl {
                    auth: "NONE".into(),
                    cors: None
                })
            ),
            UrlAction::Unchanged
        );
    }

    #[test]
    fn public_permission_follows_auth() {
        let none = url(UrlAuth::None, None);
        let iam = url(UrlAuth::AwsIam, None);
        assert_eq!(
            plan_public_permission(Some(&none), false),
            PermissionAction::Add
        );
        assert_eq!(
            plan_public_permission(Some(&none), true),
            PermissionAction::Keep
        );
        assert_eq!(
            plan_public_permission(Some(&iam), true),
            PermissionAction::Remove
        );
        assert_eq!(plan_public_permission(None, true), PermissionAction::Remove);
        assert_eq!(
            plan_public_permission(None, false),
            PermissionAction::Absent
        );
    }

    #[test]
    fn policy_statement_lookup() {
        let policy = r#"{"Version":"2012-10-17","Id":"default","Statement":[
            {"Sid":"lsk-function-url-public","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl"}]}"#;
        assert!(policy_has_statement(policy, PUBLIC_URL_STATEMENT));
        assert!(!policy_has_statement(policy, "other"));
        assert!(!policy_has_statement("not json", PUBLIC_URL_STATEMENT));
    }

    fn dm(queue: &str, batch: i32) -> DesiredMapping {
        DesiredMapping {
            queue: queue.into(),
            source_arn: crate::aws::queue_arn("us-east-1", queue),
            batch_size: batch,
            batching_window: 0,
            report_failures: true,
            enabled: true,
        }
    }

    fn om(uuid: &str, queue: &str, batch: i32) -> ObservedMapping {
        ObservedMapping {
            uuid: uuid.into(),
            source_arn: crate::aws::queue_arn("us-east-1", queue),
            batch_size: Some(batch),
            batching_window: None,
            report_failures: true,
            state: Some("Enabled".into()),
        }
    }

    #[test]
    fn mappings_are_created_kept_updated_and_deleted() {
        let desired = [dm("jobs", 5), dm("new", 10), dm("other", 1)];
        let mut changed = om("u-other", "other", 1);
        changed.report_failures = false;
        let observed = [om("u-jobs", "jobs", 5), om("u-gone", "gone", 10), changed];
        let actions = plan_mappings(&desired, &observed);
        assert_eq!(
            actions,
            vec![
                MappingAction::Unchanged {
                    uuid: "u-jobs".into(),
                    queue: "jobs".into()
                },
                MappingAction::Create(dm("new", 10)),
                MappingAction::Update {
                    uuid: "u-other".into(),
                    desired: dm("other", 1),
                    changes: vec!["report_batch_item_failures"]
                },
                MappingAction::Delete {
                    uuid: "u-gone".into(),
                    source_arn: crate::aws::queue_arn("us-east-1", "gone")
                },
            ]
        );
    }

    #[test]
    fn batch_size_change_updates_in_place_and_duplicates_are_removed() {
        let actions = plan_mappings(&[dm("jobs", 5)], &[om("a", "jobs", 10), om("b", "jobs", 5)]);
        assert_eq!(
            actions,
            vec![
                MappingAction::Update {
                    uuid: "a".into(),
                    desired: dm("jobs", 5),
                    changes: vec!["batch_size"]
                },
                MappingAction::Delete {
                    uuid: "b".into(),
                    source_arn: crate::aws::queue_arn("us-east-1", "jobs")
                },
            ]
        );
    }

    #[test]
    fn disabled_mapping_is_enabled_again() {
        let mut o = om("a", "jobs", 5);
        o.state = Some("Disabled".into());
        let actions = plan_mappings(&[dm("jobs", 5)], &[o]);
        assert!(
            matches!(&actions[0], MappingAction::Update { changes, .. } if changes == &vec!["enabled"])
        );
        assert!(mapping_is_transitional(Some("Creating")));
        assert!(!mapping_is_transitional(Some("Enabled")));
    }

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

    #[test]
    fn only_this_projects_lsk_functions_are_pruned() {
        let tags = |managed: &str, project: &str| {
            BTreeMap::from([
                (TAG_MANAGED.to_owned(), managed.to_owned()),
                (TAG_PROJECT.to_owned(), project.to_owned()),
            ])
        };
        let deployed = vec![
            ("square".to_owned(), tags("lsk", "main")),
            ("old".to_owned(), tags("lsk", "main")),
            ("someone-elses".to_owned(), BTreeMap::new()),
            ("other-project".to_owned(), tags("lsk", "elsewhere")),
        ];
        let in_manifest = BTreeSet::from(["square".to_owned()]);
        assert_eq!(functions_to_prune(&in_manifest, &deployed, "main"), ["old"]);
    }
}
