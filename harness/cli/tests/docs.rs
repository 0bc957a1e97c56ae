//! The docs as a reader uses them: each `make`, `lsk` and `cargo` line in the shell fences of
//! README.md, CONTRIBUTING.md and docs/*.md names targets, subcommands, flags, paths and packages
//! that exist, and each relative link leads to a file (and heading) that exists. Lines it cannot
//! judge (`curl`, `awslocal`) are skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::read_to_string;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Cargo flags that take a value: the word after them is no crate name.
const CARGO_VALUE_FLAGS: &str = "-p --package --path --git --branch --tag --rev --root --features \
    -F --bin --test --example --target --target-dir --profile --manifest-path --config -j";

/// The nearest directory above this crate with the Makefile and ARCHITECTURE.md in it.
fn repo_root() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    while !(dir.join("Makefile").is_file() && dir.join("ARCHITECTURE.md").is_file()) {
        dir = dir.parent().expect("the repository root");
    }
    dir.to_path_buf()
}

/// README.md, CONTRIBUTING.md and every docs/*.md: (text, path from the root).
fn doc_files(root: &Path) -> Vec<(String, String)> {
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
    let names = docs.map(|e| e.expect("docs/").file_name().into_string().expect("UTF-8"));
    let mut pages: Vec<String> = names.filter(|n| n.ends_with(".md")).collect();
    pages.sort();
    let pages = pages.into_iter().map(|n| format!("docs/{n}"));
    let read = |name: String| (read_to_string(root.join(&name)).expect("a page"), name);
    let front = ["README.md", "CONTRIBUTING.md"].map(String::from);
    front.into_iter().chain(pages).map(read).collect()
}

/// A command of a fenced shell block: its page, its line and what a reader would type.
struct Line(String, usize, String);

/// The commands in the ```sh, ```bash, plain and ```console (`$ ` lines) fences of a page.
fn shell_lines(file: &str, text: &str) -> Vec<Line> {
    let (mut out, mut fence, mut pending) = (Vec::new(), None::<String>, None::<(usize, String)>);
    for (i, trimmed) in text.lines().map(str::trim).enumerate() {
        if let Some(info) = trimmed.strip_prefix("```") {
            let info = info.split_whitespace().next().unwrap_or_default();
            fence = fence.is_none().then(|| info.to_owned());
            pending = None;
            continue;
        }
        let Some(info) = fence.as_deref() else {
            continue;
        };
        let shell = matches!(info, "sh" | "bash" | "shell" | "");
        let (start, command) = match (pending.take(), trimmed.strip_prefix("$ ")) {
            (Some((start, head)), _) => (start, format!("{head} {trimmed}")),
            (None, Some(command)) if shell || info == "console" => (i + 1, command.to_owned()),
            (None, None) if shell => (i + 1, trimmed.to_owned()),
            _ => continue,
        };
        match command.strip_suffix('\\') {
            Some(head) => pending = Some((start, head.trim_end().to_owned())),
            None => out.push(Line(file.to_owned(), start, command)),
        }
    }
    out
}

/// The simple commands of a line (up to its `# comment`) as words without quotes; placeholders
/// (`<its URL>`) stay words, redirections go.
fn commands(line: &str) -> Vec<Vec<String>> {
    let (mut out, mut current, mut word, mut quote) = (vec![], vec![], None::<String>, None);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let placeholder = c == '<' && chars.peek().is_some_and(|n| n.is_alphanumeric());
        match (quote, c) {
            (Some(q), _) if q == c => quote = None,
            (Some('"') | None, '\\') => word.get_or_insert_default().extend(chars.next()),
            (Some(_), _) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                word.get_or_insert_default();
                quote = Some(c);
            }
            (None, '#') if word.is_none() => break,
            (None, '<') if placeholder && chars.clone().any(|n| n == '>') => {
                let text: String = chars.by_ref().take_while(|n| *n != '>').collect();
                word.get_or_insert_default().push_str(&format!("<{text}>"));
            }
            (None, ' ' | '\t' | ';' | '|' | '&' | '<' | '>') => {
                let redirect = matches!(c, '<' | '>');
                let fd = |w: &String| redirect && w.chars().all(|d| d.is_ascii_digit());
                current.extend(word.take().filter(|w| !fd(w)));
                if matches!(c, ';' | '|' | '&') {
                    out.push(std::mem::take(&mut current));
                }
                while redirect && chars.next_if(|n| matches!(n, '>' | '&' | ' ')).is_some() {}
                while redirect && chars.next_if(|n| !matches!(n, ' ' | ';' | '|')).is_some() {}
            }
            (None, _) => word.get_or_insert_default().push(c),
        }
    }
    current.extend(word);
    out.push(current);
    out.into_iter().filter(|c| !c.is_empty()).collect()
}

