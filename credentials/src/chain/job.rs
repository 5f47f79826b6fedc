//! One source's work: a base provider, then zero or more roles to
//! assume, one step at a time; each source's steps are in its own file.

use super::*;

pub(super) struct Sts {
    pub(super) url: String,
    pub(super) signing_region: String,
}

pub(super) enum ContainerAuth {
    None,
    Token(String),
    File(PathBuf),
}

pub(super) enum Base {
    Static(Credentials),
    Process {
        command: String,
    },
    WebIdentity {
        role_arn: String,
        token_file: PathBuf,
        session_name: Option<String>,
    },
    Container {
        url: String,
        auth: ContainerAuth,
    },
    Imds {
        endpoint: String,
    },
    Sso(Box<SsoSource>),
}

pub(super) enum JobState {
    Start,
    Sso,
    WebToken,
    WebSts,
    ContainerToken,
    ContainerGet,
    ImdsToken {
        role: Option<String>,
        refreshed: bool,
    },
    ImdsRole {
        token: String,
        refreshed: bool,
    },
    ImdsCreds {
        role: String,
        refreshed: bool,
    },
    Process,
    Roles(usize),
    AssumeRole(usize),
    Over,
}

pub(super) enum JobPoll {
    Io(ChainStep),
    Done(Credentials),
    /// Not available here (unreachable endpoint): try the next source.
    Skip(String),
    Fail(Error),
    /// The state changed without IO: run the loop again.
    Continue,
}

pub(super) struct Job {
    pub(super) source: String,
    /// Whether an unreachable endpoint moves on to the next source.
    pub(super) skippable: bool,
    pub(super) base: Base,
    pub(super) roles: Vec<Role>,
    pub(super) sts: Option<Sts>,
    pub(super) state: JobState,
    pub(super) current: Option<Credentials>,
}

pub(crate) fn build_request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Request<Vec<u8>>, String> {
    let uri = http::Uri::try_from(url)
        .map_err(|_| format!("`{}` is not a valid URL", shorten(url, 80)))?;
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .ok_or_else(|| format!("`{}` has no host", shorten(url, 80)))?;
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .map_err(|e| format!("cannot build request: {e}"))?;
    let h = req.headers_mut();
    h.insert(
        HOST,
        HeaderValue::from_str(&authority).map_err(|_| "bad host".to_string())?,
    );
    h.insert(
        USER_AGENT,
        HeaderValue::from_static(personalize_events_core::USER_AGENT_VALUE),
    );
    for (k, v) in headers {
        let name = http::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("bad header name {k}"))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| format!("the value of header {k} is not a valid header value"))?;
        h.insert(name, value);
    }
    Ok(req)
}

pub(super) fn http_step(
    req: Result<Request<Vec<u8>>, String>,
    timeout: Duration,
) -> Result<ChainStep, String> {
    req.map(|request| ChainStep::Http { request, timeout })
}

pub(super) fn status_summary(resp: &Response<Vec<u8>>) -> String {
    match wire::json_error_summary(resp.body()) {
        Some(s) => format!("HTTP {} ({})", resp.status().as_u16(), shorten(&s, 300)),
        None => format!("HTTP {}", resp.status().as_u16()),
    }
}

pub(super) fn read_token(
    r: Result<Vec<u8>, FileError>,
    what: &str,
    path: &Path,
) -> Result<String, String> {
    let bytes = match r {
        Ok(b) => b,
        Err(e) if e.is_not_found() => {
            return Err(format!("{what} {} does not exist", path.display()))
        }
        Err(e) => return Err(format!("cannot read {what} {}: {e}", path.display())),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{what} {} is not valid UTF-8", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("{what} {} is empty", path.display()));
    }
    Ok(token.to_string())
}

impl Job {
    pub(super) fn new(source: &str, skippable: bool, base: Base) -> Job {
        Job {
            source: source.to_string(),
            skippable,
            base,
            roles: Vec::new(),
            sts: None,
            state: JobState::Start,
            current: None,
        }
    }

    pub(super) fn fail(&mut self, message: impl Into<String>) -> JobPoll {
        self.state = JobState::Over;
        JobPoll::Fail(cred_err(&self.source, message))
    }

    pub(super) fn unavailable(&mut self, message: String) -> JobPoll {
        if self.skippable {
            self.state = JobState::Over;
            JobPoll::Skip(message)
        } else {
            self.fail(message)
        }
    }

