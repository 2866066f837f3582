//! Payloads as the platform builds them, and its way of signing them.
//!
//! A [`PayloadFactory`] makes `message_received` events that look like production
//! traffic: UUID-shaped ids, a growing `seq`, a full `history_tail` of 10 entries that
//! ends with the current message, and an ISO 8601 timestamp with microseconds and
//! `+00:00`. [`MessageReceived::to_json`] from the contract crate writes them as the
//! platform does: compact, fields in contract order, non-ASCII characters raw.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use webhook_contract::{
    App, HistoryEntry, Message, MessageReceived, Secret, Thread, sign, sign_escaped,
};

/// Number of entries the platform puts in a full `history_tail`.
pub const FULL_HISTORY: usize = 10;

/// Builds realistic `message_received` events for one App and one thread.
#[derive(Debug)]
pub struct PayloadFactory {
    random: SplitMix64,
    app_id: String,
    thread_id: String,
    customer_id: String,
    seq: i64,
}

impl Default for PayloadFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadFactory {
    /// Creates a factory with ids seeded from the clock, so two runs differ.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        // Only the low 64 bits vary between runs; that is all the seed needs.
        Self::with_seed(nanos as u64 ^ u64::from(std::process::id()))
    }

    /// Creates a factory whose ids depend only on `seed`, for tests.
    pub fn with_seed(seed: u64) -> Self {
        let mut random = SplitMix64(seed);
        let app_id = random.uuid();
        let thread_id = random.uuid();
        let customer_id = random.uuid();
        Self {
            random,
            app_id,
            thread_id,
            customer_id,
            seq: 1,
        }
    }

    /// Returns the App's id, sent in `X-App-Id`.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Returns the thread's id, sent in `X-Thread-Id`.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }

    /// Builds the next user message with `content`, a new message id, the next `seq`
    /// and a history of 10 entries that ends with this message.
    pub fn message(&mut self, content: &str) -> MessageReceived {
        let earlier: Vec<HistoryEntry> = (0..FULL_HISTORY - 1)
            .map(|index| {
                let role = if index % 2 == 0 { "user" } else { "assistant" };
                history_entry(role, &format!("Earlier message number {}.", index + 1))
            })
            .collect();
        self.message_after(content, &earlier)
    }

    /// Builds the next user message with `content` in a real conversation: `earlier`
    /// is the thread's previous entries, oldest first, and `history_tail` is this
    /// message preceded by as many of the latest earlier entries as fit in 10.
    pub fn message_after(&mut self, content: &str, earlier: &[HistoryEntry]) -> MessageReceived {
        self.seq += 2;
        let kept = earlier.len().min(FULL_HISTORY - 1);
        let mut history_tail = earlier[earlier.len() - kept..].to_vec();
        history_tail.push(history_entry("user", content));

        MessageReceived {
            version: "1.0".to_owned(),
            app: App {
                id: Some(self.app_id.clone()),
                name: Some("Probe Test App".to_owned()),
            },
            thread: Thread {
                id: Some(self.thread_id.clone()),
                customer_id: Some(self.customer_id.clone()),
            },
            message: Message {
                id: Some(self.random.uuid()),
                seq: Some(self.seq),
                role: Some("user".to_owned()),
                content: content.to_owned(),
                content_json: Some(Value::Object(Map::new())),
            },
            history_tail,
            timestamp: Some(iso_timestamp_micros(SystemTime::now())),
        }
    }

    /// Builds the body the platform's older sender path sends: `message` with only
    /// `content`, and no `history_tail`.
    pub fn legacy_body(&self, content: &str) -> String {
        let content = Value::String(content.to_owned());
        format!(
            r#"{{"version":"1.0","event":"message_received","app":{{"id":"{}","name":"Probe Test App"}},"thread":{{"id":"{}","customer_id":null}},"message":{{"content":{content}}},"timestamp":"{}"}}"#,
            self.app_id,
            self.thread_id,
            iso_timestamp_micros(SystemTime::now()),
        )
    }
}