/// The targets a Makefile defines (`name: ...` outside recipes, not `name := value`).
fn make_targets(makefile: &str) -> BTreeSet<String> {
    let odd = |c: char| !c.is_alphanumeric() && !"_-./%".contains(c);
    let plain = |name: &str| !name.is_empty() && !name.contains(odd);
    let lines = makefile.lines().filter(|l| !l.starts_with(['\t', '#']));
    let pairs = lines.filter_map(|l| l.split_once(':'));
    let targets = pairs.filter(|(name, rest)| plain(name) && !rest.starts_with('='));
    targets.map(|(name, _)| name.to_owned()).collect()
}

/// The root Cargo.toml's `members`, by the first `name = "..."` in their Cargo.toml: name -> dir.
fn packages(root: &Path) -> BTreeMap<String, PathBuf> {
    let text = read_to_string(root.join("Cargo.toml")).expect("the root Cargo.toml");
    let (mut packages, mut in_members) = (BTreeMap::new(), false);
    for line in text.lines().map(str::trim) {
        in_members |= line.starts_with("members");
        for member in line.split('"').skip(1).step_by(2).filter(|_| in_members) {
            let dir = root.join(member);
            let toml = read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
            let name = toml.lines().find_map(|l| l.strip_prefix("name = \""));
            if let Some(name) = name.and_then(|n| n.split('"').next()) {
                packages.insert(name.to_owned(), dir);
            }
        }
        in_members &= !line.contains(']');
    }
    packages
}

/// The long flags a `--help` text lists, each with whether it takes a value.
fn help_flags(help: &str) -> BTreeMap<String, bool> {
    let mut flags = BTreeMap::new();
    for line in help.lines().map(str::trim_start) {
        let spec = line.split("  ").next().unwrap_or(line);
        let words: Vec<&str> = spec.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            if line.starts_with('-') && word.starts_with("--") {
                let name = word.trim_end_matches(',').split('=').next().unwrap_or(word);
                let next = words.get(i + 1).is_some_and(|v| v.starts_with(['<', '[']));
                flags.insert(name.to_owned(), next || word.contains('='));
            }
        }
    }
    flags
}

/// The lines of a page outside its fenced blocks, numbered from 1.
fn prose(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fenced = false;
    text.lines().enumerate().filter_map(move |(i, line)| {
        let fence = line.trim_start().starts_with("```");
        fenced ^= fence;
        (!fenced && !fence).then_some((i + 1, line))
    })
}

/// The relative link targets `[text](target)` of a page outside code, with their lines.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(text) {
        let outside_code = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = outside_code.as_str();
        while let Some((_, after)) = rest.split_once("](")
            && let Some((inside, _)) = after.split_once(')')
        {
            let target = inside.split_whitespace().next().unwrap_or_default();
            if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
                out.push((n, target.to_owned()));
            }
            rest = &after[inside.len()..];
        }
    }
    out
}

/// The anchors GitHub gives a page's headings: `## A b: C` is `#a-b-c`, its repeats `#a-b-c-1`...
fn heading_slugs(text: &str) -> BTreeSet<String> {
    let (mut slugs, mut repeats) = (BTreeSet::new(), HashMap::<String, usize>::new());
    for (_, line) in prose(text) {
        let title = line.trim_start_matches('#');
        if title.len() == line.len() || !title.starts_with(' ') {
            continue;
        }
        let kept = |c: &char| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_');
        let slug: String = title.trim().to_lowercase().chars().filter(kept).collect();
        let slug = slug.replace(' ', "-");
        let n = repeats.entry(slug.clone()).or_insert(0);
        slugs.insert(if *n == 0 { slug } else { format!("{slug}-{n}") });
        *n += 1;
    }
    slugs
}

