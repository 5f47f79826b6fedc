//! `credential_process`: a command's exit status, stderr and JSON output.

use super::*;

impl Job {
    /// `credential_process` ended.
    pub(super) fn process_done(
        &mut self,
        r: Result<ProcessOutput, Error>,
        t: &ChainTimeouts,
    ) -> JobPoll {
        match r {
            Err(Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }) => self.fail(format!(
                "credential_process did not finish within {} s and was stopped",
                t.process.as_secs_f64()
            )),
            Err(e) => self.fail(format!("credential_process could not be run: {e}")),
            Ok(out) if out.status != Some(0) => {
                let status = match out.status {
                    Some(c) => format!("exit status {c}"),
                    None => "a signal".into(),
                };
                let stderr = String::from_utf8_lossy(&out.stderr);
                let stderr = if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", shorten(&stderr, 300))
                };
                self.fail(format!("credential_process failed with {status}{stderr}"))
            }
            Ok(out) => match wire::parse_credential_process_output(&out.stdout) {
                Ok(c) => self.got_base(c),
                Err(m) => self.fail(format!("credential_process output: {m}")),
            },
        }
    }
}