/// Builds one `history_tail` entry as the platform writes it, with `content_json: {}`.
pub fn history_entry(role: &str, content: &str) -> HistoryEntry {
    HistoryEntry {
        role: Some(role.to_owned()),
        content: Some(content.to_owned()),
        content_json: Some(Value::Object(Map::new())),
    }
}

/// Adds fields the contract does not define to the top level of a compact JSON
/// object and to its `message` object, as a newer platform might.
///
/// Returns `body` unchanged when it does not end with `}`, and adds only the top-level
/// fields when it has no `"message":{`.
pub fn with_unknown_fields(body: &str) -> String {
    let Some(head) = body.strip_suffix('}') else {
        return body.to_owned();
    };
    let with_top_level = format!(r#"{head},"locale":"de-DE","delivery":{{"attempt":1}}}}"#);
    with_top_level.replacen(r#""message":{"#, r#""message":{"lang":"de","#, 1)
}

/// Signs `body` as the platform does: over its escaped form, which equals the body
/// itself when the body is ASCII.
pub fn platform_signature(secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    // The escaped form exists for UTF-8 only; the platform never sends anything else,
    // so the raw signature is only a fallback for hand-made bodies.
    sign_escaped(secret, timestamp, body).unwrap_or_else(|| sign(secret, timestamp, body))
}

/// Returns the current unix time in whole seconds, as `X-Timestamp` carries it.
pub fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Formats `time` as the platform writes the body's `timestamp`:
/// `2026-12-04T12:00:00.123456+00:00`.
pub fn iso_timestamp_micros(time: SystemTime) -> String {
    let micros = time
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros())
        .unwrap_or_default();
    let seconds = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX);
    let fraction = micros % 1_000_000;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}+00:00",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day), with
/// Howard Hinnant's `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are small and positive by construction.
    (year, month as u32, day as u32)
}

