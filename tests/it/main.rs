//! Integration tests: one binary, so the crate and its dependencies link once.
//!
//! Modules, by stage of the data flow:
//! - `architecture` no import cycle between the top-level modules of `src/` (nor, once the config
//!   move lands, inside `config/`), proved by reading the sources; the check finds a planted cycle
//! - `cli`          the first hour (issue 11): the file source over gzip and binary files, closed
//!   pipes, MITRE ids, `health --url`, `--help`, `--version`, terminals and colours
//! - `cli_conventions` shell completions and the manual page, generated from the CLI definition:
//!   every subcommand, valid bash that completes, a page groff renders without warnings
//! - `cli_detect`   `detect` input: gzip by content, binary and damaged input skipped, folders,
//!   `--explain` reasons and the audit-level warning
//! - `config`       every problem reported with its key; shipped configs valid; env overrides
//! - `config_schema` `config-schema` stays in step with `validate`: shipped configs match it,
//!   shapes `validate` refuses (unknown keys and types, wrong value types) it refuses too
//! - `config_errors` config problems through the binary, word for word: full key, line or
//!   environment variable, expected/found, did-you-mean, all at once, printed once, no secret
//! - `corpus`       every public corpus event gives its documented verdict (CLI and library)
//! - `detection`    the cases other tools get wrong, in every provider shape
//! - `external_corpus` third-party public records (`../shared/corpus/external`) through the
//!   binary: the corpus's own checker reports `0 failed`; fails when the corpus is missing
//! - `evasion`      an attacker's cheap evasions: reused Audit-IDs, GKE dry-run/truncation labels,
//!   EKS events cut by CloudWatch, degraded alerts below a sink's threshold, risky exceptions
//! - `robustness`   arbitrary bytes, truncation and wrong types never panic a normalizer
//! - `file_source`  following, rotation, partial lines, restart
//! - `aws_poller`   CloudWatch on moto: one alert per event, clusters, streams, discovery, roles
//! - `aws_windows`  CloudWatch windows: >10k events in batches, same-ms edges, late events, restarts
//! - `aws_faults`   CloudWatch behind a throttling proxy: nothing lost, checkpoint never moves early
//! - `aws_pushdown` the pushed-down filter pattern never hides an alert (model and end to end)
//! - `aws_cli`      CloudWatch through the binary: env credentials, `validate --connect`, `scan`
//! - `gcp_fake`     the fake Cloud Logging honours the `entries.list` contract
//! - `gcp_logging`  GKE poller vs the fake: corpus alerts = `detect`, projects, pagination
//! - `gcp_resilience` late entries, restart and crash, shared quota, failed pages, scans
//! - `fake_log_analytics` the fake Log Analytics honours the query contract and refuses KQL it
//!   cannot parse with the service's 400
//! - `azure_monitor` Log Analytics windows, late rows, splits, table styles (against a local fake)
//! - `azure_monitor_failures` throttling, partial results, tokens, scans, config (same fake)
//! - `azure_cli_token` the binary's `azure_cli` credential takes a fake `az`'s token to the
//!   fake Log Analytics (how the fleet measurements run AKS through the binary)
//! - `azure_blob`   storage archives: appends, split lines, clusters, restart (against Azurite)
//! - `azure_blob_lifecycle` settled hours, scans, healthchecks, refused keys, max_catchup
//! - `exposures`    the exposure lifecycle in every provider shape (library) and `detect
//!   --exposures`: delete, ClusterIP, JSON patch, externalIPs, node ports, reopen, namespace,
//!   stages, out of order, dry-run and forbidden deletes
//! - `exposures_daemon` the lifecycle through the daemon: resolve to PagerDuty, Slack and
//!   webhook, restart between open and close, `exposures` table and JSON, `scan --inventory-only`
//! - `state`        the outbox survives crashes: re-delivers what was not delivered, never twice;
//!   a damaged row is dead-lettered by the deliverer, never blocks its sink
//! - `state_contract` what every state backend must do (commit, outbox, dead letters, seen ids,
//!   cursors, clock, ownership token, late marks), run on SQLite file and memory and PostgreSQL
//! - `state_contract_outbox` the delivery-queue cases of the contract (order, marks, dead
//!   letters, late marks), run by `state_contract!` on every backend
//! - `state_contract_exposures` the exposure cases of the contract: open and close in the
//!   commit, alerts tied to exposures, resolutions, older writes, namespaces, counts, reminders
//! - `state_lock`   one delivering process per SQLite file: a second daemon is refused, `scan`
//!   beside a daemon only queues, `alerts` works without sink secrets
//! - `state_lock_postgres` delivery on PostgreSQL by the sink's lease holder: `scan` beside a
//!   daemon, or with no replica running, only queues; the URL's password never shown
//! - `replicas`     three daemons on one PostgreSQL database over GKE sources on the fake: each
//!   alert delivered once, sources spread and rebalanced on join and leave, provider quota held
//!   fleet-wide (counted at the fake)
//! - `replicas_failover` kill -9 / SIGSTOP of a replica (takeover in time, late commit refused),
//!   PostgreSQL restarted mid-run: nothing lost, nothing twice
//! - `replicas_once`  once per fleet: a scheduled scan split by source among the holders, the
//!   outbox totals exported only by the holder of `fleet/metrics` (dropped when it moves)
//! - `replicas_aws` the same fleet over CloudWatch on moto: a source per replica, each alert
//!   once, kill -9 taken over in time, one account's FilterLogEvents budget held fleet-wide
//!   (counted at the proxy)
//! - `postgres_store` the PostgreSQL store on a throwaway server: restart and reconnect, migration
//!   once under concurrency, newer schema refused, atomic commits, idempotent enqueue, outbox
//! - `postgres_leases` leases: epochs, expiry by the database clock, fenced commits refused after
//!   a takeover, a takeover waiting for a commit in flight, scan occurrences, replica registry
//! - `state_cli`    the store through the binary: `status` on SQLite and PostgreSQL (cursors,
//!   outbox, replicas, leases), `alerts` from PostgreSQL, the URL's password never shown
//! - `sinks`        webhook, Slack, Splunk HEC, PagerDuty against loopback receivers: exact
//!   requests, signatures, idempotency keys, classification, secrets never shown
//! - `hostile_output` attacker-chosen names (URLs, mentions, line breaks, control characters,
//!   bidi overrides, invalid UTF-8) through Slack (inert), webhook/OCSF/HEC (exact, one line)
//! - `sink_alertmanager` the `alertmanager` sink against a strict API v2 receiver: labels,
//!   annotations, times, auth, re-posts and closes; the receiver's own schema contract
//! - `sink_aws_eventbridge` the `aws_eventbridge` sink on moto: PutEvents to a custom bus
//!   routed by a rule to a log group (source, detail-type, time, detail), a missing bus
//!   retried, configuration problems and the external ID never shown
//! - `sink_aws_security_hub` the `aws_security_hub` sink on moto: one ASFF finding per exposure
//!   read back with GetFindings (fields, re-send, close archives it), the account from STS, the
//!   healthcheck; a loopback receiver's FailedFindings (refused → dead letter, throttled →
//!   retry); configuration problems, the role's account, the external ID never shown
//! - `sink_azure_logs_ingestion` the `azure_logs_ingestion` sink against a strict Logs
//!   Ingestion API receiver: path, api-version, token audience, rows, 1 MB; its own contract
//! - `sink_elasticsearch` the `elasticsearch` sink against a strict `_bulk` receiver: NDJSON,
//!   ECS types, idempotency by id (409), per-item classification; the receiver's own contract
//! - `sink_falco`   `format = "falco"` on webhook and file: the Falco event a strict
//!   falcosidekick input accepts; the input's own contract
//! - `delivery`     a sink down (refused, 503, 429 + Retry-After) then back: each alert once, in
//!   order; a 400 dead-lettered, listed and re-queued with `alerts`
//! - `supervision`  a panicking sink restarted, counted and shown by /readyz; a hung sink and
//!   SIGTERM (the real daemon exits in time, the alert stays pending); error bodies capped
//! - `daemon`       `run` on the demo config, then a clean stop on SIGTERM
//! - `faults_files` a log rotated to a name `paths` does not match: its tail is read first
//! - `faults_memory` a Cloud Logging page of large entries is cut at `max_batch_size` mid-page
//! - `faults_clock` clock jumps: a checkpoint ahead of the clock is rewound, reported, read once
//! - `faults_orphans` cursors of sources no longer configured: named at start, `prune --orphans`
//! - `faults_store` a SQLite store that fills up, turns read-only or is damaged: a sent alert is
//!   never sent again, its mark is written once the volume recovers, readiness notices
//! - `crash`        kill -9 of the real daemon while polling, after the outbox write and during
//!   delivery, then restart: no alert missing, repeats carry the same id
//! - `errors`       cloud failures through the binary: missing AWS credentials, unreachable
//!   endpoints of every provider, refused credentials and permissions (fakes), the
//!   `validate --connect` summary and exit status, no SDK log lines at the default level
//! - `operations`   /readyz says starting until the first poll, then follows failing and
//!   recovering sources and the state store; the daemon serves /healthz and /metrics (parsed
//!   as Prometheus text); `health` subcommand
//! - `scan_bounds`  `--since`/`--until` are inclusive, identically for every source type with a
//!   time axis (CloudWatch on moto, the fake Cloud Logging, the fake Log Analytics, Azurite)
//! - `scans`        a scheduled scan finds an alert behind the live checkpoint and re-sends
//!   nothing; checkpoints resume, and one older than max_catchup is skipped forward loudly
//! - `deployment`   Kubernetes manifests (one replica, and `ha/`: three on PostgreSQL) parse and
//!   fit together; the ConfigMaps validate; the Dockerfile runs the daemon non-root with a HEALTHCHECK
//! - `thread_bound` 300 file sources polling at once hold a bounded number of threads
//! - `doc_links`    every relative link in README.md and docs/ reaches a file and a heading; the
//!   README shows the demo, install and test commands
//! - `measure`      (ignored; run explicitly) detection latency p50/p99 and RSS with 100 sources
//! - `aws_measure`  (ignored; run explicitly) one simulated cluster-day with and without pushdown
//! - `measure_failover` (ignored; run explicitly) failover time over ten kill -9s of three
//!   replicas on PostgreSQL: median and worst takeover against two intervals plus the lease
//! - `measure_fleet` (ignored; run explicitly) one daemon over 1,000 clusters (file, GKE on the
//!   fake): memory, idle CPU, threads, visible -> alert p99, requests per minute per project
//! - `measure_mixed` (ignored; run explicitly) 1,000 EKS (moto, many accounts and regions), GKE
//!   and AKS (fakes) clusters on one daemon and on three replicas: memory, idle CPU, threads,
//!   visible -> alert p99 per provider, requests per minute per quota key
//! - `measure_store` (ignored; run explicitly) commits and alerts per second, SQLite and PostgreSQL
//! - `monitoring_assets` the Grafana dashboard and Prometheus rules under `deploy/` query only
//!   metrics the daemon exports; every rule has a severity, summary and description
//!
//! Shared helpers live in `support`.

