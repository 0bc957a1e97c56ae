//! Deploying rules: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::rule`, re-exported here.

pub use lsk_manifest::kinds::rule::*;

use aws_sdk_eventbridge::types::{RuleState, Tag};

use crate::aws::{self, AwsError, Clients};
use crate::kinds::Target;
use crate::kinds::function::{TAG_MANAGED, TAG_PROJECT};
use crate::kinds::permission::{self, Invoker};
use crate::manifest::Manifest;
use crate::{Change, DeployError, ResourceType, aws_error};

/// Statement id prefix of the permissions that let EventBridge invoke a function.
pub const PERMISSION_PREFIX: &str = "lsk-events-";
/// How rule invokes functions, for their resource policies.
const INVOKER: Invoker = Invoker {
    prefix: PERMISSION_PREFIX,
    principal: "events.amazonaws.com",
    kind: "rule",
};

/// A rule's settings as wanted or as found, compared field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleSettings {
    pub schedule: Option<String>,
    pub pattern: Option<serde_json::Value>,
    pub enabled: bool,
    pub description: Option<String>,
}

impl RuleSettings {
    fn desired(r: &Rule) -> Self {
        let (schedule, pattern) = match &r.trigger {
            Trigger::Schedule(s) => (Some(s.clone()), None),
            Trigger::Pattern(p) => (None, Some(p.clone())),
        };
        RuleSettings {
            schedule,
            pattern,
            enabled: r.enabled,
            // An empty description is what EventBridge reports for none.
            description: r.description.clone().filter(|d| !d.is_empty()),
        }
    }

    fn changes(&self, wanted: &RuleSettings) -> Vec<String> {
        let mut what = Vec::new();
        if self.schedule != wanted.schedule {
            what.push("schedule".to_owned());
        }
        if self.pattern != wanted.pattern {
            what.push("pattern".to_owned());
        }
        if self.enabled != wanted.enabled {
            what.push("state".to_owned());
        }
        if self.description != wanted.description {
            what.push("description".to_owned());
        }
        what
    }
}

/// A target as wanted or as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    pub id: String,
    pub arn: String,
    pub input: Option<serde_json::Value>,
}

/// What to do with a rule's targets: ids to put (new or changed) and ids to remove.
pub fn plan_targets(
    desired: &[TargetState],
    observed: &[TargetState],
) -> (Vec<String>, Vec<String>) {
    let put = desired
        .iter()
        .filter(|d| !observed.contains(d))
        .map(|d| d.id.clone())
        .collect();
    let remove = observed
        .iter()
        .filter(|o| !desired.iter().any(|d| d.id == o.id))
        .map(|o| o.id.clone())
        .collect();
    (put, remove)
}

async fn observe_rule(
    clients: &Clients,
    rule: &str,
    bus: &str,
) -> Result<Option<RuleSettings>, DeployError> {
    match clients
        .events
        .describe_rule()
        .name(rule)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(out) => Ok(Some(RuleSettings {
            schedule: out
                .schedule_expression()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            pattern: out
                .event_pattern()
                .filter(|p| !p.is_empty())
                .and_then(|p| serde_json::from_str(p).ok()),
            enabled: out.state() == Some(&RuleState::Enabled),
            description: out
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error("DescribeRule", rule, e)),
    }
}

/// The targets of a rule.
pub async fn observe_targets(
    clients: &Clients,
    rule: &str,
    bus: &str,
) -> Result<Vec<TargetState>, DeployError> {
    // No paginator in the SDK for this call, and a rule has at most 5 targets: one page.
    let out = clients
        .events
        .list_targets_by_rule()
        .rule(rule)
        .event_bus_name(bus)
        .send()
        .await
        .map_err(|e| aws_error("ListTargetsByRule", rule, e))?;
    Ok(out
        .targets()
        .iter()
        .map(|t| TargetState {
            id: t.id().to_owned(),
            arn: t.arn().to_owned(),
            input: t
                .input()
                .filter(|i| !i.is_empty())
                .and_then(|i| serde_json::from_str(i).ok()),
        })
        .collect())
}

fn tags(project: &str, action: &str) -> Result<Vec<Tag>, DeployError> {
    [(TAG_MANAGED, "lsk"), (TAG_PROJECT, project)]
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::request(action, k, e).into())
        })
        .collect()
}

