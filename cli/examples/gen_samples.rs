//! Writes the sample data of `examples/`, deterministically (the same bytes
//! on every run and machine):
//!
//! * `events.jsonl`: 3000 interaction events of 150 sessions of 60 users
//!   (some sessions anonymous), over 400 items: views, clicks, add-to-carts,
//!   purchases with their price as `eventValue`, ratings, some with
//!   `properties`, `impression` lists and a `recommendationId`; `sentAt`
//!   alternates between RFC 3339 text and epoch seconds, as both are
//!   accepted. No `trackingId`: give it with `--tracking-id`.
//! * `items.csv`: 200 items with a header row, `ITEM_ID` and property
//!   columns, some fields quoted (commas, escaped quotes, a line break).
//!
//! ```text
//! cargo run -p personalize-events --example gen_samples -- examples
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const EVENTS: usize = 3000;
const SESSIONS: u64 = 150;
const USERS: u64 = 60;
const ITEMS: u64 = 400;
const CATALOGUE: u64 = 200;
/// 2026-11-01T08:00:00Z.
const START: u64 = 1_793_520_000;

const GENRES: [&str; 8] = [
    "Outdoor", "Kitchen", "Books", "Garden", "Toys", "Music", "Sports", "Travel",
];
const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
const CHANNELS: [&str; 3] = ["web", "app", "email"];

fn item(i: u64) -> String {
    format!("item-{i:04}")
}

/// RFC 3339 text of epoch seconds (UTC), for dates after 1970.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn events(rng: &mut Rng) -> String {
    // Each session belongs to a user, or to nobody (anonymous).
    let session_user: Vec<Option<u64>> = (0..SESSIONS)
        .map(|_| {
            if rng.chance(20) {
                None
            } else {
                Some(rng.below(USERS))
            }
        })
        .collect();
    let mut clock: Vec<u64> = (0..SESSIONS).map(|s| START + s * 97).collect();
    let mut out = String::new();
    for n in 0..EVENTS {
        // A few sessions are busier than others.
        let s = if rng.chance(30) {
            rng.below(12)
        } else {
            rng.below(SESSIONS)
        };
        clock[s as usize] += 5 + rng.below(240);
        let at = clock[s as usize];
        let kind = match rng.below(100) {
            0..=44 => "view",
            45..=74 => "click",
            75..=86 => "add-to-cart",
            87..=94 => "purchase",
            _ => "rating",
        };
        let mut line = format!("{{\"sessionId\":\"session-{s:03}\"");
        if let Some(u) = session_user[s as usize] {
            let _ = write!(line, ",\"userId\":\"user-{u:03}\"");
        }
        let _ = write!(line, ",\"eventType\":\"{kind}\"");
        if n % 2 == 0 {
            let _ = write!(line, ",\"sentAt\":\"{}\"", rfc3339(at));
        } else {
            let _ = write!(line, ",\"sentAt\":{at}");
        }
        let _ = write!(line, ",\"itemId\":\"{}\"", item(rng.below(ITEMS)));
        match kind {
            "purchase" => {
                let cents = 499 + rng.below(20_000);
                let _ = write!(line, ",\"eventValue\":{}.{:02}", cents / 100, cents % 100);
            }
            "rating" => {
                let _ = write!(line, ",\"eventValue\":{}", 1 + rng.below(5));
            }
            _ => {}
        }
        if rng.chance(40) {
            let _ = write!(
                line,
                ",\"properties\":{{\"device\":\"{}\",\"channel\":\"{}\"",
                rng.pick(&DEVICES),
                rng.pick(&CHANNELS)
            );
            if rng.chance(30) {
                line.push_str(",\"discount\":\"yes\"");
            }
            line.push('}');
        }
        if kind == "view" && rng.chance(35) {
            let shown = 3 + rng.below(6);
            let ids: Vec<String> = (0..shown)
                .map(|_| json_str(&item(rng.below(ITEMS))))
                .collect();
            let _ = write!(line, ",\"impression\":[{}]", ids.join(","));
            if rng.chance(60) {
                let _ = write!(
                    line,
                    ",\"recommendationId\":\"RID-{:08x}\"",
                    rng.next() as u32
                );
            }
        }
        line.push_str("}\n");
        out.push_str(&line);
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn items(rng: &mut Rng) -> String {
    const NOUNS: [&str; 10] = [
        "Lantern", "Kettle", "Atlas", "Trowel", "Kite", "Ukulele", "Racket", "Backpack", "Tent",
        "Mug",
    ];
    const ADJECTIVES: [&str; 8] = [
        "Compact", "Classic", "Folding", "Deluxe", "Travel", "Family", "Mini", "Rugged",
    ];
    let mut out = String::from(
        "ITEM_ID,TITLE,GENRES,PRICE,NUMBER_OF_RATINGS,CREATION_TIMESTAMP,DESCRIPTION\n",
    );
    for i in 0..CATALOGUE {
        let adjective = rng.pick(&ADJECTIVES);
        let noun = rng.pick(&NOUNS);
        let title = match i % 9 {
            // Commas inside a quoted field.
            0 => format!(
                "{adjective} {noun}, {} edition",
                rng.pick(&["blue", "red", "green"])
            ),
            _ => format!("{adjective} {noun}"),
        };
        let first = rng.pick(&GENRES);
        let genres = if rng.chance(40) {
            format!("{first}|{}", rng.pick(&GENRES))
        } else {
            first.to_owned()
        };
        let cents = 299 + rng.below(30_000);
        let ratings = if i % 11 == 0 {
            String::new() // an empty cell: left out of properties
        } else {
            rng.below(5000).to_string()
        };
        let created = START - 86_400 * (30 + rng.below(900));
        let description = match i % 13 {
            // Escaped quotes.
            0 => format!("The \"{noun}\" everyone asks about"),
            // A line break inside a quoted field.
            1 => format!("Sturdy {}.\nShips in 2 days", noun.to_lowercase()),
            2 => format!("Light, strong, and {}", adjective.to_lowercase()),
            _ => format!("A {} {}", adjective.to_lowercase(), noun.to_lowercase()),
        };
        let row = [
            item(i),
            title,
            genres,
            format!("{}.{:02}", cents / 100, cents % 100),
            ratings,
            created.to_string(),
            description,
        ];
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "examples".into()));
    std::fs::create_dir_all(&dir)?;
    let mut rng = Rng(0x5EED_CAFE);
    let e = events(&mut rng);
    let i = items(&mut rng);
    std::fs::File::create(dir.join("events.jsonl"))?.write_all(e.as_bytes())?;
    std::fs::File::create(dir.join("items.csv"))?.write_all(i.as_bytes())?;
    println!(
        "wrote {} ({} events) and {} ({} items)",
        dir.join("events.jsonl").display(),
        EVENTS,
        dir.join("items.csv").display(),
        CATALOGUE
    );
    Ok(())
}
