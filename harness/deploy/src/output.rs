//! What `lsk up`, `deploy` and `status` print: every function, queue and bucket with lines that
//! can be pasted as they are (`curl` for function URLs, `awslocal` for everything), as text or
//! JSON.
//!
//! Function URLs are printed in two forms: `<id>.lambda-url.<region>.localhost:<port>` works with
//! no DNS at all (curl resolves `*.localhost` to loopback), and the
//! `....localhost.localstack.cloud` form LocalStack hands out needs public DNS.
//!
//! `awslocal` lines are for the AWS CLI v1 that `.lsk/venv` carries: v1 sends `--payload` as
//! given. (AWS CLI v2 would also need `--cli-binary-format raw-in-base64-out`; v1 rejects it.)

use serde::Serialize;

/// A function URL in both printed forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlView {
    /// As LocalStack returned it.
    pub function_url: String,
    /// The host label LocalStack routes on.
    pub url_id: String,
    pub auth: String,
    /// `http://<id>.lambda-url.<region>.localhost:<port>/`: works offline.
    pub offline: String,
    /// `http://<id>.lambda-url.<region>.localhost.localstack.cloud:<port>/`: needs public DNS.
    pub localstack_cloud: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerView {
    pub queue: String,
    pub batch_size: Option<i32>,
    pub report_batch_item_failures: bool,
    pub state: Option<String>,
}

/// An S3 trigger of a function, as configured on its bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3TriggerView {
    /// The bucket's S3 name.
    pub bucket: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    /// false when the manifest lists it but the bucket does not have it (deploy again).
    pub deployed: bool,
    /// Ready-to-paste upload that fires it.
    pub awslocal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionView {
    pub name: String,
    /// Active / Pending / Failed / Inactive, or `not deployed`.
    pub state: String,
    pub state_reason: Option<String>,
    pub arn: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub code_sha256: Option<String>,
    pub url: Option<UrlView>,
    pub triggers: Vec<TriggerView>,
    pub s3_triggers: Vec<S3TriggerView>,
    /// Ready-to-paste `curl` to the function URL (offline form), when there is one.
    pub curl: Option<String>,
    /// Ready-to-paste `awslocal lambda invoke`.
    pub awslocal: String,
    /// Payload used in both lines.
    pub example: String,
    /// How the running binary was built (`host`, `cargo-lambda ...`), from its `lsk:build` tag.
    pub build: Option<String>,
    /// The host directory it runs from when `lsk watch` put it on watched code.
    pub watched: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueView {
    pub name: String,
    pub url: Option<String>,
    pub arn: Option<String>,
    pub fifo: bool,
    pub dead_letter: Option<String>,
    pub max_receive_count: Option<i32>,
    /// ApproximateNumberOfMessages
    pub messages: Option<i64>,
    /// ApproximateNumberOfMessagesNotVisible
    pub in_flight: Option<i64>,
    pub awslocal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketView {
    pub key: String,
    pub name: String,
    pub exists: bool,
    pub objects: Option<u64>,
    pub awslocal: String,
}

/// An SNS topic and its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicView {
    pub name: String,
    /// `None` when it is not deployed.
    pub arn: Option<String>,
    /// `function square`, `queue inbox (raw, filtered)`, ...
    pub subscriptions: Vec<String>,
    /// Ready-to-paste `awslocal sns publish`.
    pub awslocal: Option<String>,
}

/// An EventBridge rule and its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    pub name: String,
    pub bus: String,
    /// `rate(1 minute)` or the pattern as JSON.
    pub trigger: String,
    /// ENABLED / DISABLED, or `not deployed`.
    pub state: String,
    /// `function heartbeat`, `queue jobs (constant input)`, ...
    pub targets: Vec<String>,
    /// Ready-to-paste `awslocal events put-events` for pattern rules.
    pub put_events: Option<String>,
    /// Ready-to-paste `awslocal events describe-rule`.
    pub awslocal: String,
}

/// One route of a REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteView {
    pub method: String,
    pub path: String,
    pub function: String,
    /// false when the manifest lists it but the API does not have it (deploy again).
    pub deployed: bool,
    /// Ready-to-paste `curl` to the offline URL.
    pub curl: Option<String>,
}