/// Creates a named bus when it is missing.
async fn ensure_bus(clients: &Clients, bus: &str, project: &str) -> Result<Change, DeployError> {
    match clients.events.describe_event_bus().name(bus).send().await {
        Ok(_) => Ok(Change::Unchanged),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            clients
                .events
                .create_event_bus()
                .name(bus)
                .set_tags(Some(tags(project, "CreateEventBus")?))
                .send()
                .await
                .map_err(|e| aws_error("CreateEventBus", bus, e))?;
            Ok(Change::Created)
        }
        Err(e) => Err(aws_error("DescribeEventBus", bus, e)),
    }
}

/// Brings every rule, its bus and its targets to the manifest. Runs after the functions exist.
pub async fn reconcile(
    clients: &Clients,
    manifest: &Manifest,
    project: &str,
) -> Result<Vec<(ResourceType, String, Change)>, DeployError> {
    let region = &clients.region;
    let mut report = Vec::new();
    let buses: std::collections::BTreeSet<&str> = manifest
        .rules
        .values()
        .map(|r| r.bus.as_str())
        .filter(|b| *b != DEFAULT_BUS)
        .collect();
    for bus in buses {
        report.push((
            ResourceType::Bus,
            bus.to_owned(),
            ensure_bus(clients, bus, project).await?,
        ));
    }
    for rule in manifest.rules.values() {
        let wanted = RuleSettings::desired(rule);
        let change = match observe_rule(clients, &rule.name, &rule.bus).await? {
            None => Some(Change::Created),
            Some(seen) if seen == wanted => None,
            Some(seen) => Some(Change::Updated(seen.changes(&wanted))),
        };
        if let Some(change) = change {
            let created = change == Change::Created;
            clients
                .events
                .put_rule()
                .name(&rule.name)
                .event_bus_name(&rule.bus)
                .set_schedule_expression(wanted.schedule.clone())
                .set_event_pattern(wanted.pattern.as_ref().map(|p| p.to_string()))
                .state(if rule.enabled {
                    RuleState::Enabled
                } else {
                    RuleState::Disabled
                })
                .description(rule.description.clone().unwrap_or_default())
                .set_tags(if created {
                    Some(tags(project, "PutRule")?)
                } else {
                    None
                })
                .send()
                .await
                .map_err(|e| aws_error("PutRule", &rule.name, e))?;
            report.push((ResourceType::Rule, rule.name.clone(), change));
        } else {
            report.push((ResourceType::Rule, rule.name.clone(), Change::Unchanged));
        }

        let desired: Vec<TargetState> = rule
            .targets
            .iter()
            .map(|t| TargetState {
                id: t.id(),
                arn: t.target.arn(region),
                input: t.input.clone(),
            })
            .collect();
        let observed = observe_targets(clients, &rule.name, &rule.bus).await?;
        let (put, remove) = plan_targets(&desired, &observed);
        if !remove.is_empty() {
            clients
                .events
                .remove_targets()
                .rule(&rule.name)
                .event_bus_name(&rule.bus)
                .set_ids(Some(remove.clone()))
                .send()
                .await
                .map_err(|e| aws_error("RemoveTargets", &rule.name, e))?;
        }
        if !put.is_empty() {
            let targets = desired
                .iter()
                .filter(|d| put.contains(&d.id))
                .map(|d| {
                    aws_sdk_eventbridge::types::Target::builder()
                        .id(&d.id)
                        .arn(&d.arn)
                        .set_input(d.input.as_ref().map(|i| i.to_string()))
                        .build()
                        .map_err(|e| AwsError::request("PutTargets", &rule.name, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            clients
                .events
                .put_targets()
                .rule(&rule.name)
                .event_bus_name(&rule.bus)
                .set_targets(Some(targets))
                .send()
                .await
                .map_err(|e| aws_error("PutTargets", &rule.name, e))?;
        }
        for d in &desired {
            let change = if !put.contains(&d.id) {
                Change::Unchanged
            } else if observed.iter().any(|o| o.id == d.id) {
                Change::Updated(vec!["target".into()])
            } else {
                Change::Created
            };
            report.push((
                ResourceType::Target,
                format!("{} -> {}", rule.name, d.id),
                change,
            ));
        }
        for id in remove {
            report.push((
                ResourceType::Target,
                format!("{} -> {id}", rule.name),
                Change::Removed,
            ));
        }
    }
    Ok(report)
}

/// Lets EventBridge invoke each function from the rules targeting it.
pub async fn reconcile_permissions(
    clients: &Clients,
    manifest: &Manifest,
    region: &str,
) -> Result<Vec<(String, Change)>, DeployError> {
    permission::reconcile_all(clients, manifest, INVOKER, |f| {
        manifest
            .rules
            .values()
            .filter(|r| {
                r.targets
                    .iter()
                    .any(|t| t.target == Target::Function(f.name.clone()))
            })
            .map(|r| (r.name.clone(), aws::rule_arn(region, &r.bus, &r.name)))
            .collect()
    })
    .await
}

async fn tagged_for(clients: &Clients, arn: &str, project: &str) -> Result<bool, DeployError> {
    let out = clients
        .events
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("ListTagsForResource", arn, e))?;
    let tag = |k: &str| {
        out.tags()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_owned())
    };
    Ok(tag(TAG_MANAGED).as_deref() == Some("lsk") && tag(TAG_PROJECT).as_deref() == Some(project))
}

/// Deletes the rules (with their targets) and buses lsk created for `project` that the manifest
/// no longer uses.
pub async fn prune(
    clients: &Clients,
    manifest: &Manifest,
    project: &str,
) -> Result<Vec<(ResourceType, String)>, DeployError> {
    let mut removed = Vec::new();
    // ListEventBuses and ListRules have no paginators in the SDK; an account with more buses
    // or rules than one page would need NextToken, which a local stack never reaches.
    let buses = clients
        .events
        .list_event_buses()
        .send()
        .await
        .map_err(|e| aws_error("ListEventBuses", "event buses", e))?;
    for bus in buses.event_buses() {
        let Some(bus_name) = bus.name() else { continue };
        let rules = clients
            .events
            .list_rules()
            .event_bus_name(bus_name)
            .send()
            .await
            .map_err(|e| aws_error("ListRules", bus_name, e))?;
        let mut left = 0;
        for r in rules.rules() {
            let (Some(name), Some(arn)) = (r.name(), r.arn()) else {
                continue;
            };
            let declared = manifest.rules.get(name).is_some_and(|m| m.bus == bus_name);
            if declared || !tagged_for(clients, arn, project).await? {
                left += 1;
                continue;
            }
            let ids: Vec<String> = observe_targets(clients, name, bus_name)
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect();
            if !ids.is_empty() {
                clients
                    .events
                    .remove_targets()
                    .rule(name)
                    .event_bus_name(bus_name)
                    .set_ids(Some(ids))
                    .send()
                    .await
                    .map_err(|e| aws_error("RemoveTargets", name, e))?;
            }
            clients
                .events
                .delete_rule()
                .name(name)
                .event_bus_name(bus_name)
                .send()
                .await
                .map_err(|e| aws_error("DeleteRule", name, e))?;
            removed.push((ResourceType::Rule, name.to_owned()));
        }
        let used = manifest.rules.values().any(|r| r.bus == bus_name);
        if bus_name != DEFAULT_BUS
            && left == 0
            && !used
            && let Some(arn) = bus.arn()
            && tagged_for(clients, arn, project).await?
        {
            clients
                .events
                .delete_event_bus()
                .name(bus_name)
                .send()
                .await
                .map_err(|e| aws_error("DeleteEventBus", bus_name, e))?;
            removed.push((ResourceType::Bus, bus_name.to_owned()));
        }
    }
    Ok(removed)
}

/// What `lsk status` shows of a rule.
pub async fn view(clients: &Clients, rule: &Rule) -> Result<crate::output::RuleView, DeployError> {
    let seen = observe_rule(clients, &rule.name, &rule.bus).await?;
    let (state, targets) = match &seen {
        None => ("not deployed".to_owned(), Vec::new()),
        Some(s) => (
            if s.enabled { "ENABLED" } else { "DISABLED" }.to_owned(),
            observe_targets(clients, &rule.name, &rule.bus)
                .await?
                .iter()
                .map(|t| {
                    let name = t.arn.rsplit(':').next().unwrap_or(&t.arn);
                    let kind = if t.arn.starts_with("arn:aws:lambda:") {
                        "function"
                    } else {
                        "queue"
                    };
                    if t.input.is_some() {
                        format!("{kind} {name} (constant input)")
                    } else {
                        format!("{kind} {name}")
                    }
                })
                .collect(),
        ),
    };
    let trigger = match &rule.trigger {
        Trigger::Schedule(s) => format!("schedule {s}"),
        Trigger::Pattern(p) => format!("pattern {p}"),
    };
    let mut awslocal = format!(
        "awslocal events list-targets-by-rule --rule {}",
        crate::output::shell_quote(&rule.name)
    );
    if rule.bus != DEFAULT_BUS {
        awslocal.push_str(&format!(
            " --event-bus-name {}",
            crate::output::shell_quote(&rule.bus)
        ));
    }
    Ok(crate::output::RuleView {
        name: rule.name.clone(),
        bus: rule.bus.clone(),
        trigger,
        put_events: seen.as_ref().and_then(|_| awslocal_put_events_line(rule)),
        state,
        targets,
        awslocal,
    })
}

/// An event that matches a simple pattern: the first value of each listed field, recursively.
/// Patterns with operators (`prefix`, `numeric`, ...) get an empty object there.
pub fn example_event(pattern: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match pattern {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), example_event(v)))
                .collect(),
        ),
        Value::Array(values) => match values.first() {
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
            _ => Value::Object(Default::default()),
        },
        other => other.clone(),
    }
}