#[derive(Default)]
struct Checker {
    root: PathBuf,
    targets: BTreeSet<String>,
    packages: BTreeMap<String, PathBuf>,
    help: HashMap<String, (bool, String)>,
    failures: Vec<String>,
}

impl Checker {
    fn new(root: &Path) -> Checker {
        let makefile = read_to_string(root.join("Makefile")).expect("the Makefile");
        let (targets, packages) = (make_targets(&makefile), packages(root));
        Checker {
            root: root.to_path_buf(),
            targets,
            packages,
            ..Checker::default()
        }
    }

    fn fail(&mut self, at: &Line, seen: impl std::fmt::Display) {
        let Line(file, line, text) = at;
        let failure = format!("{file}:{line}: {text}\n    a reader sees: {seen}");
        self.failures.push(failure);
    }

    /// `lsk [SUBCOMMAND] --help`, run once each: whether it worked, and what it printed.
    fn help(&mut self, subcommand: Option<&str>) -> (bool, String) {
        let run = || {
            let mut lsk = Command::new(env!("CARGO_BIN_EXE_lsk"));
            let out = lsk
                .args(subcommand.into_iter().flat_map(|s| s.split(' ')))
                .arg("--help")
                .output()
                .expect("lsk runs");
            let text = [out.stdout, out.stderr].concat();
            (
                out.status.success(),
                String::from_utf8_lossy(&text).into_owned(),
            )
        };
        let key = subcommand.unwrap_or_default().to_owned();
        self.help.entry(key).or_insert_with(run).clone()
    }

