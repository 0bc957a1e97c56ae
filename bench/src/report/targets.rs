//! The targets the figures are judged against, as PASS / FAIL / NOT MEASURED lines.

use super::{Report, SOAK_INVOKES, TargetLine, Verdict};
use crate::stats::{Measured, Unit};

impl Report {
    pub fn targets(&self) -> Vec<TargetLine> {
        let mut out = Vec::new();
        let ms = |m: &Measured| m.unit.format(m.median);
        // warm invoke vs floor
        out.push(match (self.get("invoke_api"), self.get("list_functions")) {
            (Some(inv), Some(list)) => verdict(
                "warm invoke p50 <= 4 x ListFunctions p50",
                inv.median <= 4.0 * list.median,
                format!(
                    "{} vs 4 x {} = {} ({:.2}x)",
                    ms(inv),
                    ms(list),
                    Unit::Ms.format(4.0 * list.median),
                    inv.median / list.median
                ),
            ),
            _ => not_measured("warm invoke p50 <= 4 x ListFunctions p50"),
        });
        for (id, what) in [
            ("cold_update_delta", "after a deploy"),
            ("cold_reap_delta", "after reaping"),
        ] {
            let name = format!("cold start ({what}) p50 < 100 ms above the warm p50");
            out.push(match self.get(id) {
                Some(d) => verdict(&name, d.median < 100.0, format!("+{}", ms(d))),
                None => not_measured(&name),
            });
        }
        out.push(match self.get("standalone") {
            Some(m) => verdict("standalone p50 < 0.5 ms", m.median < 0.5, ms(m)),
            None => not_measured("standalone p50 < 0.5 ms"),
        });
        let pipeline_name = "500-image pipeline under 20 s (none missing)";
        out.push(
            match (self.get("pipeline_secs"), self.get("pipeline_missing")) {
                (Some(s), Some(_)) if s.n < 500 => TargetLine {
                    target: pipeline_name.to_owned(),
                    verdict: Verdict::NotMeasured,
                    measured: format!("only {} prompts were sent (--quick)", s.n),
                },
                (Some(s), Some(missing)) => verdict(
                    pipeline_name,
                    s.median < 20.0 && missing.median == 0.0,
                    format!(
                        "{} images in {}, {} missing",
                        s.n,
                        ms(s),
                        missing.median as u64
                    ),
                ),
                _ => not_measured(pipeline_name),
            },
        );
        out.push(match self.get("lsk_up") {
            Some(m) => verdict("`lsk up` warm under 8 s", m.median < 8.0, ms(m)),
            None => not_measured("`lsk up` warm under 8 s"),
        });
        for (name, sam, toml) in [
            (
                "SAM path: `lsk up` within 1.5x of lsk.toml's",
                "sam_lsk_up",
                "lsk_up",
            ),
            (
                "SAM path: no-change `lsk deploy` within 1.5x of lsk.toml's",
                "sam_lsk_deploy_noop",
                "lsk_deploy_noop",
            ),
        ] {
            out.push(match (self.get(sam), self.get(toml)) {
                (Some(s), Some(t)) if t.median > 0.0 => {
                    let ratio = s.median / t.median;
                    verdict(
                        name,
                        ratio <= 1.5,
                        format!("{} vs {} ({ratio:.2}x)", ms(s), ms(t)),
                    )
                }
                _ => not_measured(name),
            });
        }
        let watch_name = "`lsk watch`: save -> first new answer <= the build + 0.5 s";
        out.push(
            match (self.get("watch_save_to_answer"), self.get("watch_build")) {
                (Some(total), Some(build)) => verdict(
                    watch_name,
                    total.median <= build.median + 0.5,
                    format!(
                        "{} vs {} + 0.5 s (+{:.2} s over the build)",
                        ms(total),
                        ms(build),
                        total.median - build.median
                    ),
                ),
                _ => not_measured(watch_name),
            },
        );
        out.push(match self.get("rss_total") {
            Some(m) => verdict(
                "LocalStack + two warm environments under 300 MB RSS",
                m.median < 300.0,
                ms(m),
            ),
            None => not_measured("LocalStack + two warm environments under 300 MB RSS"),
        });
        let soak_name =
            "LocalStack RSS grows at most 1 MB per 1,000 warm invokes (10,000-invoke soak)";
        out.push(match (self.get("soak_growth"), self.get("soak_rss_warm")) {
            (Some(g), Some(_)) if g.n < SOAK_INVOKES => TargetLine {
                target: soak_name.to_owned(),
                verdict: Verdict::NotMeasured,
                measured: format!("only {} invokes (--quick)", g.n),
            },
            (Some(g), Some(warm)) => verdict(
                soak_name,
                g.median <= 1.0,
                format!(
                    "{:+.2} MB per 1,000 ({} after warm-up, {} after {} invokes)",
                    g.median,
                    ms(warm),
                    self.get("soak_rss_after")
                        .map_or_else(|| "-".to_owned(), &ms),
                    g.n
                ),
            ),
            _ => not_measured(soak_name),
        });
        let warm_name = "docker warm invoke p50 (API and URL) within 1.3 x native in the same run";
        out.push(
            match (
                self.get("docker_invoke_api"),
                self.get("invoke_api"),
                self.get("docker_invoke_url"),
                self.get("invoke_url"),
            ) {
                (Some(d_api), Some(n_api), Some(d_url), Some(n_url)) => {
                    let (api, url) = (d_api.median / n_api.median, d_url.median / n_url.median);
                    verdict(
                        warm_name,
                        api <= 1.3 && url <= 1.3,
                        format!(
                            "API {} vs {} ({api:.2}x), URL {} vs {} ({url:.2}x)",
                            ms(d_api),
                            ms(n_api),
                            ms(d_url),
                            ms(n_url)
                        ),
                    )
                }
                _ => not_measured(warm_name),
            },
        );
        out.push(match self.get("docker_ready") {
            Some(m) => verdict("docker container Ready under 6 s", m.median < 6.0, ms(m)),
            None => not_measured("docker container Ready under 6 s"),
        });
        let up_name = "`lsk up --backend docker` (image built) under 10 s";
        out.push(match self.get("docker_lsk_up") {
            Some(m) => verdict(up_name, m.median < 10.0, ms(m)),
            None => not_measured(up_name),
        });
        out
    }
}

fn verdict(target: &str, pass: bool, measured: String) -> TargetLine {
    TargetLine {
        target: target.to_owned(),
        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        measured,
    }
}

fn not_measured(target: &str) -> TargetLine {
    TargetLine {
        target: target.to_owned(),
        verdict: Verdict::NotMeasured,
        measured: "not measured (see the table)".into(),
    }
}

impl std::fmt::Display for TargetLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotMeasured => "NOT MEASURED",
        };
        write!(f, "{v}: {} -- {}", self.target, self.measured)
    }
}
