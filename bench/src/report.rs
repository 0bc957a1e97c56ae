//! What the bench reports: a fixed list of rows (every one filled with a figure or the reason it
//! could not run), the target verdicts, the machine, as a markdown table and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::machine::Machine;
use crate::stats::{Measured, Unit};

/// Parts of the bench that can be skipped (`--skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// ListFunctions, warm invoke (API and URL) latency, ratios
    Floor,
    /// square served by `lsk-init --standalone`, no LocalStack
    Standalone,
    /// requests per second with 1 and 8 clients
    Throughput,
    /// RSS of LocalStack and of two warm environments, and LocalStack's growth over a soak of
    /// 10,000 warm invokes
    Memory,
    /// first invoke after a deploy and after the environment was reaped
    Cold,
    /// prompts through SQS to PNGs in S3
    Pipeline,
    /// `lsk up` / `lsk deploy` / `lsk down` timed as a developer runs them
    Devloop,
    /// cargo-lambda's emulator serving square (only if installed)
    Anchor,
    /// the executor's HTTP/1.1 reader, its own against h11: two LocalStacks measured in turns
    Reader,
    /// our LocalStack image in a container: image build, Ready, warm invoke beside native, cold
    /// start, memory, `lsk up --backend docker` (skipped where no Docker daemon answers)
    Docker,
}

/// Parts a run leaves out unless asked for with `--with`: comparisons that informed a decision
/// (the executor keeps its own reader) rather than figures of what users run.
pub const OPT_IN: &[Section] = &[Section::Reader];

/// Invokes of the full soak (the growth target is judged only on a full one).
pub const SOAK_INVOKES: usize = 10_000;

/// One row of the table: what it measures and how it came out.
pub struct RowSpec {
    pub id: &'static str,
    pub section: Section,
    pub label: &'static str,
    pub what: &'static str,
}

