//! The failover state machine, read back from the rendered `stepfunctions.tf` as the JSON that
//! `jsonencode` hands to Step Functions, then walked and run.
//!
//! Walked: no retrier treats waiting as an error, every Lambda task catches into a page, every
//! loop counts its turns and leaves when the count reaches its bound, and no path reaches a
//! failure without a page. Run: a small interpreter of the Amazon States Language subset the
//! definition uses (Task, Choice, Wait, Pass, Parallel, Succeed, Fail; JSONPath references and
//! the `States.MathAdd`, `States.Format` and `States.JsonToString` intrinsics) executes it
//! against scripted answers of the workflow function, with a simulated clock, and counts the
//! execution's history events against the 25,000 that Step Functions allows
//! (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html). Where AWS
//! fails an execution outright (a Choice or an intrinsic reading an absent path, `States.Runtime`,
//! which no `Catch` catches), the interpreter panics, so a definition that relies on one fails
//! here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use drgen::config::Config;
use drgen::model::Topology;
use serde_json::{json, Map, Value};

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
/// The run time assumed for one invocation of the workflow function.
const INVOKE_SECONDS: u64 = 5;
/// Step Functions' hard quota of history events per Standard execution.
const HISTORY_LIMIT: u64 = 25_000;

// --- the rendered definition -------------------------------------------------------------------

fn to_json(e: &hcl::Expression) -> Value {
    match e {
        hcl::Expression::Null => Value::Null,
        hcl::Expression::Bool(b) => Value::Bool(*b),
        hcl::Expression::Number(n) => serde_json::to_value(n).unwrap(),
        hcl::Expression::String(s) => Value::String(s.clone()),
        hcl::Expression::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        hcl::Expression::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let key = match k {
                        hcl::ObjectKey::Identifier(i) => i.to_string(),
                        hcl::ObjectKey::Expression(hcl::Expression::String(s)) => s.clone(),
                        other => panic!("unexpected key {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        // References (the function's and the topic's ARNs) become their text.
        other => Value::String(other.to_string()),
    }
}

/// The definition of every rendered topology that has the state machine.
fn definitions() -> Vec<(String, Value)> {
    let mut configs = vec![("default".to_string(), Config::default())];
    let mut paths: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hcl" || e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        configs.push((p.file_stem().unwrap().to_string_lossy().into_owned(), Config::load(&p).unwrap()));
    }
    let mut found = Vec::new();
    for (name, config) in configs {
        let files = drgen::render::render(&Topology::from_config(&config, Some("prod")).unwrap());
        let Some((_, bytes)) = files.files.iter().find(|(path, _)| path.as_str() == "stepfunctions.tf")
        else {
            continue;
        };
        let body = hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
        let locals = body.blocks().find(|b| b.identifier() == "locals").expect("a locals block");
        let attr = locals.body().attributes().find(|a| a.key() == "promote_definition").unwrap();
        found.push((name, to_json(attr.expr())));
    }
    assert!(found.len() >= 2, "the default topology and the examples render the state machine");
    found
}

fn definition() -> Value {
    definitions().remove(0).1
}

// --- walking the graph ---------------------------------------------------------------------------

/// One machine: the top level or a Parallel branch.
#[derive(Clone, Copy)]
struct Machine<'a> {
    start: &'a str,
    states: &'a Map<String, Value>,
}

fn machine(v: &Value) -> Machine<'_> {
    Machine { start: v["StartAt"].as_str().unwrap(), states: v["States"].as_object().unwrap() }
}

/// Every machine in the definition, the top level first.
fn machines(def: &Value) -> Vec<Machine<'_>> {
    let mut all = vec![machine(def)];
    let mut i = 0;
    while i < all.len() {
        let m = all[i];
        for state in m.states.values() {
            for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
                all.push(machine(branch));
            }
        }
        i += 1;
    }
    all
}

fn every_state(def: &Value) -> Vec<(&str, &Value)> {
    machines(def).into_iter().flat_map(|m| m.states.iter().map(|(k, v)| (k.as_str(), v))).collect()
}

fn is_lambda(state: &Value) -> bool {
    state["Type"] == "Task" && state["Resource"] == "arn:aws:states:::lambda:invoke"
}

