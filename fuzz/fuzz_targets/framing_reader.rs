//! The record reader (JSON Lines or one document, over-long records) on arbitrary bytes.
#![cfg_attr(feature = "libfuzzer", no_main)]

nodeport_watch_fuzz::target!("framing_reader", nodeport_watch_fuzz::read_records);
