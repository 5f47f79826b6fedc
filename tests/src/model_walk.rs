//! Every constraint of the service model (`service-2.json`), each with an
//! input at its edge (valid) and one just past it (invalid), as JSON
//! documents of the API: for tests that send them through the clients.
//!
//! The walk follows the model: required members, string lengths (in code
//! points), list sizes, patterns, and the reserved property keys named in
//! the members' documentation. Every optional member is set in the base
//! input, so every constraint is reachable.
//!
//! ```no_run
//! let cases = personalize_events_tests::model_walk::constraint_cases();
//! assert!(cases.len() > 90);
//! ```

use serde_json::{json, Map, Value};

/// The kind of a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A required member.
    Required,
    /// A string's minimum length.
    MinLen(usize),
    /// A string's maximum length.
    MaxLen(usize),
    /// A list's minimum size.
    MinItems(usize),
    /// A list's maximum size.
    MaxItems(usize),
    /// A string pattern.
    Pattern,
    /// A key that properties must not hold.
    ReservedKey(String),
}

impl Kind {
    /// A short name for summaries.
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Required => "required",
            Kind::MinLen(_) => "min length",
            Kind::MaxLen(_) => "max length",
            Kind::MinItems(_) => "min items",
            Kind::MaxItems(_) => "max items",
            Kind::Pattern => "pattern",
            Kind::ReservedKey(_) => "reserved key",
        }
    }
}

/// One constraint with its edge and past-the-edge inputs.
#[derive(Debug, Clone)]
pub struct ConstraintCase {
    /// The operation, e.g. `PutEvents`.
    pub op: String,
    /// The member's path as errors name it, e.g. `eventList[0].itemId`.
    pub path: String,
    /// The constraint.
    pub kind: Kind,
    /// A valid input with the member at the edge (`None` when there is no
    /// edge value: required members, patterns).
    pub edge: Option<Value>,
    /// An input with the member just past the edge.
    pub past: Value,
    /// Text the refusal must contain (the path and the constraint).
    pub want: String,
}

struct Model {
    shapes: Map<String, Value>,
}

impl Model {
    fn shape(&self, name: &str) -> &Value {
        &self.shapes[name]
    }

    /// A valid value for a shape, with every optional member set.
    fn valid(&self, name: &str, jsonvalue: bool) -> Value {
        let s = self.shape(name);
        match s["type"].as_str().unwrap_or_default() {
            "structure" => {
                let mut m = Map::new();
                for (k, mem) in s["members"].as_object().into_iter().flatten() {
                    let jv = mem["jsonvalue"].as_bool().unwrap_or(false);
                    m.insert(
                        k.clone(),
                        self.valid(mem["shape"].as_str().unwrap_or_default(), jv),
                    );
                }
                Value::Object(m)
            }
            "list" => json!([self.valid(s["member"]["shape"].as_str().unwrap_or_default(), false)]),
            "string" if jsonvalue => json!("{\"k\":\"v\"}"),
            "string" if s.get("pattern").is_some() => json!(valid_for_pattern(name)),
            "string" => json!("x"),
            "timestamp" => json!(1795953540),
            "float" => json!(1.5),
            other => panic!("shape type {other} not handled by the model walk"),
        }
    }
}

fn valid_for_pattern(shape: &str) -> &'static str {
    match shape {
        "Arn" => "arn:aws:personalize:us-east-1:123456789012:dataset/demo/ITEMS",
        "EventAttributionSource" => "partner-feed",
        other => panic!("pattern of {other} has no valid sample here: add one"),
    }
}