fn is_page(state: &Value) -> bool {
    state["Type"] == "Task" && state["Resource"] == "arn:aws:states:::sns:publish"
}

/// A Choice rule that routes on a branch's failure marker (set only after a page).
fn on_failure_marker(rule: &Value) -> bool {
    let leaf = |r: &Value| r["Variable"].as_str().is_some_and(|v| v.ends_with(".failed"));
    rule.get("Or").and_then(Value::as_array).map_or_else(|| leaf(rule), |rs| rs.iter().all(leaf))
}

/// The counter a Choice rule bounds (`NumericLessThan` or `NumericEquals` on `<counter>.n`).
fn bounded_counter(rule: &Value) -> Option<String> {
    let variable = rule["Variable"].as_str()?;
    let counter = variable.strip_suffix(".n")?;
    (rule.get("NumericLessThan").is_some() || rule.get("NumericEquals").is_some())
        .then(|| counter.to_string())
}

/// The counter a Pass state adds one to, if it does.
fn incremented_counter(state: &Value) -> Option<String> {
    let path = state["ResultPath"].as_str()?;
    let add = state.get("Parameters")?.get("n.$")?.as_str()?;
    (state["Type"] == "Pass" && add == format!("States.MathAdd({path}.n, 1)")).then(|| path.to_string())
}

/// An edge of a machine's graph, with the Choice rule that guards it, if any.
struct Edge<'a> {
    from: &'a str,
    to: &'a str,
    rule: Option<&'a Value>,
}

fn edges(m: Machine<'_>) -> Vec<Edge<'_>> {
    let mut all = Vec::new();
    for (name, state) in m.states {
        let mut add = |to: &'_ Value, rule| {
            let to = to.as_str().unwrap();
            assert!(m.states.contains_key(to), "{name} goes to the unknown state {to}");
            all.push(Edge { from: name.as_str(), to: m.states.get_key_value(to).unwrap().0.as_str(), rule });
        };
        if let Some(next) = state.get("Next") {
            add(next, None);
        }
        if let Some(next) = state.get("Default") {
            add(next, None);
        }
        for rule in state.get("Choices").and_then(Value::as_array).into_iter().flatten() {
            add(&rule["Next"], Some(rule));
        }
        for catcher in state.get("Catch").and_then(Value::as_array).into_iter().flatten() {
            add(&catcher["Next"], None);
        }
    }
    all
}

/// The states reachable from `from` over the edges `keep` admits.
fn reachable<'a>(edges: &[Edge<'a>], from: &'a str, keep: &dyn Fn(&Edge<'a>) -> bool) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([from]);
    let mut todo = vec![from];
    while let Some(at) = todo.pop() {
        for e in edges.iter().filter(|e| e.from == at && keep(e)) {
            if seen.insert(e.to) {
                todo.push(e.to);
            }
        }
    }
    seen
}

/// Whether the edges `keep` admits contain a cycle through `node`.
fn on_a_cycle<'a>(edges: &[Edge<'a>], node: &'a str, keep: &dyn Fn(&Edge<'a>) -> bool) -> bool {
    edges.iter().filter(|e| e.from == node && keep(e)).any(|e| reachable(edges, e.to, keep).contains(node))
}

