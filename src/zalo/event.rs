//! Zalo OA webhook bodies → what a user sent the OA.
//!
//! A webhook body is a JSON object naming its event (`event_name`), the app
//! (`app_id`), the user (`sender.id`, or `follower.id` for follow events),
//! the time in milliseconds (`timestamp`, a string or a number) and, for
//! messages, a `message` with `msg_id`, an optional `text` and optional
//! `attachments`, each a `type` and a `payload`:
//!
//! - `image`: `url`, `thumbnail`; the message text is the caption;
//! - `file`: `url`, `name`, `size` (a string or a number), `checksum`, `type`;
//! - `link`: `url`, `description`, `thumbnail`;
//! - `audio`, `video`: `url`;
//! - `sticker`, `location` (`coordinates`): nothing the board takes.
//!
//! Parsing is tolerant, because the body comes from outside: ids may be
//! numbers or strings, unknown fields and attachment types are skipped, and
//! an attachment without a URL is dropped rather than failing the event.
//! Only a body that is not a JSON object, or lacks the event name or the
//! timestamp, is an error. Text is kept exactly as given.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One webhook, with what it carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Zalo's event name, e.g. `user_send_text`.
    pub name: String,
    /// The Zalo app the webhook was sent for; empty when absent.
    pub app_id: String,
    /// The user: `sender.id`, or `follower.id` for follow events; empty when
    /// absent.
    pub user_id: String,
    /// Zalo's message id, the natural key for deduplicating replays.
    pub msg_id: Option<String>,
    /// When Zalo received the message, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The content, in the order the user sent it: the text first, then the
    /// attachments.
    pub parts: Vec<Part>,
}

/// One piece of what the user sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Text(String),
    /// The caption (the message's text) is given to the first image of a
    /// message only, so that it is not repeated; empty when there is none.
    Image {
        url: String,
        caption: String,
    },
    File {
        url: String,
        name: String,
        size: Option<u64>,
    },
    Link {
        url: String,
        description: String,
    },
    Audio {
        url: String,
    },
    Video {
        url: String,
    },
}

/// What a webhook means for the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A user sent content: a `user_send_text`, `_image`, `_file`, `_link`,
    /// `_audio` or `_video` event from a known user with at least one part.
    Submission(Event),
    /// Anything else: stickers, locations, follows, unfollows, events the
    /// board does not handle, and messages without usable content. The
    /// reason is readable, for the log.
    Ignored { event: Event, reason: String },
}

/// The events that can carry a submission.
const SUBMISSION_EVENTS: [&str; 6] = [
    "user_send_text",
    "user_send_image",
    "user_send_file",
    "user_send_link",
    "user_send_audio",
    "user_send_video",
];

/// Parses a webhook body. Fails only when the body is not a JSON object or
/// lacks `event_name` or a usable `timestamp`.
pub fn parse(body: &[u8]) -> Result<Parsed> {
    // serde_json refuses nesting deeper than 128 levels with an error, so a
    // hostile body cannot exhaust the stack.
    let value: Value =
        serde_json::from_slice(body).context("Zalo webhook body is not valid JSON")?;
    let Value::Object(object) = value else {
        bail!(
            "Zalo webhook body is a JSON {}, not an object",
            kind(&value)
        );
    };
    let name = match object.get("event_name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(other) => bail!(
            "Zalo webhook body has an event_name that is a {}, not a name",
            kind(other)
        ),
        None => bail!("Zalo webhook body has no event_name"),
    };
    let timestamp_ms = match object.get("timestamp") {
        None => bail!("Zalo webhook body has no timestamp"),
        Some(raw) => millis(raw).with_context(|| {
            format!(
                "Zalo webhook timestamp {} is not a time in milliseconds",
                shorten(&raw.to_string())
            )
        })?,
    };
    let message = object.get("message").and_then(Value::as_object);
    let event = Event {
        app_id: object.get("app_id").and_then(text_of).unwrap_or_default(),
        user_id: id_at(&object, "sender")
            .or_else(|| id_at(&object, "follower"))
            .unwrap_or_default(),
        msg_id: message
            .and_then(|message| message.get("msg_id"))
            .and_then(text_of)
            .filter(|id| !id.trim().is_empty()),
        timestamp_ms,
        parts: message.map(parts).unwrap_or_default(),
        name,
    };
    Ok(classify(event))
}

