//! What a run prints when it ends (the markdown table, the machine line, the verdicts, errors
//! and leftover processes) and the JSON it writes beside it.

use std::time::Duration;

use anyhow::Context;

use crate::machine::Machine;
use crate::plan::Ctx;
use crate::report::Report;

pub(crate) fn print_results(ctx: &Ctx, report: &Report, machine: &Machine, took: Duration) {
    let mut out = String::new();
    out.push_str(&format!(
        "\n## lsk-bench{}\n\n",
        if ctx.plan.quick { " (--quick)" } else { "" }
    ));
    out.push_str(&report.table());
    out.push('\n');
    out.push_str(&machine.line());
    out.push_str(&format!("; bench took {:.0} s\n", took.as_secs_f64()));
    if !ctx.plan.localstack_env.is_empty() {
        let settings: Vec<String> = ctx
            .plan
            .localstack_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(
            "LocalStack settings (--ls-env): {}\n",
            settings.join(" ")
        ));
    }
    out.push('\n');
    for t in report.targets() {
        out.push_str(&format!("{t}\n"));
    }
    if !report.errors.is_empty() {
        out.push_str("\nerrors:\n");
        for e in &report.errors {
            out.push_str(&format!("- {}\n", e.replace('\n', "\n  ")));
        }
    }
    out.push_str(&format!(
        "\nleftover processes: {}\n",
        if report.leftovers.is_empty() {
            "none".to_owned()
        } else {
            report.leftovers.join(", ")
        }
    ));
    let json_path = ctx.bench_dir.join("bench.json");
    let json = report.json(machine, &ctx.plan);
    match serde_json::to_string_pretty(&json)
        .map_err(anyhow::Error::from)
        .and_then(|text| {
            std::fs::write(&json_path, text + "\n")
                .with_context(|| format!("writing {}", json_path.display()))
        }) {
        Ok(()) => out.push_str(&format!("json: {}\n", json_path.display())),
        Err(e) => out.push_str(&format!("json: not written: {e:#}\n")),
    }
    print!("{out}");
}