#[test]
fn no_retrier_treats_waiting_as_an_error() {
    for (config, def) in definitions() {
        for (name, state) in every_state(&def) {
            for retrier in state.get("Retry").and_then(Value::as_array).into_iter().flatten() {
                let errors: Vec<&str> =
                    retrier["ErrorEquals"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
                assert!(
                    !errors.iter().any(|e| e.contains("NotReady") || *e == "States.ALL"),
                    "{config}: {name} retries {errors:?}: waiting is an answer, not an error"
                );
            }
        }
    }
}

#[test]
fn every_lambda_task_and_the_parallel_state_catch_every_error_into_a_page() {
    for (config, def) in definitions() {
        for m in machines(&def) {
            for (name, state) in m.states {
                if !(is_lambda(state) || state["Type"] == "Parallel") {
                    continue;
                }
                let catchers =
                    state["Catch"].as_array().unwrap_or_else(|| panic!("{config}: {name} has no Catch"));
                let all = catchers.iter().find(|c| c["ErrorEquals"] == json!(["States.ALL"]));
                let next = all.unwrap_or_else(|| panic!("{config}: {name} does not catch States.ALL"))
                    ["Next"]
                    .as_str()
                    .unwrap();
                assert!(is_page(&m.states[next]), "{config}: {name} catches into {next}, not a page");
                assert_eq!(all.unwrap()["ResultPath"], "$.error", "{config}: the page reads $.error");
            }
        }
    }
}

#[test]
fn every_loop_counts_its_turns_and_leaves_at_its_bound() {
    for (config, def) in definitions() {
        let mut loops = 0;
        for m in machines(&def) {
            let edges = edges(m);
            for (name, state) in m.states {
                if !on_a_cycle(&edges, name, &|_| true) {
                    continue;
                }
                loops += usize::from(incremented_counter(state).is_some());
                // The loop's states: those on a cycle with this one.
                let scc: BTreeSet<&str> = reachable(&edges, name, &|_| true)
                    .into_iter()
                    .filter(|other| reachable(&edges, other, &|_| true).contains(name.as_str()))
                    .collect();
                let counters: BTreeSet<String> =
                    scc.iter().filter_map(|s| incremented_counter(&m.states[*s])).collect();
                assert!(!counters.is_empty(), "{config}: the loop through {name} counts nothing");
                for s in &scc {
                    let resets = m.states[*s]["ResultPath"].as_str().is_some_and(|p| counters.contains(p))
                        && incremented_counter(&m.states[*s]).is_none();
                    assert!(!resets, "{config}: {s} resets a counter inside its own loop");
                }
                // Every way round passes the counting state and a rule that bounds that counter.
                let inside = |e: &Edge<'_>| scc.contains(e.from) && scc.contains(e.to);
                let uncounted = |e: &Edge<'_>| inside(e) && incremented_counter(&m.states[e.to]).is_none();
                assert!(!on_a_cycle(&edges, name, &uncounted), "{config}: a way round {name} counts nothing");
                let unguarded = |e: &Edge<'_>| {
                    inside(e) && !e.rule.and_then(bounded_counter).is_some_and(|c| counters.contains(&c))
                };
                assert!(!on_a_cycle(&edges, name, &unguarded), "{config}: a way round {name} is unbounded");
            }
        }
        // The promotion, the fence, its confirmation, and the standalone writer (with the secret);
        // with the ARC authority also the lease wait.
        let expected = if config.contains("arc-authority") { 5 } else { 4 };
        assert_eq!(loops, expected, "{config}: {loops} counted loops");
    }
}

#[test]
fn every_path_to_a_failure_passes_a_page() {
    for (config, def) in definitions() {
        for m in machines(&def) {
            let edges = edges(m);
            let failures: Vec<&str> = m
                .states
                .iter()
                .filter(|(_, s)| s["Type"] == "Fail" || s["ResultPath"] == "$.failed")
                .map(|(k, _)| k.as_str())
                .collect();
            // Without the page states (and the routing on the branches' markers, which are set
            // only after a page, as the branches' own walk shows), no failure is reachable.
            let unpaged = |e: &Edge<'_>| !is_page(&m.states[e.to]) && !e.rule.is_some_and(on_failure_marker);
            let reached = reachable(&edges, m.start, &unpaged);
            for failure in failures {
                assert!(!reached.contains(failure), "{config}: {failure} is reachable without a page");
            }
        }
    }
}

// --- running it ------------------------------------------------------------------------------

/// What the scripted workflow function answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ready,
    NotReady,
    /// An answer without `ready`.
    Malformed,
    /// The function raised this error.
    Raises(&'static str),
}

type Oracle<'a> = dyn FnMut(&str, u64) -> Answer + 'a;

#[derive(Debug, PartialEq)]
enum End {
    Succeeded,
    Failed(String),
}

struct Run<'a> {
    oracle: &'a mut Oracle<'a>,
    clock: u64,
    events: u64,
    /// (time, subject) of every page.
    pages: Vec<(u64, String)>,
    /// Every invocation: (time, step).
    calls: Vec<(u64, String)>,
}

