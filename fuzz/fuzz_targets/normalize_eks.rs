//! The eks normalizer (and every rule on what it yields) on arbitrary bytes.
#![cfg_attr(feature = "libfuzzer", no_main)]

use nodeport_watch::model::Format;

nodeport_watch_fuzz::target!("normalize_eks", |data: &[u8]| {
    nodeport_watch_fuzz::normalize_and_detect(data, Format::Eks)
});
