use super::*;

fn parse_str(text: &str) -> Result<Recording, PlayerError> {
    parse(text.as_bytes(), Path::new("t.cast"))
}

#[test]
fn v3_intervals_sum_and_stderr_comments_are_honoured() {
    let rec = parse_str(concat!(
        "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24,\"type\":\"xterm\"},\"timestamp\":5,",
        "\"bastion\":{\"session\":\"s\",\"channel\":1,\"user\":\"u\",\"source\":\"a\",\"target\":\"t\",\"login\":\"l\",\"kind\":\"exec\"}}\n",
        "[0.5, \"o\", \"out\"]\n",
        "# stderr\n",
        "[0.25, \"o\", \"err\"]\n",
        "# a remark\n",
        "[1.0, \"r\", \"100x30\"]\n",
        "# stdout\n",
        "[0.0, \"o\", \"out2\"]\n",
        "[0.1, \"m\", \"note\"]\n",
        "[0.1, \"x\", \"0\"]\n",
        "[0.1, \"z\", \"future\"]\n",
        "[0.1, \"o\", \"tor",
    ))
    .unwrap();
    assert!(rec.torn_tail);
    assert_eq!(
        (rec.header.term.cols, rec.header.term.rows, rec.version),
        (80, 24, 3)
    );
    assert_eq!(rec.header.term.term_type.as_deref(), Some("xterm"));
    assert_eq!(rec.bastion.as_ref().unwrap().channel, 1);
    // Comment lines are event lines for verification too: numbers skip them.
    let numbers: Vec<u64> = rec.events.iter().map(|e| e.line).collect();
    assert_eq!(numbers, [1, 3, 5, 7, 8, 9, 10]);
    let got: Vec<(u128, EventData)> = rec
        .events
        .into_iter()
        .map(|e| (e.time.as_millis(), e.data))
        .collect();
    assert_eq!(
        got,
        vec![
            (500, EventData::Output("out".into())),
            (750, EventData::Stderr("err".into())),
            (
                1750,
                EventData::Resize {
                    cols: 100,
                    rows: 30
                }
            ),
            (1750, EventData::Output("out2".into())),
            (1850, EventData::Marker("note".into())),
            (1950, EventData::Exit("0".into())),
            (
                2050,
                EventData::Other {
                    code: "z".into(),
                    data: "future".into()
                }
            ),
        ]
    );
}

#[test]
fn v2_absolute_times_are_read() {
    let rec = parse_str(concat!(
        "{\"version\": 2, \"width\": 90, \"height\": 20, \"env\": {\"TERM\": \"vt100\", \"SHELL\": null}}\n",
        "[0.5, \"o\", \"a\"]\n",
        "[2.0, \"o\", \"b\"]\n",
        "[3.0, \"r\", \"80x24\"]\n",
    ))
    .unwrap();
    assert_eq!(
        (rec.header.term.cols, rec.header.term.rows, rec.version),
        (90, 20, 2)
    );
    assert_eq!(rec.header.term.term_type.as_deref(), Some("vt100"));
    assert!(!rec.torn_tail);
    let times: Vec<u128> = rec.events.iter().map(|e| e.time.as_millis()).collect();
    assert_eq!(times, [500, 2000, 3000]);
}

#[test]
fn errors_name_the_line() {
    let err = parse_str("{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}\n[0.1, \"o\", \"a\"]\n[-1, \"o\", \"b\"]\n")
        .unwrap_err();
    assert!(matches!(err, PlayerError::Parse { line: 3, .. }), "{err}");
    let err = parse_str("{\"version\":1}\n").unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    let err =
        parse_str("{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}\n[0.1, \"r\", \"80by24\"]\n")
            .unwrap_err();
    assert!(matches!(err, PlayerError::Parse { line: 2, .. }), "{err}");
    assert!(parse_str("").is_err());
    // Intervals whose sum does not fit a duration: an error on the line, not a panic.
    let err = parse_str(
        "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}\n[1e19, \"o\", \"a\"]\n[1e19, \"o\", \"b\"]\n",
    )
    .unwrap_err();
    assert!(matches!(err, PlayerError::Parse { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("overflows"), "{err}");
}