fn get<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut at = value;
    let rest = path.strip_prefix('$').unwrap_or_else(|| panic!("not a path: {path}"));
    for part in rest.split('.').skip(1) {
        let (key, index) = match part.split_once('[') {
            Some((k, i)) => (k, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
            None => (part, None),
        };
        at = at.get(key)?;
        if let Some(i) = index {
            at = at.get(i)?;
        }
    }
    Some(at)
}

/// Applies a ResultPath: null discards the result, a path sets it (creating objects on the way).
fn put(input: &Value, result_path: Option<&Value>, result: Value) -> Value {
    match result_path {
        Some(Value::Null) => input.clone(),
        None => result,
        Some(path) => {
            let path = path.as_str().unwrap();
            if path == "$" {
                return result;
            }
            let mut out = input.clone();
            let mut at = &mut out;
            let parts: Vec<&str> = path.strip_prefix("$.").unwrap().split('.').collect();
            for part in &parts[..parts.len() - 1] {
                at = at.as_object_mut().unwrap().entry(*part).or_insert_with(|| json!({}));
            }
            at.as_object_mut().unwrap().insert(parts[parts.len() - 1].to_string(), result);
            out
        }
    }
}

/// Reads a reference path or evaluates an intrinsic; an absent path is States.Runtime.
fn evaluate(input: &Value, text: &str) -> Value {
    let (value, rest) = argument(input, text.trim());
    assert!(rest.trim().is_empty(), "trailing text in {text}");
    value
}

fn argument<'t>(input: &Value, text: &'t str) -> (Value, &'t str) {
    let text = text.trim_start();
    if let Some(body) = text.strip_prefix('\'') {
        let mut literal = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => literal.push(chars.next().unwrap().1),
                '\'' => return (Value::String(literal), &body[i + 1..]),
                c => literal.push(c),
            }
        }
        panic!("unterminated string in {text}");
    }
    if text.starts_with('$') {
        let end = text.find([',', ')']).unwrap_or(text.len());
        let path = text[..end].trim();
        let value = get(input, path).unwrap_or_else(|| panic!("States.Runtime: {path} is absent"));
        return (value.clone(), &text[end..]);
    }
    if let Some(open) = text.find('(').filter(|_| text.starts_with("States.")) {
        let name = &text[..open];
        let mut rest = &text[open + 1..];
        let mut args = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(')') {
                rest = after;
                break;
            }
            let (value, after) = argument(input, rest);
            args.push(value);
            rest = after.trim_start().strip_prefix(',').unwrap_or(after);
        }
        return (intrinsic(name, &args), rest);
    }
    let end = text.find([',', ')']).unwrap_or(text.len());
    (serde_json::from_str(text[..end].trim()).unwrap(), &text[end..])
}

fn intrinsic(name: &str, args: &[Value]) -> Value {
    match name {
        "States.MathAdd" => {
            let (a, b) = (args[0].as_i64(), args[1].as_i64());
            json!(a.expect("States.MathAdd adds integers") + b.expect("States.MathAdd adds integers"))
        }
        "States.JsonToString" => Value::String(args[0].to_string()),
        "States.Format" => {
            let mut pieces = args[0].as_str().unwrap().split("{}");
            let mut out = pieces.next().unwrap().to_string();
            for (piece, arg) in pieces.zip(&args[1..]) {
                out.push_str(&arg.as_str().map_or_else(|| arg.to_string(), str::to_string));
                out.push_str(piece);
            }
            Value::String(out)
        }
        other => panic!("the interpreter does not know {other}"),
    }
}