/// `awslocal events put-events` of an event the rule's pattern matches.
pub fn awslocal_put_events_line(rule: &Rule) -> Option<String> {
    let Trigger::Pattern(pattern) = &rule.trigger else {
        return None;
    };
    let event = example_event(pattern);
    let text = |k: &str| event.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let detail = event
        .get("detail")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let entry = serde_json::json!([{
        "Source": text("source").unwrap_or_else(|| "lsk.example".into()),
        "DetailType": text("detail-type").unwrap_or_else(|| "lsk example".into()),
        "Detail": detail.to_string(),
        "EventBusName": rule.bus,
    }]);
    Some(format!(
        "awslocal events put-events --entries {}",
        crate::output::shell_quote(&entry.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_checked_like_eventbridge() {
        assert!(check_schedule("rate(1 minute)").is_ok());
        assert!(check_schedule("rate(5 minutes)").is_ok());
        assert!(check_schedule("cron(0 12 * * ? *)").is_ok());
        assert!(
            check_schedule("rate(1 minutes)")
                .unwrap_err()
                .contains("rate(1 minute)")
        );
        assert!(
            check_schedule("rate(2 hour)")
                .unwrap_err()
                .contains("rate(2 hours)")
        );
        assert!(check_schedule("rate(0 minutes)").is_err());
        assert!(
            check_schedule("rate(5 seconds)")
                .unwrap_err()
                .contains("unit")
        );
        assert!(
            check_schedule("cron(0 12 * * ?)")
                .unwrap_err()
                .contains("6 fields")
        );
        assert!(check_schedule("every minute").is_err());
    }

    #[test]
    fn targets_are_put_when_new_or_changed_and_removed_when_gone() {
        let t = |id: &str, input: Option<serde_json::Value>| TargetState {
            id: id.into(),
            arn: format!("arn:{id}"),
            input,
        };
        let desired = [
            t("function-a", None),
            t("queue-b", Some(serde_json::json!({"x": 1}))),
        ];
        let observed = [
            t("function-a", None),
            t("queue-b", None),
            t("function-old", None),
        ];
        assert_eq!(
            plan_targets(&desired, &observed),
            (vec!["queue-b".to_owned()], vec!["function-old".to_owned()])
        );
        assert_eq!(plan_targets(&desired, &desired), (vec![], vec![]));
    }

    #[test]
    fn an_example_event_matches_a_simple_pattern() {
        let pattern = serde_json::json!({
            "source": ["lsk.uploads"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": ["lsk-uploads"]}, "size": [{"numeric": [">", 0]}]}
        });
        let rule = Rule {
            name: "r".into(),
            bus: "shop".into(),
            trigger: Trigger::Pattern(pattern),
            enabled: true,
            description: None,
            targets: vec![],
        };
        let line = awslocal_put_events_line(&rule).unwrap();
        assert!(
            line.starts_with("awslocal events put-events --entries '"),
            "{line}"
        );
        assert!(line.contains(r#""Source":"lsk.uploads""#), "{line}");
        assert!(line.contains(r#""DetailType":"Object Created""#), "{line}");
        assert!(line.contains(r#""EventBusName":"shop""#), "{line}");
        assert!(
            line.contains(r#"\"bucket\":{\"name\":\"lsk-uploads\"}"#),
            "{line}"
        );
    }

    #[test]
    fn rule_arns_name_their_bus_unless_default() {
        assert_eq!(
            aws::rule_arn("us-east-1", "default", "beat"),
            "arn:aws:events:us-east-1:000000000000:rule/beat"
        );
        assert_eq!(
            aws::rule_arn("us-east-1", "shop", "orders"),
            "arn:aws:events:us-east-1:000000000000:rule/shop/orders"
        );
    }
}
