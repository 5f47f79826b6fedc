//! Fault injection: what can go wrong on purpose, when, and how it is
//! chosen (a script for the first requests, then a seeded failure rate).

use std::fmt;
use std::str::FromStr;

/// A fault the emulator can inject instead of (or after) answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultKind {
    /// HTTP 500 `InternalFailure`.
    InternalError,
    /// HTTP 503 `ServiceUnavailable`.
    ServiceUnavailable,
    /// HTTP 429 `ThrottlingException` with the message `Rate exceeded`.
    Throttling,
    /// The socket is closed without an answer (with a TCP reset).
    Reset,
    /// The request is held for the configured stall time, then answered
    /// normally. In [`Phase::Before`], a client that closes the connection
    /// during the stall cancels the request: nothing is kept. In
    /// [`Phase::After`] the records are already kept when the stall starts.
    Stall,
    /// A 200 response whose `Content-Length` is larger than the body bytes
    /// sent before the socket is closed.
    Truncate,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FaultKind; 6] = [
        FaultKind::InternalError,
        FaultKind::ServiceUnavailable,
        FaultKind::Throttling,
        FaultKind::Reset,
        FaultKind::Stall,
        FaultKind::Truncate,
    ];

    /// The kinds a failure rate draws from by default: all but
    /// [`Stall`](FaultKind::Stall), which would slow every test down.
    pub const DEFAULT_RANDOM: [FaultKind; 5] = [
        FaultKind::InternalError,
        FaultKind::ServiceUnavailable,
        FaultKind::Throttling,
        FaultKind::Reset,
        FaultKind::Truncate,
    ];

    /// The short name used in scripts, flags and statistics: `500`, `503`,
    /// `429`, `reset`, `stall` or `truncate`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InternalError => "500",
            FaultKind::ServiceUnavailable => "503",
            FaultKind::Throttling => "429",
            FaultKind::Reset => "reset",
            FaultKind::Stall => "stall",
            FaultKind::Truncate => "truncate",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "500" | "internal" | "internalerror" => FaultKind::InternalError,
            "503" | "unavailable" | "serviceunavailable" => FaultKind::ServiceUnavailable,
            "429" | "throttle" | "throttling" => FaultKind::Throttling,
            "reset" => FaultKind::Reset,
            "stall" => FaultKind::Stall,
            "truncate" | "truncated" => FaultKind::Truncate,
            other => {
                return Err(format!(
                    "unknown fault `{}` (expected 500, 503, 429, reset, stall or truncate)",
                    other.chars().take(32).collect::<String>()
                ))
            }
        })
    }
}

/// When a fault strikes relative to keeping the request's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Phase {
    /// Before the request is verified and its records kept: nothing is kept
    /// (a stall then goes on to handle the request normally).
    #[default]
    Before,
    /// After the request was handled (records kept when it was valid): the
    /// fault replaces the answer, so a retry by the client is a duplicate.
    After,
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "before" => Ok(Phase::Before),
            "after" => Ok(Phase::After),
            other => Err(format!(
                "unknown fault phase `{}` (expected before or after)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Before => "before",
            Phase::After => "after",
        })
    }
}

/// One step of a fault script: what happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScriptStep {
    /// The fault, or `None` to handle the request normally (`ok`).
    pub fault: Option<FaultKind>,
    /// The phase; `None` uses the server's default phase.
    pub phase: Option<Phase>,
}

impl ScriptStep {
    /// A step that handles the request normally.
    pub const OK: ScriptStep = ScriptStep {
        fault: None,
        phase: None,
    };

    /// A step injecting `kind` in the default phase.
    pub fn fault(kind: FaultKind) -> Self {
        ScriptStep {
            fault: Some(kind),
            phase: None,
        }
    }

    /// This step in the given phase.
    pub fn at(mut self, phase: Phase) -> Self {
        self.phase = Some(phase);
        self
    }
}

impl From<FaultKind> for ScriptStep {
    fn from(kind: FaultKind) -> Self {
        ScriptStep::fault(kind)
    }
}