/// The raw `timestamp` field of a webhook body as text (a number rendered
/// as JSON writes it), for checking the signature before the body is parsed
/// in full; `None` when the body is not an object with a string or number
/// timestamp.
pub fn timestamp_field(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("timestamp")? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn classify(event: Event) -> Parsed {
    let reason = match event.name.as_str() {
        "user_send_sticker" => "A sticker carries no article content".to_owned(),
        "user_send_location" => "A shared location carries no article content".to_owned(),
        "follow" => "The user followed the OA; nothing was sent".to_owned(),
        "unfollow" => "The user unfollowed the OA; nothing was sent".to_owned(),
        name if SUBMISSION_EVENTS.contains(&name) => {
            if event.user_id.trim().is_empty() {
                format!("The {name} event names no sender, so nobody could be answered")
            } else if event.parts.is_empty() {
                format!("The {name} event carries no text and no attachment with a URL")
            } else {
                return Parsed::Submission(event);
            }
        }
        name => format!(
            "The {name} event is not a submission: the board takes text, images, files, \
             links, audio and video that users send"
        ),
    };
    Parsed::Ignored { event, reason }
}

/// The parts of a message: its text (unless it is the caption of an image
/// or just repeats a link's URL), then its attachments in order.
fn parts(message: &Map<String, Value>) -> Vec<Part> {
    let mut caption = message
        .get("text")
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty());
    let attachments = message
        .get("attachments")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let has_image = attachments
        .iter()
        .any(|attachment| attachment.get("type").and_then(Value::as_str) == Some("image"));

    let mut found = Vec::new();
    for attachment in attachments {
        let Some(kind) = attachment.get("type").and_then(Value::as_str) else {
            continue;
        };
        let payload = attachment.get("payload").and_then(Value::as_object);
        let field = |key: &str| {
            payload
                .and_then(|payload| payload.get(key))
                .and_then(text_of)
        };
        let url = field("url").filter(|url| !url.trim().is_empty());
        let part = match (kind, url) {
            ("image", Some(url)) => Part::Image {
                url,
                caption: caption.take().map(str::to_owned).unwrap_or_default(),
            },
            ("file", Some(url)) => Part::File {
                url,
                name: field("name").unwrap_or_default(),
                size: field("size").and_then(|size| size.trim().parse().ok()),
            },
            ("link", Some(url)) => Part::Link {
                url,
                description: field("description").unwrap_or_default(),
            },
            ("audio" | "voice", Some(url)) => Part::Audio { url },
            ("video", Some(url)) => Part::Video { url },
            _ => continue,
        };
        found.push(part);
    }

    // An image's caption was taken above; when the text only repeats a
    // shared link's URL it adds nothing.
    let text = if has_image { None } else { caption };
    let repeats_link = |text: &str| {
        found
            .iter()
            .any(|part| matches!(part, Part::Link { url, .. } if url.trim() == text.trim()))
    };
    match text {
        Some(text) if !repeats_link(text) => {
            let mut all = vec![Part::Text(text.to_owned())];
            all.append(&mut found);
            all
        }
        _ => found,
    }
}

/// The `id` of the object at `key` (`sender`, `follower`), as text.
fn id_at(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)?
        .get("id")
        .and_then(text_of)
        .filter(|id| !id.trim().is_empty())
}