pub const ROWS: &[RowSpec] = &[
    RowSpec {
        id: "list_functions",
        section: Section::Floor,
        label: "ListFunctions (LocalStack floor)",
        what: "GET /2015-03-31/functions/ on one kept-alive TCP_NODELAY connection; time from sending the request to the last byte of the answer",
    },
    RowSpec {
        id: "invoke_api",
        section: Section::Floor,
        label: "square warm invoke, Lambda API",
        what: "POST /2015-03-31/functions/square/invocations {\"number\": 6} (RequestResponse), answer checked to be {\"result\":36}; same connection discipline",
    },
    RowSpec {
        id: "invoke_url",
        section: Section::Floor,
        label: "square warm invoke, function URL",
        what: "POST / with Host <url-id>.lambda-url.us-east-1.localhost:<port>, body {\"number\": 6}, answer checked to be {\"result\":36}",
    },
    RowSpec {
        id: "standalone",
        section: Section::Standalone,
        label: "square via lsk-init --standalone (no LocalStack)",
        what: "the same square bootstrap behind `lsk-init --standalone`, POST /2015-03-31/functions/function/invocations {\"number\": 6}",
    },
    RowSpec {
        id: "ratio_invoke",
        section: Section::Floor,
        label: "invoke API p50 / ListFunctions p50",
        what: "overhead of a warm invoke in units of LocalStack's own cheapest call",
    },
    RowSpec {
        id: "ratio_url",
        section: Section::Floor,
        label: "function URL p50 / ListFunctions p50",
        what: "the same for the function URL path",
    },
    RowSpec {
        id: "tput_invoke_1",
        section: Section::Throughput,
        label: "invokes/s, 1 client",
        what: "completed square invokes (Lambda API) per second, one kept-alive client sending back to back for a fixed time",
    },
    RowSpec {
        id: "tput_invoke_8",
        section: Section::Throughput,
        label: "invokes/s, 8 clients",
        what: "the same with 8 concurrent kept-alive clients (after a warm-up that lets LocalStack start its environments)",
    },
    RowSpec {
        id: "tput_list_1",
        section: Section::Throughput,
        label: "ListFunctions/s, 1 client",
        what: "ListFunctions per second, one client, same duration",
    },
    RowSpec {
        id: "tput_list_8",
        section: Section::Throughput,
        label: "ListFunctions/s, 8 clients",
        what: "ListFunctions per second, 8 clients, same duration",
    },
    RowSpec {
        id: "cold_first",
        section: Section::Cold,
        label: "first invoke after start + full deploy",
        what: "the very first square invoke after LocalStack started and `Stack::deploy` finished (one sample per LocalStack)",
    },
    RowSpec {
        id: "cold_update",
        section: Section::Cold,
        label: "cold: first invoke after a deploy",
        what: "UpdateFunctionConfiguration (one env var changed) + wait_until_function_updated_v2, then the first invoke, which must start a new lsk-init + bootstrap (checked from /proc)",
    },
    RowSpec {
        id: "cold_update_delta",
        section: Section::Cold,
        label: "  cold after deploy minus warm (p50)",
        what: "cold-after-deploy p50 minus the warm invoke API p50",
    },
    RowSpec {
        id: "cold_reap",
        section: Section::Cold,
        label: "cold: first invoke after the env was reaped",
        what: "second LocalStack with LAMBDA_KEEPALIVE_MS=1000: wait until square's lsk-init has exited, then time the next invoke (a new environment, checked from /proc)",
    },
    RowSpec {
        id: "cold_reap_delta",
        section: Section::Cold,
        label: "  cold after reap minus warm (p50)",
        what: "cold-after-reap p50 minus the warm invoke API p50 of the main LocalStack",
    },
    RowSpec {
        id: "reader_own_api",
        section: Section::Reader,
        label: "reader: warm invoke API, the executor's own reader",
        what: "a LocalStack with LSK_EXECUTOR_HTTP=own (the default) and one with LSK_EXECUTOR_HTTP=h11, both running, the full stack deployed in each; the floor's Invoke measured in two turns each (own, h11, own, h11), half the floor's samples per turn",
    },
    RowSpec {
        id: "reader_h11_api",
        section: Section::Reader,
        label: "reader: warm invoke API, h11",
        what: "the same samples against the LocalStack whose executor frames requests and reads answers with h11",
    },
    RowSpec {
        id: "reader_ratio_api",
        section: Section::Reader,
        label: "  reader: h11 / own warm invoke p50",
        what: "h11 p50 divided by the own reader's p50 of the same turns (above 1: h11 is slower)",
    },
    RowSpec {
        id: "reader_own_tput_8",
        section: Section::Reader,
        label: "reader: invokes/s, 8 clients, own reader",
        what: "square invokes per second from 8 kept-alive clients against the own-reader LocalStack (two turns, as above, each half the throughput duration)",
    },
    RowSpec {
        id: "reader_h11_tput_8",
        section: Section::Reader,
        label: "reader: invokes/s, 8 clients, h11",
        what: "the same against the h11 LocalStack",
    },
    RowSpec {
        id: "reader_ratio_tput_8",
        section: Section::Reader,
        label: "  reader: h11 / own invokes/s",
        what: "h11 invokes per second divided by the own reader's (below 1: h11 is slower)",
    },
    RowSpec {
        id: "pipeline_secs",
        section: Section::Pipeline,
        label: "prompts -> PNGs in S3 (SQS -> image-generator)",
        what: "seconds from the first SendMessageBatch (10 prompts each, unique per run) until every expected images/<sha256>.png is listed in lsk-images (polled every 200 ms)",
    },
    RowSpec {
        id: "pipeline_rate",
        section: Section::Pipeline,
        label: "  pipeline images/s",
        what: "images stored divided by the seconds above",
    },
    RowSpec {
        id: "pipeline_missing",
        section: Section::Pipeline,
        label: "  pipeline images missing",
        what: "expected keys not in S3 when the pipeline finished or timed out (must be 0)",
    },
    RowSpec {
        id: "lsk_up",
        section: Section::Devloop,
        label: "`lsk up` (everything built, LocalStack stopped)",
        what: "wall time of the release `lsk up --backend native` CLI as a subprocess: cargo freshness check, LocalStack start, deploy of the whole lsk.toml, endpoints printed",
    },
    RowSpec {
        id: "lsk_deploy_code",
        section: Section::Devloop,
        label: "`lsk deploy`, square code changed",
        what: "a line `std::hint::black_box(\"lsk-bench edit <nonce>\");` inserted into square's main() (in the bench's copy), then `lsk deploy`: cargo rebuild + relink, zip, UpdateFunctionCode, wait Active; the report is checked to say square's code was uploaded",
    },
    RowSpec {
        id: "lsk_deploy_noop",
        section: Section::Devloop,
        label: "`lsk deploy`, nothing changed",
        what: "`lsk deploy` right after `lsk up`: build check, zip, compare CodeSha256, no upload (report checked to be a no-op)",
    },
    RowSpec {
        id: "watch_save_to_answer",
        section: Section::Devloop,
        label: "`lsk watch`: save -> first answer from the new code",
        what: "`lsk watch square` running on a warm stack: the same line as above written into square's main(), then square invoked every 5 ms until an answer comes from a new bootstrap process (REPORT with Init Duration); wall time from the write",
    },
    RowSpec {
        id: "watch_build",
        section: Section::Devloop,
        label: "  the same incremental build alone",
        what: "the cargo build `lsk watch` ran for that save (the whole function set, as `lsk deploy` builds it), as it reported it",
    },
    RowSpec {
        id: "lsk_down",
        section: Section::Devloop,
        label: "`lsk down`",
        what: "wall time of `lsk down`: LocalStack and every environment stopped",
    },
    RowSpec {
        id: "rss_localstack",
        section: Section::Memory,
        label: "RSS LocalStack",
        what: "VmRSS of the LocalStack Python process (plus any helper it started that is not an execution environment)",
    },
    RowSpec {
        id: "rss_env",
        section: Section::Memory,
        label: "RSS per warm square environment",
        what: "VmRSS of one lsk-init plus its bootstrap; median over square's environments (2 made warm by concurrent invokes)",
    },
    RowSpec {
        id: "rss_total",
        section: Section::Memory,
        label: "RSS LocalStack + 2 warm environments",
        what: "LocalStack's RSS plus two square environments' RSS",
    },
    RowSpec {
        id: "soak_rss_warm",
        section: Section::Memory,
        label: "soak: RSS LocalStack after warm-up",
        what: "LocalStack's RSS (as above) after a warm-up of square invokes (Lambda API) from as many clients as there are warm environments, 0.5 s after the last answer",
    },
    RowSpec {
        id: "soak_rss_after",
        section: Section::Memory,
        label: "soak: RSS LocalStack after 10,000 more invokes",
        what: "the same after 10,000 more warm invokes, every answer checked",
    },
    RowSpec {
        id: "soak_growth",
        section: Section::Memory,
        label: "  soak: LocalStack RSS growth per 1,000 invokes",
        what: "(RSS after - RSS after warm-up) / invokes x 1,000: what LocalStack keeps per invocation",
    },
    RowSpec {
        id: "anchor_cargo_lambda",
        section: Section::Anchor,
        label: "square via cargo lambda watch (anchor)",
        what: "cargo-lambda's emulator serving square: POST /2015-03-31/functions/square/invocations, warm",
    },
    RowSpec {
        id: "docker_image_cold",
        section: Section::Docker,
        label: "docker: image build, cold (base present)",
        what: "wall time of lsk::backend::image::ensure building our image (uv pip install --target of the lock, prepare-site.py in a container of the base, docker export | docker import) on a base alias made for this run, so no layer is in docker's cache while the base's are",
    },
    RowSpec {
        id: "docker_image_cached",
        section: Section::Docker,
        label: "docker: image build, cached (ensure finds it)",
        what: "image::ensure again with the same inputs: hashes them and finds the tag (no build)",
    },
    RowSpec {
        id: "docker_ready",
        section: Section::Docker,
        label: "docker: container start to Ready",
        what: "from the container's creation (docker inspect .Created) until LocalStack::start(Docker) returned with /_localstack/health answering; one sample per container started, image built",
    },
    RowSpec {
        id: "docker_list_functions",
        section: Section::Docker,
        label: "docker: ListFunctions",
        what: "the floor's ListFunctions against our container, through its published port 127.0.0.1:<port>",
    },
    RowSpec {
        id: "docker_invoke_api",
        section: Section::Docker,
        label: "docker: square warm invoke, Lambda API",
        what: "the floor's Invoke against our container (published port), same samples and checks as the native row",
    },
    RowSpec {
        id: "docker_invoke_url",
        section: Section::Docker,
        label: "docker: square warm invoke, function URL",
        what: "the floor's function URL request against our container (published port)",
    },
    RowSpec {
        id: "docker_ratio_api",
        section: Section::Docker,
        label: "  docker / native warm invoke API p50",
        what: "docker warm invoke (API) p50 divided by the native one of the same run",
    },
    RowSpec {
        id: "docker_ratio_url",
        section: Section::Docker,
        label: "  docker / native function URL p50",
        what: "docker function URL p50 divided by the native one of the same run",
    },
    RowSpec {
        id: "docker_invoke_direct",
        section: Section::Docker,
        label: "docker: warm invoke at the container's IP",
        what: "the same Invoke sent to <container IP>:4566 on the bridge network, bypassing the published port (docker-proxy): how much of the docker figure is the port publishing",
    },
    RowSpec {
        id: "docker_cold_update",
        section: Section::Docker,
        label: "docker: cold: first invoke after a deploy",
        what: "as the native row, in our container: UpdateFunctionConfiguration, wait, first invoke, which must start a new lsk-init in the container (checked from /proc: its processes are the host's)",
    },
    RowSpec {
        id: "docker_cold_update_delta",
        section: Section::Docker,
        label: "  docker cold after deploy minus docker warm (p50)",
        what: "docker cold-after-deploy p50 minus the docker warm invoke API p50",
    },
    RowSpec {
        id: "docker_rss",
        section: Section::Docker,
        label: "docker: container memory, LocalStack + 2 warm environments",
        what: "docker stats --no-stream MemUsage of our container with two warm square environments (as the native rss_total); the VmRSS sum of its processes in the notes",
    },
    RowSpec {
        id: "docker_lsk_up",
        section: Section::Docker,
        label: "`lsk up --backend docker` (image built, LocalStack stopped)",
        what: "wall time of the same `lsk` CLI with --backend docker in the developer-loop copy: build check, image check (built), docker run, Ready, deploy of the whole lsk.toml; `lsk down` after each",
    },
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Measured(Measured),
    NotRun { reason: String },
    Skipped { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: &'static str,
    pub section: Section,
    pub label: &'static str,
    pub what: &'static str,
    pub outcome: Outcome,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    NotMeasured,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetLine {
    pub target: String,
    pub verdict: Verdict,
    pub measured: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub errors: Vec<String>,
    pub leftovers: Vec<String>,
}

impl Report {
    pub fn new(skipped: &[Section]) -> Report {
        let rows = ROWS
            .iter()
            .map(|s| Row {
                id: s.id,
                section: s.section,
                label: s.label,
                what: s.what,
                outcome: if skipped.contains(&s.section) {
                    let name = section_name(s.section);
                    Outcome::Skipped {
                        reason: if OPT_IN.contains(&s.section) {
                            format!("not in the default run (--with {name})")
                        } else {
                            format!("skipped (--skip {name})")
                        },
                    }
                } else {
                    Outcome::Pending
                },
                notes: Vec::new(),
            })
            .collect();
        Report {
            rows,
            errors: Vec::new(),
            leftovers: Vec::new(),
        }
    }

    fn row_mut(&mut self, id: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.id == id)
    }

    pub fn set(&mut self, id: &str, m: Measured) {
        if let Some(r) = self.row_mut(id) {
            r.outcome = Outcome::Measured(m);
        }
    }

    pub fn note(&mut self, id: &str, note: impl Into<String>) {
        if let Some(r) = self.row_mut(id) {
            r.notes.push(note.into());
        }
    }

    /// Marks every still pending row of `section` as not run, with `why`.
    pub fn fail_section(&mut self, section: Section, why: &str) {
        self.errors
            .push(format!("{}: {why}", section_name(section)));
        for r in self.rows.iter_mut().filter(|r| r.section == section) {
            if r.outcome == Outcome::Pending {
                r.outcome = Outcome::NotRun {
                    reason: why.to_owned(),
                };
            }
        }
    }

    /// Marks every still pending row of `section` as skipped with `why` (something this machine
    /// lacks, e.g. a Docker daemon): not a failure.
    pub fn skip_section(&mut self, section: Section, why: &str) {
        for r in self.rows.iter_mut().filter(|r| r.section == section) {
            if r.outcome == Outcome::Pending {
                r.outcome = Outcome::Skipped {
                    reason: why.to_owned(),
                };
            }
        }
    }

    /// Marks one row as skipped (when it is still pending): not a failure.
    pub fn skip(&mut self, id: &str, why: &str) {
        if let Some(r) = self.row_mut(id)
            && r.outcome == Outcome::Pending
        {
            r.outcome = Outcome::Skipped {
                reason: why.to_owned(),
            };
        }
    }

    /// Marks one row as not run (when it is still pending).
    pub fn fail(&mut self, id: &str, why: &str) {
        if let Some(r) = self.row_mut(id)
            && r.outcome == Outcome::Pending
        {
            r.outcome = Outcome::NotRun {
                reason: why.to_owned(),
            };
        }
    }

    pub fn get(&self, id: &str) -> Option<&Measured> {
        self.rows
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| match &r.outcome {
                Outcome::Measured(m) => Some(m),
                _ => None,
            })
    }

    /// Rows still pending become "not run" (something stopped early).
    pub fn close(&mut self) {
        for r in &mut self.rows {
            if r.outcome == Outcome::Pending {
                r.outcome = Outcome::NotRun {
                    reason: "not reached (an earlier step failed, see errors)".into(),
                };
            }
        }
    }

    /// Whether some measurement the bench owes could not be made (the optional anchor aside).
    pub fn incomplete(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.section != Section::Anchor && matches!(r.outcome, Outcome::NotRun { .. }))
            || !self.leftovers.is_empty()
    }

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

    /// The markdown table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "| Measurement | p50 / value | p90 | p99 | n | Notes |");
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let notes = r.notes.join("; ");
            match &r.outcome {
                Outcome::Measured(m) => {
                    let f =
                        |v: Option<f64>| v.map(|v| m.unit.format(v)).unwrap_or_else(|| "-".into());
                    let _ = writeln!(
                        t,
                        "| {} | {} | {} | {} | {} | {} |",
                        r.label,
                        m.unit.format(m.median),
                        f(m.p90),
                        f(m.p99),
                        m.n,
                        escape(&notes)
                    );
                }
                Outcome::NotRun { reason } | Outcome::Skipped { reason } => {
                    let text = if notes.is_empty() {
                        reason.clone()
                    } else {
                        format!("{reason}; {notes}")
                    };
                    let _ = writeln!(
                        t,
                        "| {} | not run | - | - | 0 | {} |",
                        r.label,
                        escape(&text)
                    );
                }
                Outcome::Pending => {
                    let _ = writeln!(
                        t,
                        "| {} | pending | - | - | 0 | {} |",
                        r.label,
                        escape(&notes)
                    );
                }
            }
        }
        t
    }

    pub fn json(&self, machine: &Machine, plan: &impl Serialize) -> serde_json::Value {
        serde_json::json!({
            "machine": machine,
            "plan": plan,
            "rows": self.rows,
            "targets": self.targets(),
            "errors": self.errors,
            "leftover_processes": self.leftovers,
        })
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

pub fn section_name(s: Section) -> &'static str {
    match s {
        Section::Floor => "floor",
        Section::Standalone => "standalone",
        Section::Throughput => "throughput",
        Section::Memory => "memory",
        Section::Cold => "cold",
        Section::Pipeline => "pipeline",
        Section::Devloop => "devloop",
        Section::Anchor => "anchor",
        Section::Docker => "docker",
        Section::Reader => "reader",
    }
}

/// Keeps a note inside its table cell.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