/// Parses a fault script: comma-separated steps, each `ok` or a fault name
/// (`500`, `503`, `429`, `reset`, `stall`, `truncate`), optionally repeated
/// with `*N` and given a phase with `@before` or `@after`.
///
/// Step *i* applies to the *i*-th request the server receives (counting
/// from 1); requests after the script are left to the failure rate.
///
/// ```
/// use personalize_events_local::{parse_fault_script, FaultKind, Phase};
/// let s = parse_fault_script("ok, 503*2@after, reset").unwrap();
/// assert_eq!(s.len(), 4);
/// assert_eq!(s[0].fault, None);
/// assert_eq!(s[2].fault, Some(FaultKind::ServiceUnavailable));
/// assert_eq!(s[2].phase, Some(Phase::After));
/// assert_eq!(s[3].fault, Some(FaultKind::Reset));
/// ```
pub fn parse_fault_script(text: &str) -> Result<Vec<ScriptStep>, String> {
    let mut steps = Vec::new();
    for raw in text.split(',') {
        let item = raw.trim();
        if item.is_empty() {
            continue;
        }
        let (body, phase) = match item.rsplit_once('@') {
            Some((b, p)) => (b.trim(), Some(p.parse::<Phase>()?)),
            None => (item, None),
        };
        let (name, count) = match body.split_once('*') {
            Some((n, c)) => {
                let c: usize = c
                    .trim()
                    .parse()
                    .ok()
                    .filter(|c| (1..=100_000).contains(c))
                    .ok_or_else(|| format!("bad repeat count in `{item}` (1 to 100000)"))?;
                (n.trim(), c)
            }
            None => (body, 1),
        };
        let fault = if name.eq_ignore_ascii_case("ok") {
            None
        } else {
            Some(name.parse::<FaultKind>()?)
        };
        if steps.len() + count > 1_000_000 {
            return Err("fault script is longer than 1000000 steps".into());
        }
        steps.extend(std::iter::repeat_n(ScriptStep { fault, phase }, count));
    }
    Ok(steps)
}

/// Parses a comma-separated list of fault kinds, e.g. `500,503,reset`.
pub fn parse_fault_kinds(text: &str) -> Result<Vec<FaultKind>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// The fault plan of a server.
#[derive(Debug, Clone)]
pub(crate) struct FaultPlan {
    pub script: Vec<ScriptStep>,
    pub rate: f64,
    pub seed: u64,
    pub kinds: Vec<FaultKind>,
    pub phase: Phase,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            script: Vec::new(),
            rate: 0.0,
            seed: 0,
            kinds: FaultKind::DEFAULT_RANDOM.to_vec(),
            phase: Phase::Before,
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FaultPlan {
    /// The fault for the request numbered `seq` (from 1): a pure function
    /// of the plan and `seq`, so a run is reproducible.
    pub fn decide(&self, seq: u64) -> Option<(FaultKind, Phase)> {
        let idx = usize::try_from(seq.checked_sub(1)?).ok()?;
        if let Some(step) = self.script.get(idx) {
            return step.fault.map(|k| (k, step.phase.unwrap_or(self.phase)));
        }
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        let r = splitmix(self.seed ^ splitmix(seq));
        // 53 random bits as a float in [0, 1).
        let u = (r >> 11) as f64 / (1u64 << 53) as f64;
        if u >= self.rate {
            return None;
        }
        let pick = splitmix(r) % self.kinds.len() as u64;
        Some((self.kinds[pick as usize], self.phase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_grammar() {
        let s = parse_fault_script("ok,500, 429@after ,stall*3@before,truncated").unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[1], ScriptStep::fault(FaultKind::InternalError));
        assert_eq!(
            s[2],
            ScriptStep::fault(FaultKind::Throttling).at(Phase::After)
        );
        assert!(s[3..6]
            .iter()
            .all(|x| x.fault == Some(FaultKind::Stall) && x.phase == Some(Phase::Before)));
        assert_eq!(s[6].fault, Some(FaultKind::Truncate));
        assert!(parse_fault_script("").unwrap().is_empty());
        for bad in ["boom", "503@later", "503*0", "503*x"] {
            assert!(parse_fault_script(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for k in FaultKind::ALL {
            assert_eq!(k.name().parse::<FaultKind>().unwrap(), k);
        }
        assert_eq!(parse_fault_kinds("503, reset").unwrap().len(), 2);
    }

    #[test]
    fn script_then_seeded_rate() {
        let plan = FaultPlan {
            script: parse_fault_script("503,ok").unwrap(),
            rate: 0.5,
            seed: 7,
            phase: Phase::After,
            ..FaultPlan::default()
        };
        assert_eq!(plan.decide(0), None);
        assert_eq!(
            plan.decide(1),
            Some((FaultKind::ServiceUnavailable, Phase::After))
        );
        assert_eq!(plan.decide(2), None);
        let a: Vec<_> = (3..2003).map(|i| plan.decide(i)).collect();
        let b: Vec<_> = (3..2003).map(|i| plan.decide(i)).collect();
        assert_eq!(a, b, "deterministic");
        let hits = a.iter().filter(|x| x.is_some()).count();
        assert!((850..1150).contains(&hits), "about half: {hits}");
        for k in FaultKind::DEFAULT_RANDOM {
            assert!(a.iter().any(|x| x.map(|x| x.0) == Some(k)), "{k} drawn");
        }
        let other = FaultPlan {
            seed: 8,
            ..plan.clone()
        };
        let c: Vec<_> = (3..2003).map(|i| other.decide(i)).collect();
        assert_ne!(a, c, "the seed matters");
    }

    #[test]
    fn zero_and_full_rate() {
        let never = FaultPlan::default();
        assert!((1..100).all(|i| never.decide(i).is_none()));
        let always = FaultPlan {
            rate: 1.0,
            kinds: vec![FaultKind::Reset],
            ..FaultPlan::default()
        };
        assert!((1..100).all(|i| always.decide(i) == Some((FaultKind::Reset, Phase::Before))));
    }
}