/// A string as it is, or a number as JSON writes it: Zalo sends ids and
/// sizes either way.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Milliseconds from a string of digits or an integer; never negative.
fn millis(value: &Value) -> Result<i64> {
    let millis = match value {
        Value::String(text) => text.trim().parse::<i64>().context("Not an integer")?,
        Value::Number(number) => number.as_i64().context("Not an integer of 64 bits")?,
        other => bail!("A {}, not a number", kind(other)),
    };
    if millis < 0 {
        bail!("Negative");
    }
    Ok(millis)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// At most 40 characters of untrusted text, for an error message.
fn shorten(text: &str) -> String {
    crate::text::truncate_chars(text, 40)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn submission(body: &str) -> Event {
        match parse(body.as_bytes()).unwrap() {
            Parsed::Submission(event) => event,
            other => panic!("not a submission: {other:?}"),
        }
    }

    fn ignored(body: &str) -> (Event, String) {
        match parse(body.as_bytes()).unwrap() {
            Parsed::Ignored { event, reason } => (event, reason),
            other => panic!("not ignored: {other:?}"),
        }
    }

    fn error(body: &[u8]) -> String {
        format!("{:#}", parse(body).unwrap_err())
    }

    #[test]
    fn text_from_zalo_documentation() {
        let event = submission(
            r#"{"app_id":"360846524940903967","sender":{"id":"246845883529197922"},"user_id_by_app":"552177279717587730","recipient":{"id":"388613280878808645"},"event_name":"user_send_text","message":{"text":"message","msg_id":"96d3cdf3af150460909"},"timestamp":"154390853474"}"#,
        );
        assert_eq!(
            event,
            Event {
                name: "user_send_text".into(),
                app_id: "360846524940903967".into(),
                user_id: "246845883529197922".into(),
                msg_id: Some("96d3cdf3af150460909".into()),
                timestamp_ms: 154390853474,
                parts: vec![Part::Text("message".into())],
            }
        );
    }

    #[test]
    fn vietnamese_text_kept_as_given() {
        // Decomposed "ệ" (e + U+0323 + U+0302) stays decomposed here.
        let text = "Bai vie\u{0323}\u{0302}t  mới\n";
        let body = serde_json::json!({
            "event_name": "user_send_text", "timestamp": "1", "sender": {"id": "7"},
            "message": {"msg_id": "m", "text": text}
        });
        let event = submission(&body.to_string());
        assert_eq!(event.parts, vec![Part::Text(text.into())]);
    }

    #[test]
    fn images_with_caption_on_the_first() {
        let event = submission(
            r#"{"event_name":"user_send_image","timestamp":"1700000000000","sender":{"id":"9"},
                "message":{"msg_id":"m1","text":"Ảnh lễ hội","attachments":[
                  {"type":"image","payload":{"thumbnail":"https://t/1","url":"https://z/1.jpg"}},
                  {"type":"image","payload":{"thumbnail":"https://t/2","url":"https://z/2.jpg"}}]}}"#,
        );
        assert_eq!(
            event.parts,
            vec![
                Part::Image {
                    url: "https://z/1.jpg".into(),
                    caption: "Ảnh lễ hội".into()
                },
                Part::Image {
                    url: "https://z/2.jpg".into(),
                    caption: String::new()
                },
            ]
        );
    }

    #[test]
    fn image_without_caption() {
        let event = submission(
            r#"{"event_name":"user_send_image","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","attachments":[{"type":"image","payload":{"url":"https://z/1.jpg"}}]}}"#,
        );
        assert_eq!(
            event.parts,
            vec![Part::Image {
                url: "https://z/1.jpg".into(),
                caption: String::new()
            }]
        );
    }

    #[test]
    fn file_with_size_as_string_or_number() {
        for size in [r#""12345""#, "12345"] {
            let body = format!(
                r#"{{"event_name":"user_send_file","timestamp":"1","sender":{{"id":"9"}},
                    "message":{{"msg_id":"m","attachments":[{{"type":"file","payload":{{
                      "url":"https://f/x","size":{size},"name":"bai viet.docx","checksum":"abc","type":"docx"}}}}]}}}}"#
            );
            assert_eq!(
                submission(&body).parts,
                vec![Part::File {
                    url: "https://f/x".into(),
                    name: "bai viet.docx".into(),
                    size: Some(12345)
                }]
            );
        }
    }

    #[test]
    fn file_with_odd_size_or_no_name() {
        let event = submission(
            r#"{"event_name":"user_send_file","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","attachments":[{"type":"file","payload":{"url":"https://f/x","size":"big"}}]}}"#,
        );
        assert_eq!(
            event.parts,
            vec![Part::File {
                url: "https://f/x".into(),
                name: String::new(),
                size: None
            }]
        );
    }

    #[test]
    fn link_without_repeated_url_text() {
        let event = submission(
            r#"{"event_name":"user_send_link","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","text":"https://baochinhphu.vn/a","attachments":[{"type":"link",
                  "payload":{"url":"https://baochinhphu.vn/a","description":"Tin mới","thumbnail":"https://t"}}]}}"#,
        );
        assert_eq!(
            event.parts,
            vec![Part::Link {
                url: "https://baochinhphu.vn/a".into(),
                description: "Tin mới".into()
            }]
        );
    }

    #[test]
    fn link_with_its_own_text() {
        let event = submission(
            r#"{"event_name":"user_send_link","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","text":"Xem bài này","attachments":[{"type":"link","payload":{"url":"https://a"}}]}}"#,
        );
        assert_eq!(
            event.parts,
            vec![
                Part::Text("Xem bài này".into()),
                Part::Link {
                    url: "https://a".into(),
                    description: String::new()
                }
            ]
        );
    }

    #[test]
    fn audio_and_video() {
        let audio = submission(
            r#"{"event_name":"user_send_audio","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","attachments":[{"type":"audio","payload":{"url":"https://a/1.aac"}}]}}"#,
        );
        assert_eq!(
            audio.parts,
            vec![Part::Audio {
                url: "https://a/1.aac".into()
            }]
        );
        let video = submission(
            r#"{"event_name":"user_send_video","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","attachments":[{"type":"video","payload":{"url":"https://v/1.mp4","thumbnail":"https://t"}}]}}"#,
        );
        assert_eq!(
            video.parts,
            vec![Part::Video {
                url: "https://v/1.mp4".into()
            }]
        );
    }

    #[test]
    fn sticker_and_location_ignored() {
        let (event, reason) = ignored(
            r#"{"event_name":"user_send_sticker","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","attachments":[{"type":"sticker","payload":{"id":"s","url":"https://s"}}]}}"#,
        );
        assert_eq!(event.user_id, "9");
        assert!(reason.contains("sticker"), "{reason}");
        let (event, reason) = ignored(
            r#"{"event_name":"user_send_location","timestamp":"1","sender":{"id":"9"},
                "message":{"msg_id":"m","attachments":[{"type":"location","payload":{"coordinates":{"latitude":"21.02","longitude":"105.85"}}}]}}"#,
        );
        assert!(event.parts.is_empty());
        assert!(reason.contains("location"), "{reason}");
    }

    #[test]
    fn follow_and_unfollow_ignored_with_follower() {
        let (event, reason) = ignored(
            r#"{"oa_id":"388613280878808645","follower":{"id":"246845883529197922"},"user_id_by_app":"5","event_name":"follow","app_id":"360846524940903967","timestamp":"1543908534744"}"#,
        );
        assert_eq!(event.user_id, "246845883529197922");
        assert_eq!(event.msg_id, None);
        assert!(reason.contains("followed"), "{reason}");
        let (_, reason) =
            ignored(r#"{"follower":{"id":"1"},"event_name":"unfollow","timestamp":"1"}"#);
        assert!(reason.contains("unfollowed"), "{reason}");
    }

    #[test]
    fn unknown_events_ignored() {
        for name in [
            "oa_send_text",
            "user_send_gif",
            "user_received_message",
            "x",
        ] {
            let body = format!(
                r#"{{"event_name":"{name}","timestamp":"1","sender":{{"id":"1"}},"message":{{"text":"hi"}}}}"#
            );
            let (event, reason) = ignored(&body);
            assert_eq!(event.name, name);
            assert!(reason.contains(name), "{reason}");
        }
    }

    #[test]
    fn submissions_without_content_or_sender_ignored() {
        let cases = [
            r#"{"event_name":"user_send_text","timestamp":"1","sender":{"id":"1"},"message":{"text":"  \n "}}"#,
            r#"{"event_name":"user_send_text","timestamp":"1","sender":{"id":"1"}}"#,
            r#"{"event_name":"user_send_image","timestamp":"1","sender":{"id":"1"},"message":{"attachments":[{"type":"image","payload":{"thumbnail":"https://t"}}]}}"#,
            r#"{"event_name":"user_send_file","timestamp":"1","sender":{"id":"1"},"message":{"attachments":[{"type":"file","payload":{"url":""}}]}}"#,
            r#"{"event_name":"user_send_file","timestamp":"1","sender":{"id":"1"},"message":{"attachments":"nope"}}"#,
        ];
        for body in cases {
            let (_, reason) = ignored(body);
            assert!(reason.contains("carries no text"), "{body}: {reason}");
        }
        let (_, reason) = ignored(
            r#"{"event_name":"user_send_text","timestamp":"1","sender":{},"message":{"text":"hi"}}"#,
        );
        assert!(reason.contains("no sender"), "{reason}");
    }

    #[test]
    fn numbers_instead_of_strings() {
        let event = submission(
            r#"{"app_id":360846524940903967,"sender":{"id":246845883529197922},"event_name":"user_send_text",
                "message":{"text":"x","msg_id":12345},"timestamp":154390853474}"#,
        );
        assert_eq!(event.app_id, "360846524940903967");
        assert_eq!(event.user_id, "246845883529197922");
        assert_eq!(event.msg_id.as_deref(), Some("12345"));
        assert_eq!(event.timestamp_ms, 154390853474);
    }

    #[test]
    fn wrong_types_are_skipped_not_fatal() {
        let event = submission(
            r#"{"app_id":{"a":1},"sender":{"id":"1"},"event_name":"user_send_image","timestamp":" 5 ",
                "message":{"text":7,"msg_id":null,"attachments":[1,"x",null,{"type":5},{"type":"image"},
                  {"type":"image","payload":[]},{"type":"image","payload":{"url":{"u":1}}},
                  {"type":"image","payload":{"url":"https://ok"}}]}}"#,
        );
        assert_eq!(event.app_id, "");
        assert_eq!(event.msg_id, None);
        assert_eq!(event.timestamp_ms, 5);
        assert_eq!(
            event.parts,
            vec![Part::Image {
                url: "https://ok".into(),
                caption: String::new()
            }]
        );
    }

    #[test]
    fn garbage_is_a_readable_error() {
        assert!(error(b"").contains("not valid JSON"));
        assert!(error(b"\xff\xfe{").contains("not valid JSON"));
        assert!(error(b"{\"event_name\":").contains("not valid JSON"));
        assert!(error(b"[1,2]").contains("array, not an object"));
        assert!(error(b"\"text\"").contains("string, not an object"));
        assert!(error(b"null").contains("null, not an object"));
    }

    #[test]
    fn missing_name_or_timestamp_is_an_error() {
        assert!(error(br#"{"timestamp":"1"}"#).contains("no event_name"));
        assert!(error(br#"{"event_name":5,"timestamp":"1"}"#).contains("event_name"));
        assert!(error(br#"{"event_name":"  ","timestamp":"1"}"#).contains("event_name"));
        assert!(error(br#"{"event_name":"follow"}"#).contains("no timestamp"));
        for bad in [
            r#""soon""#,
            "-5",
            "1.5",
            "null",
            "[]",
            r#""99999999999999999999""#,
        ] {
            let body = format!(r#"{{"event_name":"follow","timestamp":{bad}}}"#);
            let message = error(body.as_bytes());
            assert!(message.contains("not a time in milliseconds"), "{message}");
        }
    }

    #[test]
    fn deep_and_huge_json_do_not_panic() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(error(deep.as_bytes()).contains("not valid JSON"));
        let deep_message = format!(
            r#"{{"event_name":"user_send_text","timestamp":"1","sender":{{"id":"1"}},"message":{}1{}}}"#,
            r#"{"a":"#.repeat(120),
            "}".repeat(120)
        );
        let (_, reason) = ignored(&deep_message);
        assert!(reason.contains("carries no text"));
        let long = "x".repeat(1_000_000);
        let body = format!(
            r#"{{"event_name":"user_send_text","timestamp":"1","sender":{{"id":"1"}},"message":{{"text":"{long}"}}}}"#
        );
        assert_eq!(submission(&body).parts, vec![Part::Text(long)]);
        let bad_timestamp = format!(
            r#"{{"event_name":"follow","timestamp":"{}"}}"#,
            "9".repeat(500)
        );
        assert!(error(bad_timestamp.as_bytes()).chars().count() < 200);
    }

    #[test]
    fn duplicate_keys_take_the_last() {
        let event = submission(
            r#"{"event_name":"follow","event_name":"user_send_text","timestamp":"1","sender":{"id":"1"},"message":{"text":"a"}}"#,
        );
        assert_eq!(event.name, "user_send_text");
    }

    #[test]
    fn timestamp_field_as_raw_text() {
        assert_eq!(
            timestamp_field(br#"{"timestamp":"154390853474"}"#).as_deref(),
            Some("154390853474")
        );
        assert_eq!(
            timestamp_field(br#"{"timestamp":154390853474}"#).as_deref(),
            Some("154390853474")
        );
        assert_eq!(
            timestamp_field(br#"{"timestamp":" 1 "}"#).as_deref(),
            Some(" 1 ")
        );
        assert_eq!(timestamp_field(br#"{"timestamp":null}"#), None);
        assert_eq!(timestamp_field(br#"{"other":1}"#), None);
        assert_eq!(timestamp_field(br#"[{"timestamp":"1"}]"#), None);
        assert_eq!(timestamp_field(b"garbage"), None);
    }

    #[test]
    fn event_round_trips_as_json() {
        let event = Event {
            name: "user_send_file".into(),
            app_id: "1".into(),
            user_id: "2".into(),
            msg_id: Some("3".into()),
            timestamp_ms: 4,
            parts: vec![
                Part::Text("Chào".into()),
                Part::Image {
                    url: "u".into(),
                    caption: "c".into(),
                },
                Part::File {
                    url: "u".into(),
                    name: "n".into(),
                    size: None,
                },
                Part::Link {
                    url: "u".into(),
                    description: "d".into(),
                },
                Part::Audio { url: "a".into() },
                Part::Video { url: "v".into() },
            ],
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}