mod architecture;
mod aws_cli;
mod aws_faults;
mod aws_measure;
mod aws_poller;
mod aws_pushdown;
mod aws_windows;
mod azure_blob;
mod azure_blob_lifecycle;
mod azure_cli_token;
mod azure_monitor;
mod azure_monitor_failures;
mod cli;
mod cli_conventions;
mod cli_detect;
mod config;
mod config_errors;
mod config_schema;
mod corpus;
mod crash;
mod daemon;
mod delivery;
mod deployment;
mod detection;
mod doc_links;
mod errors;
mod evasion;
mod exposures;
mod exposures_daemon;
mod external_corpus;
mod fake_log_analytics;
mod faults_clock;
mod faults_files;
mod faults_memory;
mod faults_orphans;
mod faults_store;
mod file_source;
mod gcp_fake;
mod gcp_logging;
mod gcp_resilience;
mod hostile_output;
mod measure;
mod measure_failover;
mod measure_fleet;
mod measure_mixed;
mod measure_store;
mod monitoring_assets;
mod operations;
mod postgres_leases;
mod postgres_store;
mod replicas;
mod replicas_aws;
mod replicas_failover;
mod replicas_once;
mod robustness;
mod scan_bounds;
mod scans;
mod sink_alertmanager;
mod sink_aws_eventbridge;
mod sink_aws_security_hub;
mod sink_azure_logs_ingestion;
mod sink_elasticsearch;
mod sink_falco;
mod sinks;
mod state;
mod state_cli;
mod state_contract;
mod state_contract_exposures;
mod state_contract_outbox;
mod state_lock;
mod state_lock_postgres;
mod supervision;
mod support;
mod thread_bound;
