//! One alert as a `_bulk` request, and what the bulk response means for it.
//!
//! The request is NDJSON: a `create` action line naming the data stream and `_id` = alert id,
//! then the document line, each ending in `\n`. `create` never overwrites, so a re-sent alert
//! answers `409 version_conflict_engine_exception` on its item: the document is already
//! there, which is a success. The HTTP status of a bulk response is 200 even when items fail,
//! so the item's own status is classified: 429 (a full write queue) and 5xx are retried, any
//! other refusal (`mapper_parsing_exception`, a closed or missing stream…) is dead-lettered.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::sinks::DeliveryError;

/// The NDJSON body for one document.
pub fn body(data_stream: &str, id: &str, document: &Value) -> Result<Vec<u8>, DeliveryError> {
    let action = json!({"create": {"_index": data_stream, "_id": id}});
    let mut out = serde_json::to_vec(&action)
        .map_err(|e| DeliveryError::rejected(format!("action not serializable: {e}")))?;
    out.push(b'\n');
    serde_json::to_writer(&mut out, document)
        .map_err(|e| DeliveryError::rejected(format!("document not serializable: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct BulkResponse {
    #[serde(default)]
    items: Vec<std::collections::BTreeMap<String, Item>>,
}

#[derive(Debug, Deserialize)]
struct Item {
    status: u16,
    #[serde(default)]
    error: Option<ItemError>,
}

#[derive(Debug, Deserialize)]
struct ItemError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    reason: String,
}

/// The outcome of the one item of a 2xx bulk response.
pub fn classify(response: &[u8]) -> Result<(), DeliveryError> {
    let parsed: BulkResponse = serde_json::from_slice(response).map_err(|e| {
        // Without the item's result we cannot know; `create` makes a retry harmless.
        DeliveryError::retriable(format!("Elasticsearch bulk response unreadable: {e}"))
    })?;
    let Some(item) = parsed.items.first().and_then(|i| i.values().next()) else {
        return Err(DeliveryError::retriable(
            "Elasticsearch bulk response has no item for the document",
        ));
    };
    if (200..300).contains(&item.status) || item.status == 409 {
        return Ok(());
    }
    let what = item
        .error
        .as_ref()
        .map(|e| format!(": {} ({})", e.kind, excerpt(&e.reason)))
        .unwrap_or_default();
    let message = format!(
        "Elasticsearch refused the document with {}{what}",
        item.status
    );
    if item.status == 429 || item.status >= 500 {
        Err(DeliveryError::retriable(message))
    } else {
        Err(DeliveryError::rejected(message))
    }
}

/// The reason may quote the document (attacker-controlled text): keep it short.
fn excerpt(reason: &str) -> String {
    let mut out: String = reason.chars().take(200).collect();
    if out.len() < reason.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: u16, error: &str) -> Vec<u8> {
        let mut item = json!({"_index": "x", "_id": "a", "status": status});
        if !error.is_empty() {
            item["error"] = json!({"type": error, "reason": "why"});
        }
        serde_json::to_vec(
            &json!({"took": 1, "errors": status >= 300, "items": [{"create": item}]}),
        )
        .unwrap()
    }

    #[test]
    fn items_are_classified() {
        assert!(classify(&item(201, "")).is_ok());
        assert!(classify(&item(409, "version_conflict_engine_exception")).is_ok());
        assert!(matches!(
            classify(&item(429, "es_rejected_execution_exception")),
            Err(DeliveryError::Retriable { .. })
        ));
        assert!(matches!(
            classify(&item(503, "unavailable_shards_exception")),
            Err(DeliveryError::Retriable { .. })
        ));
        match classify(&item(400, "mapper_parsing_exception")) {
            Err(DeliveryError::Rejected { message }) => {
                assert!(message.contains("mapper_parsing_exception"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(b"not json"),
            Err(DeliveryError::Retriable { .. })
        ));
        assert!(matches!(
            classify(br#"{"items": []}"#),
            Err(DeliveryError::Retriable { .. })
        ));
    }

    #[test]
    fn body_is_two_lines_each_ending_in_a_newline() {
        let b = body("logs-a-b", "id-1", &json!({"x": "y\nz"})).unwrap();
        let text = String::from_utf8(b).unwrap();
        assert_eq!(
            text,
            "{\"create\":{\"_id\":\"id-1\",\"_index\":\"logs-a-b\"}}\n{\"x\":\"y\\nz\"}\n"
        );
    }
}