    /// One line (or a `$(...)` in it): its `make`, `lsk` and `cargo` commands.
    fn check_line(&mut self, at: &Line, text: &str) {
        let assignment = |w: &&str| {
            let name = w.split_once('=').map_or("", |(name, _)| name);
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        for words in commands(text) {
            for word in &words {
                if let Some(inner) = word.strip_prefix("$(").and_then(|w| w.strip_suffix(')')) {
                    self.check_line(at, inner);
                }
            }
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let words: Vec<&str> = words.into_iter().skip_while(assignment).collect();
            match words.split_first() {
                Some((&"make", args)) => self.make(at, args),
                Some((&"lsk", args)) => self.lsk(at, args),
                Some((&"cargo", [subcommand, rest @ ..])) => self.cargo(at, subcommand, rest),
                _ => {}
            }
        }
    }

    fn make(&mut self, at: &Line, args: &[&str]) {
        for target in args.iter().filter(|a| !a.starts_with('-')) {
            if !target.contains('=') && !self.targets.contains(*target) {
                let seen = format!("make: *** No rule to make target '{target}'.  Stop.");
                self.fail(at, seen);
            }
        }
    }

    fn lsk(&mut self, at: &Line, args: &[&str]) {
        let global = help_flags(&self.help(None).1);
        let mut i = 0;
        while let Some(arg) = args.get(i).filter(|a| a.starts_with(['-', '<'])) {
            let name = arg.split('=').next().unwrap_or(arg);
            if arg.starts_with("--") && !global.contains_key(name) {
                return self.fail(at, format!("error: unexpected argument '{name}' found"));
            }
            let takes_value = global.get(name).is_some_and(|v| *v) && !arg.contains('=');
            i += if takes_value { 2 } else { 1 };
        }
        let Some(&subcommand) = args.get(i) else {
            return;
        };
        let (exists, mut help) = self.help(Some(subcommand));
        if !exists {
            return self.fail(at, help.lines().next().unwrap_or_default());
        }
        // A command with commands of its own (`lsk export sam`): the flags are the inner one's.
        if let Some(&inner) = args.get(i + 1).filter(|a| !a.starts_with('-'))
            && help.contains("\nCommands:\n")
        {
            let nested = format!("{subcommand} {inner}");
            let (exists, inner_help) = self.help(Some(&nested));
            if !exists {
                return self.fail(at, inner_help.lines().next().unwrap_or_default());
            }
            help = inner_help;
            i += 1;
        }
        let known = help_flags(&help);
        for arg in args[i + 1..].iter().take_while(|a| **a != "--") {
            let name = arg.split('=').next().unwrap_or(arg);
            if name.starts_with("--") && !known.contains_key(name) {
                self.fail(at, format!("error: unexpected argument '{name}' found"));
            }
        }
    }

    fn cargo(&mut self, at: &Line, subcommand: &str, rest: &[&str]) {
        let end = rest.iter().position(|a| *a == "--").unwrap_or(rest.len());
        let (mut packages, mut crates, mut git) = (Vec::new(), Vec::new(), false);
        let mut it = rest[..end].iter().copied().peekable();
        while let Some(word) = it.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((flag, value)) if flag.starts_with('-') => (flag, Some(value)),
                _ => (word, None),
            };
            let valued = CARGO_VALUE_FLAGS.split_whitespace().any(|f| f == flag);
            let value = inline.or_else(|| it.next_if(|_| valued)).unwrap_or("");
            let judged = !value.contains('<') && !value.starts_with(['~', '/', '$']);
            match flag {
                _ if !flag.starts_with('-') => crates.push(flag),
                "-p" | "--package" => packages.push(value),
                "--git" => git = true,
                "--path" if judged && !self.root.join(value).join("Cargo.toml").is_file() => {
                    self.fail(at, format!("error: failed to read `{value}/Cargo.toml`"));
                }
                _ => {}
            }
        }
        if subcommand == "install" && git {
            packages.extend(crates);
        }
        let mut dirs = Vec::new();
        for package in packages.into_iter().filter(|p| !p.contains('<')) {
            match self.packages.get(package) {
                Some(dir) => dirs.push(dir.clone()),
                None => {
                    let seen = format!("error: package ID specification `{package}` did not match");
                    self.fail(at, format!("{seen} any packages"));
                }
            }
        }
        let ([dir], "run") = (dirs.as_slice(), subcommand) else {
            return;
        };
        let manifest = read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let bins: Vec<&str> = manifest.split("[[bin]]").skip(1).collect();
        if bins.is_empty() && !dir.join("src/main.rs").is_file() {
            self.fail(at, "error: a bin target must be available for `cargo run`");
        } else if bins.iter().any(|b| b.contains("name = \"lsk\"")) && end < rest.len() {
            self.lsk(at, &rest[end + 1..]);
        }
    }

    fn check_link(&mut self, file: &str, line: usize, target: &str) {
        let at = Line(file.to_owned(), line, format!("]({target})"));
        let (path, anchor) = target.split_once('#').unzip();
        let path = path.unwrap_or(target);
        let page = self.root.join(file);
        let resolved = match path {
            "" => page,
            _ => page.parent().expect("a page's directory").join(path),
        };
        if !resolved.exists() {
            self.fail(&at, format!("a link to {path}, which does not exist"));
        } else if let Some(anchor) = anchor
            && (path.is_empty() || path.ends_with(".md"))
            && !heading_slugs(&read_to_string(&resolved).unwrap_or_default()).contains(anchor)
        {
            let page = if path.is_empty() { file } else { path };
            self.fail(&at, format!("{page}, at its top: no heading #{anchor}"));
        }
    }
}

#[test]
fn the_docs_commands_and_links_work_as_a_reader_types_and_follows_them() {
    let root = repo_root();
    let mut checker = Checker::new(&root);
    for (text, file) in doc_files(&root) {
        for line in shell_lines(&file, &text) {
            checker.check_line(&line, &line.2);
        }
        for (line, target) in links(&text) {
            checker.check_link(&file, line, &target);
        }
    }
    let (n, list) = (checker.failures.len(), checker.failures.join("\n\n"));
    assert!(n == 0, "{n} failure(s) in the docs:\n\n{list}\n");
}

#[test]
fn the_parsers_read_lines_as_a_shell_and_github_would() {
    let line = r#"cargo install --git <its URL> lsk-cli && eval "$(lsk env)" 2>&1 | tee x # y"#;
    let cargo = vec!["cargo", "install", "--git", "<its URL>", "lsk-cli"];
    let expected = [cargo, vec!["eval", "$(lsk env)"], vec!["tee", "x"]];
    assert_eq!(commands(line), expected);
    let page = "```console\n$ lsk up \\\n  --json\n{}\n```\n# A `x`: B\n## A `x`: B\n";
    let Line(_, n, text) = &shell_lines("x.md", page)[0];
    assert_eq!((*n, text.as_str()), (2, "lsk up --json"));
    assert!(heading_slugs(page).contains("a-x-b-1"));
}
