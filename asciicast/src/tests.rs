use std::time::Duration;

use super::*;

fn v3_line(us: u64, code: EventCode, data: &str) -> String {
    let mut out = Vec::new();
    let mut enc = v3::Encoder::new();
    enc.event(&mut out, Duration::from_micros(us), code, data);
    String::from_utf8(out).unwrap()
}

#[test]
fn intervals_are_trimmed_seconds() {
    assert_eq!(v3_line(0, EventCode::Exit, "0"), "[0.0, \"x\", \"0\"]");
    assert_eq!(
        v3_line(1_500_000, EventCode::Marker, ""),
        "[1.5, \"m\", \"\"]"
    );
    assert_eq!(
        v3_line(12_000_003, EventCode::Resize, "80x24"),
        "[12.000003, \"r\", \"80x24\"]"
    );
}

#[test]
fn escapes_like_json_and_round_trips() {
    let data = "a\"b\\c\n\r\t\u{1b}[0m\u{7f}é😀\u{0}";
    let l = v3_line(250_000, EventCode::Output, data);
    assert!(l.contains("\\u001b[0m"), "{l}");
    let parsed: (f64, String, String) = serde_json::from_str(&l).unwrap();
    assert_eq!(parsed, (0.25, "o".to_string(), data.to_string()));
}

#[test]
fn v3_intervals_count_from_the_previous_event_and_never_go_back() {
    let mut enc = v3::Encoder::new();
    let mut lines = Vec::new();
    for ms in [250, 1000, 900, 1000] {
        let mut out = Vec::new();
        enc.event(&mut out, Duration::from_millis(ms), EventCode::Output, "x");
        lines.push(String::from_utf8(out).unwrap());
    }
    assert_eq!(
        lines,
        [
            "[0.25, \"o\", \"x\"]",
            "[0.75, \"o\", \"x\"]",
            "[0.0, \"o\", \"x\"]",
            "[0.0, \"o\", \"x\"]"
        ]
    );
}

fn header() -> Header {
    /// Fields out of alphabetical order: they are written in declaration order.
    #[derive(serde::Serialize)]
    struct Writer {
        z: u8,
        a: (bool, Option<u8>),
    }
    let mut extra = Extra::default();
    extra
        .insert(
            "writer",
            &Writer {
                z: 1,
                a: (true, None),
            },
        )
        .unwrap();
    Header {
        term: Term {
            cols: 100,
            rows: 30,
            term_type: Some("xterm-256color".into()),
        },
        timestamp: Some(1_700_000_000),
        idle_time_limit: Some(2.5),
        command: Some("uptime".into()),
        title: Some("t".into()),
        env: [
            ("LANG".to_string(), "C".to_string()),
            ("TERM".to_string(), "xterm-256color".to_string()),
        ]
        .into(),
        extra,
    }
}

fn events() -> Vec<Event> {
    let at = Duration::from_micros;
    vec![
        Event {
            time: at(250_000),
            data: EventData::Output("out\r\n".into()),
        },
        Event {
            time: at(1_250_000),
            data: EventData::Input("i".into()),
        },
        Event {
            time: at(1_250_001),
            data: EventData::Resize { cols: 90, rows: 20 },
        },
        Event {
            time: at(2_000_000),
            data: EventData::Marker("note".into()),
        },
        Event {
            time: at(3_000_000),
            data: EventData::Other {
                code: "z".into(),
                data: "future".into(),
            },
        },
    ]
}

/// Reads `lines` (header first) back.
fn read(lines: &[Vec<u8>]) -> (Version, Header, Vec<Event>) {
    let text: Vec<&str> = lines
        .iter()
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let (header, mut dec) = Decoder::header(text[0]).unwrap();
    let mut events = Vec::new();
    for line in &text[1..] {
        match dec.line(line).unwrap() {
            Line::Event(e) => events.push(e),
            other => panic!("{other:?}"),
        }
    }
    (dec.version(), header, events)
}

#[test]
fn v3_writes_what_it_reads() {
    let mut enc = v3::Encoder::new();
    let mut lines = vec![enc.header(&header())];
    for e in events() {
        let mut out = Vec::new();
        enc.encode(&mut out, &e);
        lines.push(out);
    }
    assert_eq!(
        String::from_utf8(lines[0].clone()).unwrap(),
        concat!(
            "{\"version\":3,\"term\":{\"cols\":100,\"rows\":30,\"type\":\"xterm-256color\"},",
            "\"timestamp\":1700000000,\"idle_time_limit\":2.5,\"command\":\"uptime\",\"title\":\"t\",",
            "\"env\":{\"LANG\":\"C\",\"TERM\":\"xterm-256color\"},\"writer\":{\"z\":1,\"a\":[true,null]}}"
        )
    );
    let mut exit = Vec::new();
    enc.encode(
        &mut exit,
        &Event {
            time: Duration::from_secs(4),
            data: EventData::Exit("0".into()),
        },
    );
    lines.push(exit);
    let mut want = events();
    want.push(Event {
        time: Duration::from_secs(4),
        data: EventData::Exit("0".into()),
    });
    assert_eq!(read(&lines), (Version::V3, header(), want));
}

