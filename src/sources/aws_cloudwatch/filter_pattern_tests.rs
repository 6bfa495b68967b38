use super::*;

fn default() -> FilterPattern {
    FilterPattern::parse(DEFAULT_PATTERN).unwrap()
}

fn event(verb: &str, resource: &str) -> String {
    format!(
        r#"{{"kind":"Event","verb":"{verb}","objectRef":{{"resource":"{resource}","namespace":"default","name":"web"}}}}"#
    )
}

#[test]
fn the_default_pattern_selects_service_writes_only() {
    let p = default();
    assert_eq!(p.text(), DEFAULT_PATTERN);
    assert_eq!(FilterPattern::default_pattern(), p);
    for verb in ["create", "update", "patch", "delete"] {
        assert!(p.matches(&event(verb, "services")), "{verb} services");
    }
    for verb in ["get", "list", "watch", "deletecollection", "Create"] {
        assert!(!p.matches(&event(verb, "services")), "{verb} services");
    }
    // A namespace delete ends every exposure in it; other namespace requests do not matter.
    assert!(p.matches(&event("delete", "namespaces")));
    assert!(!p.matches(&event("create", "namespaces")));
    for resource in ["pods", "endpoints", "servicesx", "Services"] {
        assert!(!p.matches(&event("create", resource)), "create {resource}");
    }
}

#[test]
fn a_json_patch_of_the_type_is_selected_though_it_has_no_spec() {
    let patch = r#"{"verb":"patch","objectRef":{"resource":"services"},"requestObject":[{"op":"replace","path":"/spec/type","value":"NodePort"}]}"#;
    assert!(default().matches(patch));
}

#[test]
fn non_json_and_truncated_messages_match_no_json_pattern() {
    let p = default();
    assert!(!p.matches("services create patch"));
    assert!(!p.matches(r#"{"verb":"create","objectRef":{"resource":"services"#));
    assert!(!p.matches(""));
}

#[test]
fn selectors_naming_objects_or_missing_fields_never_compare() {
    let p = FilterPattern::parse(r#"{ $.objectRef = "services" }"#).unwrap();
    assert!(!p.matches(&event("create", "services")));
    let ne = FilterPattern::parse(r#"{ $.missing != "x" }"#).unwrap();
    assert!(!ne.matches(&event("create", "services")));
    let not_exists = FilterPattern::parse("{ $.missing NOT EXISTS }").unwrap();
    assert!(not_exists.matches(&event("create", "services")));
    let exists = FilterPattern::parse("{ $.verb NOT EXISTS }").unwrap();
    assert!(!exists.matches(&event("create", "services")));
}

#[test]
fn numbers_wildcards_arrays_and_is() {
    let doc = r#"{"code":201,"ips":["10.0.0.1","1.2.3.4"],"user":{"name":"system:serviceaccount:kube-system:x"},"dry":null,"ok":true}"#;
    let yes = [
        "{ $.code = 201 }",
        "{ $.code >= 200 && $.code < 300 }",
        "{ $.code != 404 }",
        r#"{ $.ips[1] = "1.2.3.4" }"#,
        r#"{ $.user.name = "system:serviceaccount:*" }"#,
        r#"{ $.user.name = "*:kube-system:*" }"#,
        "{ $.user.name = system:serviceaccount:kube-system:x }",
        "{ $.dry IS NULL }",
        "{ $.ok IS TRUE }",
        r#"{ ($.code = 500 || $.code = 201) && $.ok IS TRUE }"#,
    ];
    for text in yes {
        let p = FilterPattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(p.matches(doc), "{text}");
    }
    let no = [
        "{ $.code = 200 }",
        r#"{ $.code = "201" }"#,
        "{ $.code > 201 }",
        r#"{ $.ips[2] = "*" }"#,
        r#"{ $.user.name = "system:node:*" }"#,
        "{ $.ok IS FALSE }",
        "{ $.ok IS NULL }",
        r#"{ $.code = 500 || $.code = 201 && $.ok IS FALSE }"#,
    ];
    for text in no {
        let p = FilterPattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(!p.matches(doc), "{text}");
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let p = FilterPattern::parse("{ $.a = 1 || $.b = 1 && $.c = 1 }").unwrap();
    assert!(p.matches(r#"{"a":1}"#));
    assert!(!p.matches(r#"{"b":1}"#));
    assert!(p.matches(r#"{"b":1,"c":1}"#));
}

#[test]
fn wildcards() {
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("a*", "abc"));
    assert!(wildcard_match("*c", "abc"));
    assert!(wildcard_match("a*c", "ac"));
    assert!(wildcard_match("a*b*c", "aXbYc"));
    assert!(!wildcard_match("a*b*c", "aXcYb"));
    assert!(!wildcard_match("ab*ba", "aba"));
    assert!(!wildcard_match("abc", "abcd"));
}

#[test]
fn bad_patterns_are_refused_with_a_position() {
    assert_eq!(
        FilterPattern::parse("services create"),
        Err(PatternError::NotJson)
    );
    assert_eq!(
        FilterPattern::parse(&format!("{{ $.a = \"{}\" }}", "x".repeat(1100))),
        Err(PatternError::TooLong(1112))
    );
    for bad in [
        "{ bogus",
        "{ $.verb = \"create\" ",
        "{ $.verb }",
        "{ $. = 1 }",
        "{ $ = 1 }",
        "{ $.a[x] = 1 }",
        "{ $.a = \"open }",
        "{ $.a > \"x\" }",
        "{ $.a IS MAYBE }",
        "{ $.a NOT THERE }",
        "{ ($.a = 1 }",
        "{ $.a = 1 } trailing",
        "{ $.a = 1 && }",
    ] {
        assert!(
            matches!(FilterPattern::parse(bad), Err(PatternError::Syntax { .. })),
            "{bad}"
        );
    }
    let Err(PatternError::Syntax { at, .. }) = FilterPattern::parse("{ $.verb }") else {
        panic!("expected a syntax error");
    };
    assert_eq!(at, 10);
}

#[test]
fn escaped_quotes_in_strings() {
    let p = FilterPattern::parse(r#"{ $.msg = "say \"hi\"" }"#).unwrap();
    assert!(p.matches(r#"{"msg":"say \"hi\""}"#));
}
