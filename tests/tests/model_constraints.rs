//! Walks every constraint in the service model file (`service-2.json`):
//! required members, string lengths, list sizes, patterns and the reserved
//! property keys. For each one it builds an input at the edge (accepted) and
//! one past it (refused before any IO, naming the field path and the
//! constraint). A constraint the code forgot fails this test.

use personalize_events_core::AnyInput;
use personalize_events_tests::read_shared_json;
use serde_json::{json, Map, Value};

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
        match s["type"].as_str().unwrap() {
            "structure" => {
                let mut m = Map::new();
                for (k, mem) in s["members"].as_object().unwrap() {
                    let jv = mem["jsonvalue"].as_bool().unwrap_or(false);
                    m.insert(k.clone(), self.valid(mem["shape"].as_str().unwrap(), jv));
                }
                Value::Object(m)
            }
            "list" => json!([self.valid(s["member"]["shape"].as_str().unwrap(), false)]),
            "string" if jsonvalue => json!("{\"k\":\"v\"}"),
            "string" if s.get("pattern").is_some() => json!(valid_for_pattern(name)),
            "string" => json!("x"),
            "timestamp" => json!(1795953540),
            "float" => json!(1.5),
            other => panic!("shape type {other} not handled by this test"),
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
        assert!(len >= 8);
        return format!("{{\"k\":\"{}\"}}", "é".repeat(len - 8));
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

#[derive(Debug)]
enum Kind {
    Required,
    MinLen(usize),
    MaxLen(usize),
    MinItems(usize),
    MaxItems(usize),
    Pattern,
    ReservedKey(String),
}

#[derive(Debug)]
struct Constraint {
    op: String,
    /// JSON path segments: member names and list indexes.
    path: Vec<Seg>,
    shape: String,
    jsonvalue: bool,
    kind: Kind,
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

fn collect(
    model: &Model,
    op: &str,
    shape: &str,
    path: Vec<Seg>,
    jsonvalue: bool,
    doc: &str,
    out: &mut Vec<Constraint>,
) {
    let s = model.shape(shape);
    let mut push = |kind| {
        out.push(Constraint {
            op: op.to_string(),
            path: path.clone(),
            shape: shape.to_string(),
            jsonvalue,
            kind,
        })
    };
    match s["type"].as_str().unwrap() {
        "structure" => {
            let required: Vec<&str> = s["required"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            for (k, mem) in s["members"].as_object().unwrap() {
                let mut p = path.clone();
                p.push(Seg::Key(k.clone()));
                if required.contains(&k.as_str()) {
                    out.push(Constraint {
                        op: op.to_string(),
                        path: p.clone(),
                        shape: mem["shape"].as_str().unwrap().to_string(),
                        jsonvalue: false,
                        kind: Kind::Required,
                    });
                }
                let jv = mem["jsonvalue"].as_bool().unwrap_or(false);
                let mdoc = mem["documentation"].as_str().unwrap_or("");
                collect(model, op, mem["shape"].as_str().unwrap(), p, jv, mdoc, out);
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
            collect(
                model,
                op,
                s["member"]["shape"].as_str().unwrap(),
                p,
                false,
                "",
                out,
            );
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
                let list = doc.split("can't be included as a keyword").nth(1).unwrap();
                for key in list.split("<p>").skip(1) {
                    let key = key.split("</p>").next().unwrap().trim();
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
            Seg::Key(k) => cur.get_mut(k.as_str()).unwrap(),
            Seg::Idx(i) => cur.get_mut(*i).unwrap(),
        };
    }
    cur
}

fn set_at(doc: &mut Value, path: &[Seg], v: Value) {
    *slot(doc, path) = v;
}

fn check(op: &str, doc: &Value) -> Result<(), String> {
    let body = serde_json::to_vec(doc).unwrap();
    let input = AnyInput::from_json(op, &body).map_err(|e| e.to_string())?;
    input.validate().map_err(|e| e.to_string())?;
    // What passes validation also encodes to JSON that reads back the same.
    let again = AnyInput::from_json(op, &input.encode()).unwrap();
    assert_eq!(again, input);
    Ok(())
}

#[test]
fn every_model_constraint_is_enforced_at_its_edge() {
    let raw = read_shared_json("spec/botocore/service-2.json");
    let model = Model {
        shapes: raw["shapes"].as_object().unwrap().clone(),
    };
    let mut constraints = Vec::new();
    for (name, op) in raw["operations"].as_object().unwrap() {
        let input = op["input"]["shape"].as_str().unwrap();
        collect(&model, name, input, Vec::new(), false, "", &mut constraints);
    }
    let mut counted = std::collections::BTreeMap::<&str, usize>::new();
    for c in &constraints {
        let op_input = raw["operations"][&c.op]["input"]["shape"].as_str().unwrap();
        let base = model.valid(op_input, false);
        check(&c.op, &base)
            .unwrap_or_else(|e| panic!("{}: maximal valid input refused: {e}", c.op));
        let path = path_text(&c.path);
        let (edge, past, want): (Option<Value>, Value, String) = match &c.kind {
            Kind::Required => {
                let mut d = base.clone();
                let (last, parent) = c.path.split_last().unwrap();
                let leaf = match last {
                    Seg::Key(k) => k.clone(),
                    _ => unreachable!("required members are struct members"),
                };
                slot(&mut d, parent).as_object_mut().unwrap().remove(&leaf);
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
        if let Some(edge) = edge {
            check(&c.op, &edge).unwrap_or_else(|e| {
                panic!("{} {path} {:?}: edge value refused: {e}", c.op, c.kind)
            });
        }
        let err = check(&c.op, &past)
            .err()
            .unwrap_or_else(|| panic!("{} {path} {:?}: violation accepted", c.op, c.kind));
        assert!(
            err.contains(&want),
            "{} {path} {:?}:\n got: {err}\nwant: {want}",
            c.op,
            c.kind
        );
        *counted
            .entry(match c.kind {
                Kind::Required => "required",
                Kind::MinLen(_) => "min length",
                Kind::MaxLen(_) => "max length",
                Kind::MinItems(_) => "min items",
                Kind::MaxItems(_) => "max items",
                Kind::Pattern => "pattern",
                Kind::ReservedKey(_) => "reserved key",
            })
            .or_default() += 1;
    }
    eprintln!("constraints checked: {counted:?}");
    // The model has (at the time of writing) this many constraints; fewer
    // means the walk above missed some.
    let total: usize = counted.values().sum();
    assert!(total >= 90, "only {total} constraints walked: {counted:?}");
    assert_eq!(counted.get("pattern"), Some(&4));
    assert_eq!(counted.get("reserved key"), Some(&12));
}

#[test]
fn public_invalid_vectors_are_refused_before_sending() {
    for (id, v) in personalize_events_tests::conformance_vectors("invalid") {
        let op = v["input"]["operation"].as_str().unwrap();
        let body = serde_json::to_vec(&v["input"]["params"]).unwrap();
        let err = match AnyInput::from_json(op, &body) {
            Err(e) => e.to_string(),
            Ok(input) => input.validate().expect_err(&id).to_string(),
        };
        let want = match v["expect"]["constraint"].as_str().unwrap() {
            "required" => "missing field",
            "min_items" => "below the minimum",
            "max_items" => "above the maximum",
            "max_length" => "above the maximum",
            "min_length" => "below the minimum",
            "pattern" => "does not match the pattern",
            other => panic!("{id}: constraint {other} not known to this test"),
        };
        assert!(err.contains(want), "{id}: {err}");
        // The path the service names (eventList.1.member.properties) is ours
        // with 0-based indexes (eventList[0].properties).
        let server_path = v["expect"]["server_path"].as_str().unwrap();
        let leaf = server_path.rsplit('.').next().unwrap();
        assert!(err.contains(leaf), "{id}: {err} does not name {leaf}");
    }
}