/// A string of exactly `len` code points for the shape (a JSON object for
/// `jsonvalue` members, a matching ARN for patterned strings).
fn string_of_len(shape: &str, jsonvalue: bool, len: usize) -> String {
    if jsonvalue {
        // {"k":"…"} has 8 characters around the value.
        return format!("{{\"k\":\"{}\"}}", "é".repeat(len.saturating_sub(8)));
    }
    match shape {
        "Arn" => {
            let base = "arn:aws:personalize:us-east-1:1:d/";
            format!(
                "{base}{}",
                "a".repeat(len.saturating_sub(base.len()).max(1))
            )
        }
        "EventAttributionSource" => "a".repeat(len),
        // Multi-byte characters: limits count code points, not bytes.
        _ => "ü".repeat(len),
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn path_text(p: &[Seg]) -> String {
    let mut s = String::new();
    for seg in p {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k)
            }
            Seg::Idx(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

struct Found {
    op: String,
    path: Vec<Seg>,
    shape: String,
    jsonvalue: bool,
    kind: Kind,
}

fn collect(
    model: &Model,
    op: &str,
    shape: &str,
    path: Vec<Seg>,
    jsonvalue: bool,
    doc: &str,
    out: &mut Vec<Found>,
) {
    let s = model.shape(shape);
    let mut push = |kind| {
        out.push(Found {
            op: op.to_string(),
            path: path.clone(),
            shape: shape.to_string(),
            jsonvalue,
            kind,
        })
    };
    match s["type"].as_str().unwrap_or_default() {
        "structure" => {
            let required: Vec<&str> = s["required"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            for (k, mem) in s["members"].as_object().into_iter().flatten() {
                let mut p = path.clone();
                p.push(Seg::Key(k.clone()));
                let mshape = mem["shape"].as_str().unwrap_or_default();
                if required.contains(&k.as_str()) {
                    out.push(Found {
                        op: op.to_string(),
                        path: p.clone(),
                        shape: mshape.to_string(),
                        jsonvalue: false,
                        kind: Kind::Required,
                    });
                }
                let jv = mem["jsonvalue"].as_bool().unwrap_or(false);
                let mdoc = mem["documentation"].as_str().unwrap_or("");
                collect(model, op, mshape, p, jv, mdoc, out);
            }
        }
        "list" => {
            if let Some(n) = s["min"].as_u64() {
                push(Kind::MinItems(n as usize));
            }
            if let Some(n) = s["max"].as_u64() {
                push(Kind::MaxItems(n as usize));
            }
            let mut p = path.clone();
            p.push(Seg::Idx(0));
            let member = s["member"]["shape"].as_str().unwrap_or_default();
            collect(model, op, member, p, false, "", out);
        }
        "string" => {
            if let Some(n) = s["min"].as_u64() {
                push(Kind::MinLen(n as usize));
            }
            if let Some(n) = s["max"].as_u64() {
                push(Kind::MaxLen(n as usize));
            }
            if s.get("pattern").is_some() {
                push(Kind::Pattern);
            }
            // "The following can't be included as a keyword for properties
            // (case insensitive)": the reserved keys, listed in the docs.
            if jsonvalue && doc.contains("can't be included as a keyword") {
                let list = doc
                    .split("can't be included as a keyword")
                    .nth(1)
                    .unwrap_or("");
                for key in list.split("<p>").skip(1) {
                    let key = key.split("</p>").next().unwrap_or("").trim();
                    if !key.is_empty() {
                        push(Kind::ReservedKey(key.to_string()));
                    }
                }
            }
        }
        _ => {}
    }
}

fn slot<'a>(doc: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    let mut cur = doc;
    for seg in path {
        cur = match seg {
            Seg::Key(k) => &mut cur[k.as_str()],
            Seg::Idx(i) => &mut cur[*i],
        };
    }
    cur
}

fn set_at(doc: &mut Value, path: &[Seg], v: Value) {
    *slot(doc, path) = v;
}

/// The base input of each operation: every member set, all valid.
pub fn maximal_inputs() -> Vec<(String, Value)> {
    let raw = crate::read_spec_json("botocore/service-2.json");
    let model = Model {
        shapes: raw["shapes"].as_object().cloned().unwrap_or_default(),
    };
    raw["operations"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, op)| {
            let input = op["input"]["shape"].as_str().unwrap_or_default();
            (name.clone(), model.valid(input, false))
        })
        .collect()
}

/// Every constraint of every operation's input, with its edge and
/// past-the-edge inputs.
pub fn constraint_cases() -> Vec<ConstraintCase> {
    let raw = crate::read_spec_json("botocore/service-2.json");
    let model = Model {
        shapes: raw["shapes"].as_object().cloned().unwrap_or_default(),
    };
    let mut found = Vec::new();
    for (name, op) in raw["operations"].as_object().into_iter().flatten() {
        let input = op["input"]["shape"].as_str().unwrap_or_default();
        collect(&model, name, input, Vec::new(), false, "", &mut found);
    }
    let mut out = Vec::new();
    for c in found {
        let op_input = raw["operations"][&c.op]["input"]["shape"]
            .as_str()
            .unwrap_or_default();
        let base = model.valid(op_input, false);
        let path = path_text(&c.path);
        let (edge, past, want): (Option<Value>, Value, String) = match &c.kind {
            Kind::Required => {
                let mut d = base.clone();
                let Some((Seg::Key(leaf), parent)) = c.path.split_last() else {
                    continue;
                };
                if let Some(o) = slot(&mut d, parent).as_object_mut() {
                    o.remove(leaf);
                }
                (None, d, format!("missing field `{leaf}`"))
            }
            Kind::MinLen(n) | Kind::MaxLen(n) => {
                let over = matches!(c.kind, Kind::MaxLen(_));
                if !over && *n == 0 {
                    continue; // nothing below zero
                }
                let edge_len = *n;
                let past_len = if over { n + 1 } else { n - 1 };
                let mut e = base.clone();
                let mut p = base.clone();
                if !(c.jsonvalue && edge_len < 8) {
                    let s = string_of_len(&c.shape, c.jsonvalue, edge_len);
                    set_at(&mut e, &c.path, json!(s));
                }
                let s = if c.jsonvalue && past_len < 8 {
                    "{}"[..past_len.min(2)].to_string()
                } else {
                    string_of_len(&c.shape, c.jsonvalue, past_len)
                };
                set_at(&mut p, &c.path, json!(s));
                let word = if over {
                    "above the maximum"
                } else {
                    "below the minimum"
                };
                (
                    Some(e),
                    p,
                    format!("{path}: length {past_len} is {word} {n}"),
                )
            }
            Kind::MinItems(n) | Kind::MaxItems(n) => {
                let over = matches!(c.kind, Kind::MaxItems(_));
                let past_n = if over { n + 1 } else { n - 1 };
                let mk = |count: usize| {
                    let mut d = base.clone();
                    let one = slot(&mut d, &c.path)[0].clone();
                    set_at(&mut d, &c.path, Value::Array(vec![one; count]));
                    d
                };
                let word = if over {
                    "above the maximum"
                } else {
                    "below the minimum"
                };
                (
                    Some(mk(*n)),
                    mk(past_n),
                    format!("{path}: has {past_n} entries, {word} {n}"),
                )
            }
            Kind::Pattern => {
                let mut p = base.clone();
                set_at(&mut p, &c.path, json!(" \u{1} "));
                (None, p, format!("{path}: does not match the pattern"))
            }
            Kind::ReservedKey(key) => {
                let mut e = base.clone();
                set_at(&mut e, &c.path, json!(format!("{{\"{key}X\":\"1\"}}")));
                let mut p = base.clone();
                let shouted = key.to_ascii_uppercase();
                set_at(
                    &mut p,
                    &c.path,
                    json!(format!("{{\"a\":\"1\",\"{shouted}\":\"1\"}}")),
                );
                (
                    Some(e),
                    p,
                    format!("{path}: must not hold the reserved key \"{key}\""),
                )
            }
        };
        out.push(ConstraintCase {
            op: c.op,
            path,
            kind: c.kind,
            edge,
            past,
            want,
        });
    }
    out
}
