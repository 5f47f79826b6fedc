//! ECS / EKS container credentials: the endpoint from
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`, the token from
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`.

use super::*;

/// The container credentials endpoint, if configured.
pub(super) fn container_base(env: &Environment) -> Result<Option<Base>, String> {
    let url = if let Some(rel) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        let sep = if rel.starts_with('/') { "" } else { "/" };
        format!("{ECS_HOST}{sep}{rel}")
    } else if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        check_full_uri(full)?;
        full.to_string()
    } else {
        return Ok(None);
    };
    http::Uri::try_from(url.as_str())
        .map_err(|_| "the container credentials URI is not a valid URI".to_string())?;
    let auth = if let Some(f) = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        ContainerAuth::File(env.expand_home(f))
    } else if let Some(t) = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
        ContainerAuth::Token(t.to_string())
    } else {
        ContainerAuth::None
    };
    Ok(Some(Base::Container { url, auth }))
}

/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` must be https, or http to a
/// loopback address or one of the ECS / EKS Pod Identity agent addresses.
pub(super) fn check_full_uri(full: &str) -> Result<(), String> {
    let uri = http::Uri::try_from(full)
        .map_err(|_| "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URI".to_string())?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let allowed = host.eq_ignore_ascii_case("localhost")
                || match bare.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(a)) => {
                        a.is_loopback()
                            || a == std::net::Ipv4Addr::new(169, 254, 170, 2)
                            || a == std::net::Ipv4Addr::new(169, 254, 170, 23)
                    }
                    Ok(std::net::IpAddr::V6(a)) => {
                        a.is_loopback()
                            || a == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)
                    }
                    Err(_) => false,
                };
            if allowed {
                Ok(())
            } else {
                Err(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI host `{}` is not allowed over http \
                     (only loopback, 169.254.170.2, 169.254.170.23, [fd00:ec2::23]; use https)",
                    shorten(host, 60)
                ))
            }
        }
        _ => Err("AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http or https URI".into()),
    }
}

impl Job {
    /// The container authorization token file was read: ask the endpoint.
    pub(super) fn container_token(
        &mut self,
        path: PathBuf,
        r: Result<Vec<u8>, FileError>,
        t: &ChainTimeouts,
        secrets: &mut Vec<String>,
    ) -> JobPoll {
        match read_token(r, "container authorization token file", &path) {
            Err(m) => self.fail(m),
            Ok(token) => {
                secrets.push(token.clone());
                let step = self.container_step(Some(&token), t);
                self.io(JobState::ContainerGet, step)
            }
        }
    }

    /// The container endpoint answered.
    pub(super) fn container_answer(&mut self, r: Result<Response<Vec<u8>>, Error>) -> JobPoll {
        let url = match &self.base {
            Base::Container { url, .. } => url.clone(),
            _ => String::new(),
        };
        match r {
            Err(e) => self.unavailable(format!("{url} not reachable: {e}")),
            Ok(resp) if resp.status().is_success() => {
                match wire::parse_container_credentials(resp.body()) {
                    Ok(c) => self.got_base(c),
                    Err(m) => self.fail(format!("{url}: {m}")),
                }
            }
            Ok(resp) => {
                let s = status_summary(&resp);
                self.fail(format!("{url} answered {s}"))
            }
        }
    }

    pub(super) fn container_step(
        &self,
        token: Option<&str>,
        t: &ChainTimeouts,
    ) -> Result<ChainStep, String> {
        let Base::Container { url, .. } = &self.base else {
            return Err("not a container source".into());
        };
        let mut headers = vec![("accept", "application/json")];
        if let Some(tok) = token {
            if tok.contains(['\r', '\n']) {
                return Err("the container authorization token contains a line break".into());
            }
            headers.push((AUTHORIZATION.as_str(), tok));
        }
        http_step(
            build_request(Method::GET, url, &headers, Vec::new()),
            t.container,
        )
    }
}
