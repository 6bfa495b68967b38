//! The configuration loader (TOML, decoding, validation, error locations) on arbitrary bytes.
#![cfg_attr(feature = "libfuzzer", no_main)]

nodeport_watch_fuzz::target!("config_loader", nodeport_watch_fuzz::load_config);
