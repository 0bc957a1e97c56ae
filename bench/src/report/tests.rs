//! Tests of `report.rs` (`report`): every row filled, and the verdicts the figures give.

use super::*;
use crate::stats::Unit;

#[test]
fn every_row_is_filled_and_targets_follow_the_figures() {
    let mut r = Report::new(&[Section::Anchor]);
    r.set("list_functions", Measured::value(Unit::Ms, 1.0, 100));
    r.set("invoke_api", Measured::value(Unit::Ms, 3.9, 100));
    r.fail_section(Section::Pipeline, "queue missing");
    r.close();
    let table = r.table();
    assert_eq!(table.lines().count(), ROWS.len() + 2);
    assert!(table.contains("| not run | - | - | 0 | queue missing |"));
    assert!(table.contains("skipped (--skip anchor)"));
    let targets = r.targets();
    assert_eq!(targets[0].verdict, Verdict::Pass, "{}", targets[0]);
    assert!(
        targets
            .iter()
            .any(|t| t.target.contains("pipeline") && t.verdict == Verdict::NotMeasured)
    );
    assert!(r.incomplete(), "a failed section makes the run incomplete");
    r.set("invoke_api", Measured::value(Unit::Ms, 4.1, 100));
    assert_eq!(r.targets()[0].verdict, Verdict::Fail);
}

#[test]
fn the_soak_target_needs_a_full_soak_and_at_most_1_mb_per_1000() {
    let soak = |r: &Report| -> TargetLine {
        r.targets()
            .into_iter()
            .find(|t| t.target.contains("soak"))
            .expect("a soak target line")
    };
    let mut r = Report::new(&[]);
    assert_eq!(soak(&r).verdict, Verdict::NotMeasured);
    r.set("soak_rss_warm", Measured::value(Unit::Megabytes, 230.0, 1));
    r.set("soak_rss_after", Measured::value(Unit::Megabytes, 236.0, 1));
    r.set(
        "soak_growth",
        Measured::value(Unit::Megabytes, 0.6, SOAK_INVOKES),
    );
    assert_eq!(soak(&r).verdict, Verdict::Pass, "{}", soak(&r));
    assert!(
        soak(&r).measured.contains("+0.60 MB per 1,000"),
        "{}",
        soak(&r)
    );
    r.set(
        "soak_growth",
        Measured::value(Unit::Megabytes, 5.1, SOAK_INVOKES),
    );
    assert_eq!(soak(&r).verdict, Verdict::Fail);
    r.set("soak_growth", Measured::value(Unit::Megabytes, 0.1, 2_000));
    assert_eq!(soak(&r).verdict, Verdict::NotMeasured, "--quick soaks less");
}

#[test]
fn docker_rows_are_skipped_without_a_daemon_and_judged_against_native() {
    let mut r = Report::new(&[]);
    r.skip_section(Section::Docker, "skipped: no Docker daemon answered (x)");
    for s in ROWS
        .iter()
        .map(|s| s.section)
        .filter(|s| *s != Section::Docker)
    {
        r.fail_section(s, "elsewhere");
    }
    r.close();
    assert!(
        r.rows
            .iter()
            .filter(|row| row.section == Section::Docker)
            .all(|row| matches!(row.outcome, Outcome::Skipped { .. }))
    );
    let docker_targets = |r: &Report| -> Vec<TargetLine> {
        r.targets()
            .into_iter()
            .filter(|t| t.target.contains("docker"))
            .collect()
    };
    assert_eq!(docker_targets(&r).len(), 3);
    assert!(
        docker_targets(&r)
            .iter()
            .all(|t| t.verdict == Verdict::NotMeasured)
    );

    let mut r = Report::new(&[]);
    r.set("invoke_api", Measured::value(Unit::Ms, 3.0, 100));
    r.set("invoke_url", Measured::value(Unit::Ms, 3.0, 100));
    r.set("docker_invoke_api", Measured::value(Unit::Ms, 3.6, 100));
    r.set("docker_invoke_url", Measured::value(Unit::Ms, 4.0, 100));
    r.set("docker_ready", Measured::value(Unit::Seconds, 5.2, 3));
    r.set("docker_lsk_up", Measured::value(Unit::Seconds, 10.4, 3));
    let t = docker_targets(&r);
    assert_eq!(t[0].verdict, Verdict::Fail, "URL is 1.33x: {}", t[0]);
    assert!(t[0].measured.contains("(1.20x)"), "{}", t[0]);
    assert_eq!(t[1].verdict, Verdict::Pass, "{}", t[1]);
    assert_eq!(t[2].verdict, Verdict::Fail, "{}", t[2]);
}