    pub(super) fn io(&mut self, next: JobState, step: Result<ChainStep, String>) -> JobPoll {
        match step {
            Ok(step) => {
                self.state = next;
                JobPoll::Io(step)
            }
            Err(m) => self.fail(m),
        }
    }

    pub(super) fn got_base(&mut self, c: Credentials) -> JobPoll {
        self.current = Some(c);
        self.state = JobState::Roles(0);
        JobPoll::Continue
    }

    /// Advances this source with `input` (the result of its last step).
    pub(super) fn poll(
        &mut self,
        input: Option<Input>,
        now: SystemTime,
        t: &ChainTimeouts,
        secrets: &mut Vec<String>,
    ) -> JobPoll {
        let mut input = input;
        loop {
            let state = std::mem::replace(&mut self.state, JobState::Over);
            let outcome = match (state, input.take()) {
                (JobState::Start, None) => match &self.base {
                    Base::Static(c) => {
                        let c = c.clone();
                        self.got_base(c)
                    }
                    Base::Process { command } => {
                        let step = ChainStep::RunProcess {
                            command: command.clone(),
                            timeout: t.process,
                        };
                        self.io(JobState::Process, Ok(step))
                    }
                    Base::WebIdentity { token_file, .. } => {
                        let step = ChainStep::ReadFile(token_file.clone());
                        self.io(JobState::WebToken, Ok(step))
                    }
                    Base::Container { auth, .. } => match auth {
                        ContainerAuth::File(p) => {
                            let step = ChainStep::ReadFile(p.clone());
                            self.io(JobState::ContainerToken, Ok(step))
                        }
                        ContainerAuth::Token(tok) => {
                            secrets.push(tok.clone());
                            let step = self.container_step(Some(tok), t);
                            self.io(JobState::ContainerGet, step)
                        }
                        ContainerAuth::None => {
                            let step = self.container_step(None, t);
                            self.io(JobState::ContainerGet, step)
                        }
                    },
                    Base::Sso(_) => {
                        self.state = JobState::Sso;
                        JobPoll::Continue
                    }
                    Base::Imds { .. } => {
                        let step = self.imds_token_step(t);
                        self.io(
                            JobState::ImdsToken {
                                role: None,
                                refreshed: false,
                            },
                            step,
                        )
                    }
                },

                (JobState::Sso, input) => {
                    let Base::Sso(sso) = &mut self.base else {
                        return self.fail("SSO state without an SSO source");
                    };
                    match sso.poll(input, now, secrets) {
                        SsoPoll::Io(step) => self.io(JobState::Sso, Ok(step)),
                        SsoPoll::Done(c) => self.got_base(c),
                        SsoPoll::Fail(m) => self.fail(m),
                    }
                }
                (JobState::WebToken, Some(Input::File(path, r))) => {
                    self.web_token(path, r, now, t, secrets)
                }
                (JobState::WebSts, Some(Input::Http(r))) => self.web_sts(r),

                (JobState::ContainerToken, Some(Input::File(path, r))) => {
                    self.container_token(path, r, t, secrets)
                }
                (JobState::ContainerGet, Some(Input::Http(r))) => self.container_answer(r),

                (JobState::ImdsToken { role, refreshed }, Some(Input::Http(r))) => {
                    self.imds_token(role, refreshed, r, t, secrets)
                }
                (JobState::ImdsRole { token, refreshed }, Some(Input::Http(r))) => {
                    self.imds_role(token, refreshed, r, t)
                }
                (JobState::ImdsCreds { role, refreshed }, Some(Input::Http(r))) => {
                    self.imds_creds(role, refreshed, r, t)
                }

                (JobState::Process, Some(Input::Process(r))) => self.process_done(r, t),

                (JobState::Roles(i), None) => self.assume_next(i, now, t, secrets),
                (JobState::AssumeRole(i), Some(Input::Http(r))) => self.assume_answer(i, r),
                (_, None) => {
                    return JobPoll::Fail(Error::Config(
                        "credentials chain: a step result is missing".into(),
                    ))
                }
                (_, Some(_)) => {
                    return JobPoll::Fail(Error::Config(
                        "credentials chain: got a result of the wrong kind for this step".into(),
                    ))
                }
            };
            if let JobPoll::Continue = outcome {
                continue;
            }
            return outcome;
        }
    }
}
