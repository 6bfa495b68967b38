//! `nodeport-watch health`: asks a running daemon whether it is alive (or ready).
//!
//! The container image has no curl; Docker's `HEALTHCHECK` runs this instead. With `--config`
//! it reads only `[server] listen` from the file (no secret is resolved), and a wildcard
//! listen address is asked on loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use super::output::Output;
use crate::config;
use crate::config::server::parse_listen;

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Read `[server] listen` from this configuration file.
    #[arg(long, short, env = "NODEPORT_WATCH_CONFIG")]
    config: Option<PathBuf>,
    /// The daemon's base URL, e.g. `http://127.0.0.1:9090` (takes precedence over `--config`).
    #[arg(long)]
    url: Option<String>,
    /// Ask `/readyz` instead of `/healthz`.
    #[arg(long)]
    ready: bool,
    /// Give up after this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// Where to reach a server listening on `listen` from the same host.
fn local_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

fn base_url(args: &HealthArgs) -> anyhow::Result<String> {
    if let Some(url) = &args.url {
        return daemon_url(url);
    }
    let Some(path) = &args.config else {
        bail!("give --config FILE or --url http://HOST:PORT");
    };
    let raw = config::load_raw(path)?;
    let Some(server) = raw.server else {
        bail!(
            "{} has no [server] table: the daemon serves no health endpoint",
            path.display()
        );
    };
    let listen = parse_listen(&server.listen)
        .map_err(anyhow::Error::msg)
        .context("[server] listen")?;
    Ok(format!("http://{}", local_address(listen)))
}

/// The daemon's base URL from `--url`: `HOST:PORT` means `http://HOST:PORT`, as with curl.
fn daemon_url(given: &str) -> anyhow::Result<String> {
    let given = given.trim().trim_end_matches('/');
    let url = if given.contains("://") {
        given.to_owned()
    } else {
        format!("http://{given}")
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(url)
        }
        Ok(parsed) => bail!(
            "--url {given}: the scheme `{}` is not served; give http://HOST:PORT (e.g. http://127.0.0.1:9090)",
            parsed.scheme()
        ),
        Err(e) => bail!(
            "--url {given}: not a URL ({e}); give HOST:PORT or http://HOST:PORT, e.g. 127.0.0.1:9090"
        ),
    }
}

pub async fn health(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let url = format!(
        "{}/{}",
        base_url(&args)?,
        if args.ready { "readyz" } else { "healthz" }
    );
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .build()
        .context("HTTP client")?;
    match client.get(&url).send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let mut out = Output::stdout();
            out.line(format_args!(
                "{url}: HTTP {} {}",
                status.as_u16(),
                body.trim()
            ))?;
            out.flush()?;
            Ok(if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(e) => {
            let e = e.without_url();
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            let mut out = Output::stdout();
            out.line(format_args!("{url}: {text}"))?;
            out.flush()?;
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_is_asked_on_loopback() {
        let l = |s: &str| local_address(s.parse().unwrap()).to_string();
        assert_eq!(l("0.0.0.0:9090"), "127.0.0.1:9090");
        assert_eq!(l("[::]:9090"), "[::1]:9090");
        assert_eq!(l("10.1.2.3:80"), "10.1.2.3:80");
    }

    #[test]
    fn a_url_without_scheme_is_http() {
        assert_eq!(
            daemon_url("127.0.0.1:19090/").unwrap(),
            "http://127.0.0.1:19090"
        );
        assert_eq!(daemon_url("https://h:1").unwrap(), "https://h:1");
        assert!(daemon_url("ftp://h:1").is_err());
        assert!(daemon_url("http://[::1").is_err());
    }
}