/// Evaluates Parameters or a ResultSelector: keys ending in `.$` are references or intrinsics.
fn template(input: &Value, t: &Value) -> Value {
    match t {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => (key.to_string(), evaluate(input, v.as_str().unwrap())),
                    None => (k.clone(), template(input, v)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn matches(rule: &Value, input: &Value) -> bool {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        return all.iter().all(|r| matches(r, input));
    }
    if let Some(any) = rule.get("Or").and_then(Value::as_array) {
        return any.iter().any(|r| matches(r, input));
    }
    if let Some(inner) = rule.get("Not") {
        return !matches(inner, input);
    }
    let variable = rule["Variable"].as_str().unwrap();
    let value = get(input, variable);
    if let Some(expected) = rule.get("IsPresent") {
        return value.is_some() == expected.as_bool().unwrap();
    }
    let value =
        value.unwrap_or_else(|| panic!("States.Runtime: the Choice reads {variable}, which is absent"));
    let number = |key: &str| rule.get(key).and_then(Value::as_f64);
    if let Some(expected) = rule.get("IsBoolean") {
        value.is_boolean() == expected.as_bool().unwrap()
    } else if let Some(expected) = rule.get("BooleanEquals") {
        value == expected
    } else if let Some(bound) = number("NumericLessThan") {
        value.as_f64().is_some_and(|v| v < bound)
    } else if let Some(bound) = number("NumericEquals") {
        value.as_f64().is_some_and(|v| (v - bound).abs() < f64::EPSILON)
    } else {
        panic!("the interpreter does not know the rule {rule}")
    }
}

fn payload(answer: Answer) -> Value {
    match answer {
        Answer::Ready => json!({"ready": true}),
        Answer::NotReady => json!({"ready": false, "waiting_for": "scripted"}),
        Answer::Malformed => json!({"unexpected": true}),
        Answer::Raises(_) => unreachable!(),
    }
}

/// The delay before retry number `attempt` (0-based) of a retrier.
fn backoff(retrier: &Value, attempt: u64) -> u64 {
    let interval = retrier["IntervalSeconds"].as_u64().unwrap();
    let rate = retrier["BackoffRate"].as_u64().unwrap();
    let cap = retrier.get("MaxDelaySeconds").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let mut delay = interval;
    for _ in 0..attempt {
        delay = delay.saturating_mul(rate).min(cap);
    }
    delay.min(cap)
}

impl Run<'_> {
    /// Runs a Lambda task; Ok(output) or Err((error name)) once the retriers give up.
    fn invoke(&mut self, state: &Value, input: &Value) -> Result<Value, &'static str> {
        let step = state["Parameters"]["Payload"]["step"].as_str().unwrap().to_string();
        let retriers = state.get("Retry").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut attempts = vec![0; retriers.len()];
        loop {
            // TaskScheduled, TaskStarted, TaskSucceeded or TaskFailed.
            self.events += 3;
            self.calls.push((self.clock, step.clone()));
            let answer = (self.oracle)(&step, self.clock);
            self.clock += INVOKE_SECONDS;
            let Answer::Raises(error) = answer else {
                let result = json!({"Payload": payload(answer), "StatusCode": 200});
                let selected = state.get("ResultSelector").map_or(result.clone(), |t| template(&result, t));
                return Ok(put(input, state.get("ResultPath"), selected));
            };
            let found = retriers.iter().position(|r| {
                r["ErrorEquals"].as_array().unwrap().iter().any(|e| e == error || e == "States.ALL")
            });
            match found {
                Some(i) if attempts[i] < retriers[i]["MaxAttempts"].as_u64().unwrap() => {
                    self.clock += backoff(&retriers[i], attempts[i]);
                    attempts[i] += 1;
                }
                _ => return Err(error),
            }
        }
    }

    fn run(&mut self, m: Machine<'_>, mut input: Value) -> (End, Value) {
        let mut at = m.start.to_string();
        loop {
            let state = &m.states[&at];
            // Every state's Entered and Exited events.
            self.events += 2;
            let next = |s: &Value| s.get("Next").and_then(Value::as_str).map(str::to_string);
            let kind = state["Type"].as_str().unwrap();
            let to = match kind {
                "Task" if is_page(state) => {
                    let parameters = template(&input, &state["Parameters"]);
                    assert!(parameters["Message"].is_string(), "a page's message is text");
                    self.pages.push((self.clock, parameters["Subject"].as_str().unwrap().to_string()));
                    self.events += 3;
                    next(state)
                }
                "Task" => match self.invoke(state, &input) {
                    Ok(output) => {
                        input = output;
                        next(state)
                    }
                    Err(error) => {
                        let catcher = state["Catch"]
                            .as_array()
                            .and_then(|cs| {
                                cs.iter().find(|c| {
                                    c["ErrorEquals"]
                                        .as_array()
                                        .unwrap()
                                        .iter()
                                        .any(|e| e == error || e == "States.ALL")
                                })
                            })
                            .unwrap_or_else(|| panic!("{at}: {error} is not caught"));
                        let caught = json!({"Error": error, "Cause": "scripted"});
                        input = put(&input, catcher.get("ResultPath"), caught);
                        next(catcher)
                    }
                },
                "Choice" => {
                    let rules = state["Choices"].as_array().unwrap();
                    let chosen =
                        rules.iter().find(|r| matches(r, &input)).map_or(&state["Default"], |r| &r["Next"]);
                    Some(chosen.as_str().expect("a Choice always has somewhere to go").to_string())
                }
                "Wait" => {
                    self.clock += state["Seconds"].as_u64().unwrap();
                    next(state)
                }
                "Pass" => {
                    let result = match state.get("Result") {
                        Some(r) => r.clone(),
                        None => state.get("Parameters").map_or(input.clone(), |t| template(&input, t)),
                    };
                    input = put(&input, state.get("ResultPath"), result);
                    next(state)
                }
                "Parallel" => {
                    self.events += 2;
                    let start = self.clock;
                    let mut finish = start;
                    let mut outputs = Vec::new();
                    for branch in state["Branches"].as_array().unwrap() {
                        self.clock = start;
                        let (end, output) = self.run(machine(branch), input.clone());
                        assert_eq!(end, End::Succeeded, "{at}: a branch fails without its marker");
                        outputs.push(output);
                        finish = finish.max(self.clock);
                    }
                    self.clock = finish;
                    input = put(&input, state.get("ResultPath"), Value::Array(outputs));
                    next(state)
                }
                "Succeed" => None,
                "Fail" => return (End::Failed(state["Error"].as_str().unwrap().to_string()), input),
                other => panic!("the interpreter does not know {other} states"),
            };
            let Some(n) = to else {
                assert!(kind == "Succeed" || state["End"] == true, "{at} neither ends nor goes on");
                return (End::Succeeded, input);
            };
            at = n;
        }
    }
}