#[test]
fn v2_writes_what_it_reads() {
    let enc_header = v2::Encoder::new().header(&header());
    assert_eq!(
        String::from_utf8(enc_header.clone()).unwrap(),
        concat!(
            "{\"version\":2,\"width\":100,\"height\":30,\"timestamp\":1700000000,",
            "\"idle_time_limit\":2.5,\"command\":\"uptime\",\"title\":\"t\",",
            "\"env\":{\"LANG\":\"C\",\"TERM\":\"xterm-256color\"},\"writer\":{\"z\":1,\"a\":[true,null]}}"
        )
    );
    let mut enc = v2::Encoder::new();
    let mut lines = vec![enc_header];
    for e in events() {
        let mut out = Vec::new();
        enc.encode(&mut out, &e);
        lines.push(out);
    }
    assert_eq!(
        String::from_utf8(lines[2].clone()).unwrap(),
        "[1.25, \"i\", \"i\"]"
    );
    assert_eq!(read(&lines), (Version::V2, header(), events()));
}

#[test]
fn v2_puts_the_terminal_type_into_env() {
    let h = Header {
        term: Term {
            cols: 80,
            rows: 24,
            term_type: Some("vt100".into()),
        },
        ..Header::default()
    };
    let line = v2::Encoder::new().header(&h);
    assert_eq!(
        line,
        b"{\"version\":2,\"width\":80,\"height\":24,\"env\":{\"TERM\":\"vt100\"}}"
    );
}

#[test]
fn extra_keys_are_kept_as_written_and_never_shadow_the_format() {
    let line = r#"{"version":3,"term":{"cols":80,"rows":24},"mine":{"b":1,  "a":2},"width":7}"#;
    let (mut h, _) = Decoder::header(line).unwrap();
    assert_eq!(h.extra.raw("mine"), Some(r#"{"b":1,  "a":2}"#));
    assert_eq!(h.extra.keys().collect::<Vec<_>>(), ["mine", "width"]);
    // A key v3 defines is written once, from the header's own field.
    h.extra.insert("term", &1).unwrap();
    let out = String::from_utf8(v3::Encoder::new().header(&h)).unwrap();
    assert_eq!(
        out,
        r#"{"version":3,"term":{"cols":80,"rows":24},"mine":{"b":1,  "a":2},"width":7}"#
    );
    // v2 defines `width`: the extra one is left out there.
    let out = String::from_utf8(v2::Encoder::new().header(&h)).unwrap();
    assert_eq!(
        out,
        r#"{"version":2,"width":80,"height":24,"mine":{"b":1,  "a":2},"term":1}"#
    );
    assert!(h.extra.get::<u8>("mine").unwrap().is_err());
    assert!(h.extra.remove("mine"));
    assert!(h.extra.get::<u8>("mine").is_none());
}

#[test]
fn v3_comments_and_blank_lines() {
    let (_, mut dec) = Decoder::header(r#"{"version":3,"term":{"cols":80,"rows":24}}"#).unwrap();
    assert_eq!(dec.line("# stderr").unwrap(), Line::Comment("# stderr"));
    assert_eq!(dec.line("").unwrap(), Line::Blank);
    let mut out = Vec::new();
    v3::Encoder::new().comment(&mut out, "# two\nlines");
    assert_eq!(out, b"# two lines");
    out.clear();
    v3::Encoder::new().comment(&mut out, " note");
    assert_eq!(out, b"# note");
    // v2 has no comments.
    let (_, mut dec) = Decoder::header(r#"{"version":2,"width":80,"height":24}"#).unwrap();
    assert!(dec.line("# stderr").is_err());
}

#[test]
fn refusals_say_why() {
    let err = |line: &str| Decoder::header(line).map(|_| ()).unwrap_err().to_string();
    assert!(err("{}").starts_with("header is not an asciicast header: "));
    assert!(err("not json").starts_with("header is not an asciicast header: "));
    assert_eq!(
        err(r#"{"version":1}"#),
        "asciicast version 1 is not supported (only 2 and 3)"
    );
    assert_eq!(
        err(r#"{"version":3,"term":{"cols":0,"rows":24}}"#),
        "terminal size must not be zero"
    );
    assert_eq!(
        err(r#"{"version":2,"width":80,"height":0}"#),
        "terminal size must not be zero"
    );
    let (_, mut dec) = Decoder::header(r#"{"version":3,"term":{"cols":80,"rows":24}}"#).unwrap();
    let line_err = |dec: &mut Decoder, l: &str| dec.line(l).map(|_| ()).unwrap_err().to_string();
    assert_eq!(line_err(&mut dec, r#"[1, "", "x"]"#), "missing event code");
    assert_eq!(
        line_err(&mut dec, r#"[1, "r", "80"]"#),
        "invalid resize \"80\", expected COLSxROWS"
    );
    assert_eq!(line_err(&mut dec, r#"[-1, "o", "x"]"#), "invalid time -1");
    assert!(line_err(&mut dec, r#"[1e300, "o", "x"]"#).starts_with("invalid time 1000"));
    // Intervals that add up past what a duration holds.
    let (_, mut dec) = Decoder::header(r#"{"version":3,"term":{"cols":80,"rows":24}}"#).unwrap();
    dec.line(r#"[1e19, "o", "x"]"#).unwrap();
    assert_eq!(
        line_err(&mut dec, r#"[1e19, "o", "x"]"#),
        "time overflows after interval 10000000000000000000"
    );
}