/// A REST API (API Gateway v1) and its routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiView {
    pub name: String,
    pub id: Option<String>,
    pub stage: String,
    /// `http://<id>.execute-api.localhost:<port>/<stage>`: works offline.
    pub offline: Option<String>,
    /// `http://<id>.execute-api.localhost.localstack.cloud:<port>/<stage>`: needs public DNS.
    pub localstack_cloud: Option<String>,
    pub routes: Vec<RouteView>,
}

/// A Step Functions state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateMachineView {
    pub name: String,
    pub arn: Option<String>,
    /// ACTIVE, or `not deployed`.
    pub status: String,
    pub kind: String,
    /// The definition file, relative to the workspace root.
    pub definition: String,
    /// Ready-to-paste `awslocal stepfunctions start-execution`.
    pub awslocal: Option<String>,
    /// Ready-to-paste `awslocal stepfunctions list-executions`.
    pub executions: Option<String>,
}

/// Everything printed about a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackView {
    pub endpoint: String,
    pub region: String,
    pub backend: Option<String>,
    pub backend_reason: Option<String>,
    pub pid: Option<u32>,
    /// What functions see of the filesystem (our LocalStack plugin's `/_lsk/info`).
    pub function_fs: Option<String>,
    pub functions: Vec<FunctionView>,
    pub queues: Vec<QueueView>,
    pub buckets: Vec<BucketView>,
    pub topics: Vec<TopicView>,
    pub rules: Vec<RuleView>,
    pub apis: Vec<ApiView>,
    pub state_machines: Vec<StateMachineView>,
    pub warnings: Vec<String>,
}

/// The host label of a function URL (`http://<id>.lambda-url.<region>...`).
pub fn url_id(function_url: &str) -> Option<String> {
    let url = url::Url::parse(function_url).ok()?;
    let mut labels = url.host_str()?.split('.');
    let id = labels.next()?;
    (labels.next() == Some("lambda-url") && !id.is_empty()).then(|| id.to_owned())
}

/// Both printed forms of a function URL.
pub fn url_view(function_url: &str, auth: &str, region: &str, port: u16) -> Option<UrlView> {
    let id = url_id(function_url)?;
    Some(UrlView {
        function_url: function_url.to_owned(),
        offline: format!("http://{id}.lambda-url.{region}.localhost:{port}/"),
        localstack_cloud: format!(
            "http://{id}.lambda-url.{region}.localhost.localstack.cloud:{port}/"
        ),
        url_id: id,
        auth: auth.to_owned(),
    })
}