struct Outcome {
    end: End,
    /// Seconds from the start to the end of the execution.
    seconds: u64,
    events: u64,
    pages: Vec<(u64, String)>,
    calls: Vec<(u64, String)>,
}

impl Outcome {
    fn calls_of(&self, step: &str) -> Vec<u64> {
        self.calls.iter().filter(|(_, s)| s == step).map(|(t, _)| *t).collect()
    }

    fn subjects(&self) -> Vec<&str> {
        self.pages.iter().map(|(_, s)| s.as_str()).collect()
    }
}

/// Runs the definition with the function answering as `oracle` says: (step, time) -> answer.
fn execute(def: &Value, mut oracle: impl FnMut(&str, u64) -> Answer) -> Outcome {
    let mut run = Run { oracle: &mut oracle, clock: 0, events: 2, pages: Vec::new(), calls: Vec::new() };
    let input = json!({"replica": "trading-db-replica-prod", "reason": "scripted"});
    let (end, _) = run.run(machine(def), input);
    let seconds = run.clock;
    assert!(run.events < HISTORY_LIMIT, "{} history events", run.events);
    assert!(
        seconds <= def["TimeoutSeconds"].as_u64().unwrap(),
        "{seconds} s is past the execution's timeout"
    );
    Outcome { end, seconds, events: run.events, pages: run.pages, calls: run.calls }
}

const FENCE_PAGE: &str = "drgen: old primary NOT fenced: split-brain risk";
const SECRET_PAGE: &str = "drgen: promoted replica not ready or secret not moved";
const FAILED_PAGE: &str = "drgen failover FAILED";
const SLOW_PAGE: &str = "drgen: promotion not finished after 30 minutes; still waiting";

/// Every step is ready once `after` seconds have passed for it (from its first call).
fn ready_after(after: &[(&str, u64)]) -> impl FnMut(&str, u64) -> Answer {
    let delays: BTreeMap<String, u64> = after.iter().map(|(s, d)| ((*s).to_string(), *d)).collect();
    let mut first: BTreeMap<String, u64> = BTreeMap::new();
    move |step, now| {
        let since = now - *first.entry(step.to_string()).or_insert(now);
        if since >= delays.get(step).copied().unwrap_or(0) {
            Answer::Ready
        } else {
            Answer::NotReady
        }
    }
}

