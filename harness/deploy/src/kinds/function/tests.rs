//! Tests of `function.rs` (`function`).

use super::*;

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
    o.code_sha256 = Some(HOT_RELOAD_SHA256.into());
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