/// Single-quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Single-quotes `s` even when it would not need it (URLs read better that way).
pub fn quote_always(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `curl` to a function URL: JSON POST of `payload` to `path`; signed for `AWS_IAM` URLs.
pub fn curl_line(url: &UrlView, path: Option<&str>, payload: &str, region: &str) -> String {
    let target = format!(
        "{}{}",
        url.offline,
        path.unwrap_or("/").trim_start_matches('/')
    );
    let mut line = format!(
        "curl -s -X POST {} -H 'content-type: application/json' -d {}",
        quote_always(&target),
        shell_quote(payload)
    );
    if url.auth == "AWS_IAM" {
        line.push_str(&format!(
            " --aws-sigv4 'aws:amz:{region}:lambda' --user test:test"
        ));
    }
    line
}

/// `awslocal lambda invoke` that prints the function's answer (AWS CLI v1 syntax).
pub fn awslocal_invoke_line(function: &str, payload: &str) -> String {
    format!(
        "awslocal lambda invoke --function-name {} --payload {} /dev/stdout",
        shell_quote(function),
        shell_quote(payload)
    )
}

/// `awslocal sqs send-message` to a queue (FIFO queues need a group id).
pub fn awslocal_send_line(queue_url: &str, body: &str, fifo: bool) -> String {
    let mut line = format!(
        "awslocal sqs send-message --queue-url {} --message-body {}",
        quote_always(queue_url),
        shell_quote(body)
    );
    if fifo {
        line.push_str(" --message-group-id lsk --message-deduplication-id \"$(date +%s%N)\"");
    }
    line
}

/// `awslocal s3 cp` of a short text from stdin to `s3://bucket/key`: an upload that fires an S3
/// trigger whose filters `key` matches.
pub fn awslocal_upload_line(bucket: &str, key: &str) -> String {
    format!(
        "echo 'hello from lsk' | awslocal s3 cp - {}",
        quote_always(&format!("s3://{bucket}/{key}"))
    )
}

/// `awslocal s3 ls` of a bucket.
pub fn awslocal_ls_line(bucket: &str) -> String {
    format!("awslocal s3 ls s3://{bucket}/")
}

fn header(view: &StackView) -> String {
    let mut out = format!("LocalStack {}", view.endpoint);
    let mut extra = Vec::new();
    if let Some(b) = &view.backend {
        extra.push(b.clone());
    }
    if let Some(pid) = view.pid {
        extra.push(format!("pid {pid}"));
    }
    extra.push(format!("region {}", view.region));
    out.push_str(&format!(" ({})\n", extra.join(", ")));
    if let Some(fs) = &view.function_fs {
        out.push_str(&format!("functions run with {fs}\n"));
    }
    out.push_str(
        "awslocal lines need `eval \"$(lsk env)\"` first (it puts .lsk/venv/bin on PATH and points awslocal here)\n",
    );
    out
}

fn row(out: &mut String, label: &str, value: &str) {
    out.push_str(&format!("    {label:<15} {value}\n"));
}

/// The endpoint table printed after `up` and `deploy`, and by `status`.
pub fn render_text(view: &StackView) -> String {
    let mut out = header(view);
    for w in &view.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if !view.functions.is_empty() {
        out.push_str("\nFUNCTIONS\n");
    }
    for f in &view.functions {
        let mut facts = vec![f.state.clone()];
        if let Some(m) = f.memory {
            facts.push(format!("{m} MB"));
        }
        if let Some(t) = f.timeout {
            facts.push(format!("{t} s"));
        }
        match (&f.watched, &f.build) {
            (Some(dir), _) => facts.push(format!("watched code from {dir}")),
            (None, Some(b)) => facts.push(format!("{b} build")),
            (None, None) => {}
        }
        out.push_str(&format!("  {}  {}\n", f.name, facts.join(", ")));
        if let Some(reason) = &f.state_reason {
            row(&mut out, "reason", reason);
        }
        if let Some(u) = &f.url {
            row(&mut out, "url", &format!("{}  (works offline)", u.offline));
            row(
                &mut out,
                "url (DNS)",
                &format!("{}  (needs public DNS)", u.localstack_cloud),
            );
        }
        if let Some(c) = &f.curl {
            row(&mut out, "curl", c);
        }
        if f.state != "not deployed" {
            row(&mut out, "awslocal", &f.awslocal);
        }
        for t in &f.triggers {
            let mut what = vec![format!("batch {}", t.batch_size.unwrap_or(10))];
            if t.report_batch_item_failures {
                what.push("reports batch item failures".into());
            }
            if let Some(s) = &t.state {
                what.push(s.clone());
            }
            row(
                &mut out,
                "sqs trigger",
                &format!("{} ({})", t.queue, what.join(", ")),
            );
        }
        for t in &f.s3_triggers {
            let mut filter = format!(
                "s3://{}/{}*{}",
                t.bucket,
                t.prefix.as_deref().unwrap_or(""),
                t.suffix.as_deref().unwrap_or("")
            );
            filter.push_str(&format!(" ({})", t.events.join(", ")));
            if !t.deployed {
                filter.push_str(", not deployed: run `lsk deploy`");
            }
            row(&mut out, "s3 trigger", &filter);
            row(&mut out, "upload", &t.awslocal);
        }
    }
    if !view.queues.is_empty() {
        out.push_str("\nQUEUES\n");
    }
    for q in &view.queues {
        let mut facts = Vec::new();
        match (q.messages, q.in_flight) {
            (Some(m), Some(f)) => facts.push(format!("{m} waiting, {f} in flight")),
            (Some(m), None) => facts.push(format!("{m} waiting")),
            _ => {}
        }
        if q.url.is_none() {
            facts.push("not deployed".into());
        }
        if let (Some(d), Some(n)) = (&q.dead_letter, q.max_receive_count) {
            facts.push(format!("dead letters -> {d} after {n} receives"));
        }
        out.push_str(&format!("  {}  {}\n", q.name, facts.join(", ")));
        if let Some(u) = &q.url {
            row(&mut out, "url", u);
        }
        if let Some(a) = &q.awslocal {
            row(&mut out, "awslocal", a);
        }
    }
    if !view.buckets.is_empty() {
        out.push_str("\nBUCKETS\n");
    }
    for b in &view.buckets {
        let state = if !b.exists {
            "not deployed".to_owned()
        } else {
            match b.objects {
                Some(1) => "1 object".to_owned(),
                Some(n) => format!("{n} objects"),
                None => "exists".to_owned(),
            }
        };
        let name = if b.key == b.name {
            b.name.clone()
        } else {
            format!("{} ({})", b.key, b.name)
        };
        out.push_str(&format!("  {name}  {state}\n"));
        if b.exists {
            row(&mut out, "awslocal", &b.awslocal);
        }
    }
    render_topics(&mut out, &view.topics);
    render_rules(&mut out, &view.rules);
    render_apis(&mut out, &view.apis);
    render_state_machines(&mut out, &view.state_machines);
    out
}

fn render_topics(out: &mut String, topics: &[TopicView]) {
    if !topics.is_empty() {
        out.push_str("\nTOPICS\n");
    }
    for t in topics {
        let state = match (&t.arn, t.subscriptions.len()) {
            (None, _) => "not deployed".to_owned(),
            (Some(_), 1) => "1 subscription".to_owned(),
            (Some(_), n) => format!("{n} subscriptions"),
        };
        out.push_str(&format!("  {}  {state}\n", t.name));
        if let Some(arn) = &t.arn {
            row(out, "arn", arn);
        }
        for s in &t.subscriptions {
            row(out, "subscription", s);
        }
        if let Some(a) = &t.awslocal {
            row(out, "awslocal", a);
        }
    }
}

fn render_rules(out: &mut String, rules: &[RuleView]) {
    if !rules.is_empty() {
        out.push_str("\nRULES\n");
    }
    for r in rules {
        let mut facts = vec![r.state.clone()];
        if r.bus != "default" {
            facts.push(format!("bus {}", r.bus));
        }
        out.push_str(&format!("  {}  {}\n", r.name, facts.join(", ")));
        row(out, "on", &r.trigger);
        for t in &r.targets {
            row(out, "target", t);
        }
        if let Some(p) = &r.put_events {
            row(out, "send event", p);
        }
        if r.state != "not deployed" {
            row(out, "awslocal", &r.awslocal);
        }
    }
}

fn render_apis(out: &mut String, apis: &[ApiView]) {
    if !apis.is_empty() {
        out.push_str("\nAPIS\n");
    }
    for a in apis {
        let state = if a.id.is_some() {
            format!("REST API, stage {}", a.stage)
        } else {
            "not deployed".to_owned()
        };
        out.push_str(&format!("  {}  {state}\n", a.name));
        if let Some(u) = &a.offline {
            row(out, "url", &format!("{u}  (works offline)"));
        }
        if let Some(u) = &a.localstack_cloud {
            row(out, "url (DNS)", &format!("{u}  (needs public DNS)"));
        }
        for r in &a.routes {
            let mut what = format!("{} {} -> {}", r.method, r.path, r.function);
            if !r.deployed {
                what.push_str(", not deployed: run `lsk deploy`");
            }
            row(out, "route", &what);
            if let Some(c) = &r.curl {
                row(out, "curl", c);
            }
        }
    }
}

fn render_state_machines(out: &mut String, machines: &[StateMachineView]) {
    if !machines.is_empty() {
        out.push_str("\nSTATE MACHINES\n");
    }
    for m in machines {
        out.push_str(&format!(
            "  {}  {}, {}, from {}\n",
            m.name, m.status, m.kind, m.definition
        ));
        if let Some(arn) = &m.arn {
            row(out, "arn", arn);
        }
        if let Some(a) = &m.awslocal {
            row(out, "start", a);
        }
        if let Some(e) = &m.executions {
            row(out, "executions", e);
        }
    }
}

/// The same as JSON.
pub fn render_json(view: &StackView) -> String {
    serde_json::to_string_pretty(view).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// `lsk env`: shell lines that make `awslocal` and AWS SDKs use this LocalStack.
pub fn env_lines(endpoint: &str, region: &str, venv_bin: &std::path::Path) -> String {
    format!(
        "export AWS_ENDPOINT_URL={endpoint}\n\
         export AWS_ACCESS_KEY_ID={}\n\
         export AWS_SECRET_ACCESS_KEY={}\n\
         export AWS_DEFAULT_REGION={region}\n\
         export AWS_REGION={region}\n\
         export PATH={}:\"$PATH\"\n",
        crate::aws::ACCESS_KEY_ID,
        crate::aws::SECRET_ACCESS_KEY,
        shell_quote(&venv_bin.display().to_string()),
    )
}

#[cfg(test)]
mod tests;