#[test]
fn a_healthy_failover_waits_without_a_single_error_or_page() {
    for (config, def) in definitions() {
        // RDS takes 6 minutes to promote; connections drop 3 minutes after the fence.
        let out =
            execute(&def, ready_after(&[("await_standalone", 6 * MINUTE), ("verify_fence", 3 * MINUTE)]));
        assert_eq!(out.end, End::Succeeded, "{config}");
        assert!(out.pages.is_empty(), "{config}: {:?}", out.subjects());
        assert_eq!(out.calls_of("fence").len(), 1);
        assert_eq!(out.calls_of("announce").len(), 1);
        assert!(out.seconds < 8 * MINUTE, "{config}: {} s", out.seconds);
    }
}

#[test]
fn an_old_primary_that_never_becomes_fenceable_pages_after_more_than_a_day() {
    let def = definition();
    let out = execute(&def, |step, _| if step == "fence" { Answer::NotReady } else { Answer::Ready });
    assert_eq!(out.end, End::Failed("FailoverFailed".into()));
    assert_eq!(out.subjects(), [FENCE_PAGE]);
    let checks = out.calls_of("fence");
    let (first, last) = (checks[0], checks[checks.len() - 1]);
    assert!(last - first > 24 * HOUR, "the fence gave up after {} s", last - first);
    // Asked again at least every minute (plus the call itself).
    assert!(checks.windows(2).all(|w| w[1] - w[0] <= MINUTE + INVOKE_SECONDS));
    assert!(out.pages[0].0 >= last);
}

#[test]
fn the_fence_lands_within_a_minute_of_the_primary_regions_api_answering_again() {
    let def = definition();
    let back = 7 * HOUR + 13;
    let out =
        execute(
            &def,
            |step, now| {
                if step == "fence" && now < back {
                    Answer::Raises("AwsError")
                } else {
                    Answer::Ready
                }
            },
        );
    assert_eq!(out.end, End::Succeeded);
    assert!(out.pages.is_empty(), "{:?}", out.subjects());
    let landed = *out.calls_of("fence").last().unwrap();
    assert!(
        landed >= back && landed - back <= MINUTE + INVOKE_SECONDS,
        "fenced {} s after the API answered",
        landed - back
    );
}

#[test]
fn a_primary_region_down_for_good_pages_after_more_than_a_day() {
    let def = definition();
    let out =
        execute(&def, |step, _| if step == "fence" { Answer::Raises("AwsError") } else { Answer::Ready });
    assert_eq!(out.end, End::Failed("FailoverFailed".into()));
    assert_eq!(out.subjects(), [FENCE_PAGE]);
    let checks = out.calls_of("fence");
    assert!(checks[checks.len() - 1] - checks[0] > 24 * HOUR);
    assert!(checks.windows(2).all(|w| w[1] - w[0] <= MINUTE + INVOKE_SECONDS));
}

#[test]
fn a_slow_promotion_pages_once_at_the_promotion_bound_and_the_wait_goes_on() {
    let def = definition();
    let out = execute(&def, ready_after(&[("await_standalone", 45 * MINUTE)]));
    assert_eq!(out.end, End::Succeeded);
    assert_eq!(out.subjects(), [SLOW_PAGE]);
    let started = out.calls_of("await_standalone")[0];
    // After 30 waits of a minute (and the 30 checks' own run time).
    let paged = out.pages[0].0 - started;
    assert!(
        (30 * MINUTE..=30 * MINUTE + 31 * INVOKE_SECONDS).contains(&paged),
        "paged {paged} s into the wait"
    );
    assert_eq!(out.calls_of("promote_secret").len(), 1);
}

