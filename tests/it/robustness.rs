//! Hostile input never panics a normalizer, the detector or the alert builder: arbitrary bytes,
//! records cut at every byte, fields of the wrong type anywhere, in every forced format.

use std::io::BufReader;
use std::sync::OnceLock;

use nodeport_watch::detect::Detector;
use nodeport_watch::model::{Format, RuleId};
use nodeport_watch::normalize::{Normalized, RecordContext, RecordReader, normalize};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::corpus_dir;
use crate::support::detect::{fixed_now, run_library, with_rules};
use crate::support::shapes::{Shape, wrap};

const FORMATS: [Format; 5] = [
    Format::Auto,
    Format::K8s,
    Format::Eks,
    Format::Gke,
    Format::Aks,
];

/// Normalizes `bytes` in every format and inspects every event with every rule.
fn survive(bytes: &[u8]) {
    survive_as(bytes, &FORMATS);
}

fn survive_as(bytes: &[u8], formats: &[Format]) {
    let detector = Detector::new(RuleId::ALL.into_iter().collect(), Default::default());
    for &format in formats {
        let ctx = RecordContext {
            format,
            ..RecordContext::default()
        };
        normalize(bytes, &ctx, &mut |n| {
            if let Normalized::Event(event) = n {
                let verdict = detector.inspect(&event, fixed_now());
                if let Some(change) = &verdict.change {
                    for d in &verdict.detections {
                        let ctx = nodeport_watch::alert::AlertContext {
                            source: "fuzz",
                            detected_at: fixed_now(),
                            include_raw: true,
                        };
                        let alert = nodeport_watch::alert::build(&event, change, d, &ctx);
                        serde_json::to_string(&alert).expect("alerts always serialize");
                    }
                }
            }
        });
    }
}

/// Every record the tests know: the public corpus and every detection case in every shape.
fn known_records() -> &'static [String] {
    static RECORDS: OnceLock<Vec<String>> = OnceLock::new();
    RECORDS.get_or_init(load_known_records)
}

fn load_known_records() -> Vec<String> {
    let mut records = Vec::new();
    for dir in ["eks", "gke", "aks", "raw-k8s"] {
        for entry in std::fs::read_dir(corpus_dir().join(dir)).unwrap() {
            let file = std::fs::File::open(entry.unwrap().path()).unwrap();
            for frame in RecordReader::new(BufReader::new(file), 1 << 20) {
                if let nodeport_watch::normalize::Frame::Record(bytes) = frame.unwrap() {
                    records.push(String::from_utf8(bytes).unwrap());
                }
            }
        }
    }
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::fixture("detection/cases.json")).unwrap(),
    )
    .unwrap();
    for case in cases["events"].as_array().unwrap() {
        let events = case["events"].as_array().unwrap();
        for shape in Shape::ALL {
            records.extend(wrap(shape, events));
        }
    }
    for case in cases["literal"].as_array().unwrap() {
        records.extend(
            case["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::to_string),
        );
    }
    records
}

#[test]
fn records_cut_at_every_byte_never_panic() {
    let records = known_records();
    assert!(records.len() > 200);
    for record in records {
        let bytes = record.as_bytes();
        // Every cut of short records; a stride over long ones keeps the test fast.
        let stride = (bytes.len() / 200).max(1);
        // Forced formats only change which shapes are accepted; the property tests cover them.
        for cut in (0..bytes.len()).step_by(stride) {
            survive_as(&bytes[..cut], &[Format::Auto]);
        }
    }
}

#[test]
fn truncated_service_writes_are_reported_degraded_not_dropped() {
    // A NodePort create cut anywhere after its responseStatus still yields an event that knows
    // it is a Service create, marked truncated.
    let event = r#"{"kind":"Event","auditID":"t1","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"services","namespace":"n","name":"s"},"responseStatus":{"code":201},"requestObject":{"kind":"Service","spec":{"type":"NodePort","ports":[{"port":80}]}}}"#;
    let start = event.find("\"requestObject\"").unwrap();
    for cut in start..event.len() - 1 {
        let got = run_library(
            &[event[..cut].to_owned()],
            with_rules(Detector::default_rules()),
        );
        assert_eq!(got.stats.events, 1, "cut at {cut}");
        assert_eq!(got.stats.degraded, 1, "cut at {cut}");
        assert_eq!(
            got.alerts.len(),
            1,
            "cut at {cut}: a truncated Service create must alert"
        );
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        Just(Value::String("skipped-too-big-size-object".into())),
        Just(Value::String("{\"spec\":{\"type\":\"NodePort\"}}".into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value found by following `choices` through `node` with `replacement`.
fn replace_somewhere(node: &mut Value, choices: &[usize], replacement: Value) {
    let Some((&choice, rest)) = choices.split_first() else {
        *node = replacement;
        return;
    };
    match node {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(choice % map.len()).cloned().unwrap();
            replace_somewhere(map.get_mut(&key).unwrap(), rest, replacement);
        }
        Value::Array(items) if !items.is_empty() => {
            let i = choice % items.len();
            replace_somewhere(&mut items[i], rest, replacement);
        }
        _ => *node = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        survive(&bytes);
        // Past the prefilter too.
        let mut with_marker = b"services create ".to_vec();
        with_marker.extend_from_slice(&bytes);
        survive(&with_marker);
    }

    #[test]
    fn wrong_types_anywhere_never_panic(
        which in any::<prop::sample::Index>(),
        path in prop::collection::vec(any::<usize>(), 1..6),
        replacement in any_json(),
    ) {
        let records = known_records();
        let record = which.get(records);
        let mut doc: Value = serde_json::from_str(record).unwrap();
        replace_somewhere(&mut doc, &path, replacement);
        survive(doc.to_string().as_bytes());
        // The damaged document embedded as a string, as EKS and AKS carry Events.
        let text = doc.to_string();
        let eks = serde_json::json!({"logStreamName": "s", "timestamp": 1, "message": &text, "eventId": "1"});
        survive(eks.to_string().as_bytes());
        let aks = serde_json::json!({"category": "kube-audit", "properties": {"log": &text}, "resourceId": "x"});
        survive(aks.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_streams_frame_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        for frame in RecordReader::new(&bytes[..], 256) {
            let _ = frame;
        }
    }
}