/// A small deterministic generator (SplitMix64), enough for ids that only need to
/// look like UUIDs and differ between messages.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// Returns a random version 4 UUID in its usual text form.
    fn uuid(&mut self) -> String {
        let high = self.next();
        let low = self.next();
        let version = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
        let variant = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            version >> 32,
            (version >> 16) & 0xFFFF,
            version & 0xFFFF,
            variant >> 48,
            variant & 0xFFFF_FFFF_FFFF,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use webhook_contract::{Event, parse_event};

    use super::*;

    fn at(unix_micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(unix_micros)
    }

    #[test]
    fn timestamp_has_micros_and_utc_offset() {
        assert_eq!(
            iso_timestamp_micros(at(1_796_400_000_123_456)),
            "2026-12-04T16:00:00.123456+00:00"
        );
    }

    #[test]
    fn timestamp_handles_epoch_and_leap_day() {
        assert_eq!(
            iso_timestamp_micros(at(0)),
            "1970-01-01T00:00:00.000000+00:00"
        );
        assert_eq!(
            iso_timestamp_micros(at(951_825_599_000_001)),
            "2000-02-29T11:59:59.000001+00:00"
        );
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let uuid = SplitMix64(7).uuid();
        let groups: Vec<&str> = uuid.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert!(groups[2].starts_with('4'));
        assert!(matches!(
            groups[3].chars().next(),
            Some('8' | '9' | 'a' | 'b')
        ));
    }

    #[test]
    fn message_is_compact_and_in_contract_order() {
        let mut factory = PayloadFactory::with_seed(1);
        let body = factory.message("hello").to_json();
        assert!(!body.contains("\": "), "{body}");
        assert!(!body.contains('\n'), "{body}");
        let order = [
            "\"version\"",
            "\"event\"",
            "\"app\"",
            "\"thread\"",
            "\"message\"",
            "\"history_tail\"",
            "\"timestamp\"",
        ];
        let positions: Vec<usize> = order.iter().map(|key| body.find(key).unwrap()).collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{body}");
    }

    #[test]
    fn message_has_full_history_ending_with_itself() {
        let mut factory = PayloadFactory::with_seed(2);
        let Event::MessageReceived(parsed) =
            parse_event(factory.message("hi there").to_json().as_bytes()).unwrap()
        else {
            panic!("not a message_received event");
        };
        assert_eq!(parsed.history_tail.len(), FULL_HISTORY);
        let last = parsed.history_tail.last().unwrap();
        assert_eq!(last.content.as_deref(), Some("hi there"));
        assert_eq!(parsed.message.role.as_deref(), Some("user"));
        assert!(parsed.timestamp.unwrap().ends_with("+00:00"));
    }

    #[test]
    fn seq_grows_and_ids_differ() {
        let mut factory = PayloadFactory::with_seed(3);
        let first = factory.message("a");
        let second = factory.message("b");
        assert!(second.message.seq > first.message.seq);
        assert_ne!(first.message.id, second.message.id);
    }

    #[test]
    fn non_ascii_stays_raw_in_body() {
        let mut factory = PayloadFactory::with_seed(4);
        let body = factory.message("café ☕").to_json();
        assert!(body.contains("café ☕"));
    }

    #[test]
    fn message_after_keeps_latest_nine_earlier_entries() {
        let mut factory = PayloadFactory::with_seed(6);
        let earlier: Vec<HistoryEntry> = (0..12)
            .map(|index| history_entry("user", &index.to_string()))
            .collect();
        let message = factory.message_after("now", &earlier);
        let contents: Vec<&str> = message
            .history_tail
            .iter()
            .map(|entry| entry.content.as_deref().unwrap())
            .collect();
        assert_eq!(
            contents,
            ["3", "4", "5", "6", "7", "8", "9", "10", "11", "now"]
        );
    }

    #[test]
    fn message_after_empty_thread_has_only_itself() {
        let mut factory = PayloadFactory::with_seed(7);
        let message = factory.message_after("first", &[]);
        assert_eq!(message.history_tail.len(), 1);
        assert_eq!(message.message.seq, Some(3));
    }

    #[test]
    fn legacy_body_has_only_content() {
        let factory = PayloadFactory::with_seed(5);
        let body = factory.legacy_body("old \"path\"");
        assert!(body.contains(r#""message":{"content":"old \"path\""}"#));
        assert!(!body.contains("history_tail"));
        assert!(body.contains(r#""customer_id":null"#));
        let Event::MessageReceived(parsed) = parse_event(body.as_bytes()).unwrap() else {
            panic!("not a message_received event");
        };
        assert_eq!(parsed.message.content, "old \"path\"");
    }

    #[test]
    fn unknown_fields_are_added_and_parse() {
        let body = with_unknown_fields(r#"{"version":"1.0","message":{"content":"x"}}"#);
        assert_eq!(
            body,
            r#"{"version":"1.0","message":{"lang":"de","content":"x"},"locale":"de-DE","delivery":{"attempt":1}}"#
        );
    }

    #[test]
    fn platform_signature_covers_escaped_form() {
        // The worked vector from the contract: the platform's signature for a body
        // with accents and emoji, which differs from the signature over raw bytes.
        let secret =
            Secret::new("7d5e3c1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d");
        let body = r#"{"version":"1.0","event":"message_received","app":{"id":"app-1","name":"Café bot"},"thread":{"id":"thread-1","customer_id":null},"message":{"id":"msg-1","seq":3,"role":"user","content":"Hola, ¿qué tal? ☕ 😀","content_json":{}},"history_tail":[],"timestamp":"2026-12-04T12:00:00.000000+00:00"}"#;
        assert_eq!(
            platform_signature(&secret, "1796400000", body.as_bytes()),
            "sha256=58764eddad0c38e90e2f16b508374d9eaf6df642190fbfc157a5f690080d87c1"
        );
    }
}