#[test]
fn a_promotion_that_never_finishes_pages_at_the_bound_and_gives_up_after_two_hours() {
    let def = definition();
    let out =
        execute(&def, |step, _| if step == "await_standalone" { Answer::NotReady } else { Answer::Ready });
    assert_eq!(out.end, End::Failed("FailoverFailed".into()));
    assert_eq!(out.subjects(), [SLOW_PAGE, SECRET_PAGE]);
    let checks = out.calls_of("await_standalone");
    assert!(checks[checks.len() - 1] - checks[0] >= 2 * HOUR);
    assert!(out.calls_of("promote_secret").is_empty());
}

#[test]
fn connections_that_never_drop_page_after_half_an_hour() {
    let def = definition();
    let out = execute(&def, |step, _| if step == "verify_fence" { Answer::NotReady } else { Answer::Ready });
    assert_eq!(out.end, End::Failed("FailoverFailed".into()));
    assert_eq!(out.subjects(), [FENCE_PAGE]);
    let checks = out.calls_of("verify_fence");
    assert!(checks[checks.len() - 1] - checks[0] >= 30 * MINUTE);
}

#[test]
fn a_replica_that_never_becomes_promotable_fails_the_failover_after_ten_minutes() {
    let def = definition();
    let out =
        execute(&def, |step, _| if step == "ensure_promoted" { Answer::NotReady } else { Answer::Ready });
    assert_eq!(out.end, End::Failed("FailoverFailed".into()));
    assert_eq!(out.subjects(), [FAILED_PAGE]);
    assert!(out.seconds >= 10 * MINUTE);
    assert!(out.calls_of("fence").is_empty());
}

#[test]
fn a_secret_step_that_finds_no_standalone_writer_goes_back_to_the_bounded_wait() {
    let def = definition();
    let mut secret_calls = 0;
    let out = execute(&def, move |step, _| {
        if step == "promote_secret" {
            secret_calls += 1;
            if secret_calls == 1 {
                return Answer::NotReady;
            }
        }
        Answer::Ready
    });
    assert_eq!(out.end, End::Succeeded);
    assert_eq!(out.calls_of("await_standalone").len(), 2);
    assert_eq!(out.calls_of("promote_secret").len(), 2);
    // For good: still bounded by the wait for a standalone writer, and paged (not as a slow
    // promotion: the promotion has finished).
    let out =
        execute(&def, |step, _| if step == "promote_secret" { Answer::NotReady } else { Answer::Ready });
    assert_eq!(out.end, End::Failed("FailoverFailed".into()));
    assert_eq!(out.subjects(), [SECRET_PAGE]);
    assert_eq!(out.calls_of("promote_secret").len(), 121);
}

#[test]
fn unexpected_answers_and_errors_page_instead_of_failing_silently() {
    let def = definition();
    for step in ["ensure_promoted", "fence", "verify_fence", "await_standalone", "promote_secret"] {
        for answer in [Answer::Malformed, Answer::Raises("KeyError")] {
            let out = execute(&def, |s, _| if s == step { answer } else { Answer::Ready });
            assert_eq!(out.end, End::Failed("FailoverFailed".into()), "{step} {answer:?}");
            assert_eq!(out.pages.len(), 1, "{step} {answer:?}: {:?}", out.subjects());
        }
    }
    let out = execute(&def, |s, _| if s == "announce" { Answer::Raises("AwsError") } else { Answer::Ready });
    assert_eq!(out.subjects(), [FAILED_PAGE]);
}

#[test]
fn the_longest_execution_stays_within_the_history_quota_and_the_timeout() {
    let def = definition();
    // Every step answers "ready" only at its last permitted check.
    let out = execute(
        &def,
        ready_after(&[
            ("ensure_promoted", 10 * MINUTE + 20 * INVOKE_SECONDS),
            ("fence", 24 * HOUR + MINUTE + 1441 * INVOKE_SECONDS),
            ("verify_fence", 30 * MINUTE + 30 * INVOKE_SECONDS),
            ("await_standalone", 2 * HOUR + 120 * INVOKE_SECONDS),
        ]),
    );
    assert_eq!(out.end, End::Succeeded);
    assert_eq!(out.subjects(), [SLOW_PAGE]);
    assert!(out.seconds > 25 * HOUR, "{} s", out.seconds);
    assert!(out.events > 15_000, "{} events: the count is the one the quota counts", out.events);
    // `execute` asserted: below 25,000 events and within TimeoutSeconds.
}
