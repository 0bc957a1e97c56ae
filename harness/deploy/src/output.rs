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

mod lines;
mod view;
pub use lines::*;
pub use view::*;

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
    if let Some(stack) = &view.stack {
        out.push_str(&format!("stack {stack}\n"));
    }
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
    render_outputs(&mut out, view);
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

/// A template's outputs, as `sam deploy` prints them (values in the form that works here), and
/// what it holds that the kit does not run.
fn render_outputs(out: &mut String, view: &StackView) {
    if !view.outputs.is_empty() {
        out.push_str("\nOUTPUTS\n");
    }
    for o in &view.outputs {
        out.push_str(&format!(
            "  {}{}\n",
            o.key,
            o.description
                .as_deref()
                .map(|d| format!("  {d}"))
                .unwrap_or_default()
        ));
        row(out, "value", &o.value);
        if let Some(d) = &o.deployed {
            row(out, "as deployed", &format!("{d}  (does not work here)"));
        }
    }
    if !view.stand_ins.is_empty() {
        out.push_str("\nNOT RUN HERE (deployed as LocalStack stand-ins: --allow-unsupported)\n");
        for s in &view.stand_ins {
            out.push_str(&format!("  {s}\n"));
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
