//! The file outbox: deliveries written to disk instead of sent, for local runs
//! and demos.
//!
//! ```text
//! OUTBOX/
//!   email/20250301T101502.123456Z-0195….eml   one RFC 5322 message per file
//!   sms.jsonl                                  one {"to","body","sent_at"} per line
//! ```

use std::{
    fs::{self, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use lettre::message::Mailbox;
use serde::Serialize;
use time::{
    OffsetDateTime, format_description::FormatItem, format_description::well_known::Rfc3339,
    macros::format_description,
};
use uuid::Uuid;

use crate::{
    Courier, DeliveryError, Email, Message, Sms,
    compose::{EightBit, compose, parse_sender},
    message::{Channel, is_e164},
};

/// Compact ISO 8601 in UTC, fixed width, so that `ls` lists files by time.
const FILE_TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:6]Z");

/// Writes each e-mail as an `.eml` file under `OUTBOX/email/` and appends each
/// SMS as a JSON line to `OUTBOX/sms.jsonl`. Directories are created as needed,
/// with mode 0700.
///
/// A reader never sees half an e-mail (each file is written under a hidden
/// temporary name, then renamed) nor two SMS lines mixed together (each line
/// is one `write` to a file opened for appending, under a lock shared by all
/// clones of this outbox).
#[derive(Clone)]
pub struct FileOutbox {
    root: PathBuf,
    from: Mailbox,
    sms_log_lock: Arc<Mutex<()>>,
}

/// One line of `sms.jsonl`.
#[derive(Serialize)]
struct SmsLine<'a> {
    to: &'a str,
    body: &'a str,
    sent_at: String,
}

impl FileOutbox {
    /// An outbox rooted at `root`, writing e-mails from `from_address`
    /// (e.g. `twostep <no-reply@twostep.localhost>`). Touches no file yet.
    pub fn new(root: impl Into<PathBuf>, from_address: &str) -> Result<Self, DeliveryError> {
        Ok(Self {
            root: root.into(),
            from: parse_sender(from_address)?,
            sms_log_lock: Arc::new(Mutex::new(())),
        })
    }

    /// The directory holding one `.eml` file per e-mail.
    pub fn email_dir(&self) -> PathBuf {
        self.root.join("email")
    }

    /// The file holding one JSON line per SMS.
    pub fn sms_log(&self) -> PathBuf {
        self.root.join("sms.jsonl")
    }

    /// Writes `email` as a new `.eml` file and returns its path.
    pub async fn write_email(&self, email: &Email) -> Result<PathBuf, DeliveryError> {
        let message = compose(&self.from, email, EightBit::Allowed)?;
        let now = OffsetDateTime::now_utc();
        let stamp = now.format(FILE_TIMESTAMP).map_err(io::Error::other)?;
        let name = format!("{stamp}-{}.eml", Uuid::now_v7());
        let dir = self.email_dir();
        run_blocking(move || write_whole_file(&dir, &name, &message.formatted())).await
    }

    /// Appends `sms` as one JSON line `{"to", "body", "sent_at"}`.
    pub async fn append_sms(&self, sms: &Sms) -> Result<(), DeliveryError> {
        if !is_e164(&sms.to) {
            return Err(DeliveryError::InvalidRecipient(Channel::Sms));
        }
        let sent_at = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .map_err(io::Error::other)?;
        let line = SmsLine {
            to: &sms.to,
            body: &sms.body,
            sent_at,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        let (root, path, lock) = (self.root.clone(), self.sms_log(), self.sms_log_lock.clone());
        run_blocking(move || {
            let _one_writer = lock.lock().unwrap_or_else(PoisonError::into_inner);
            create_private_dir_all(&root)?;
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(&bytes)?;
            file.flush()
        })
        .await
    }
}

#[async_trait]
impl Courier for FileOutbox {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match message {
            Message::Email(email) => self.write_email(email).await.map(drop),
            Message::Sms(sms) => self.append_sms(sms).await,
        }
    }
}

/// Writes `contents` to `dir/name` so that the file appears whole or not at
/// all: first under a hidden temporary name in the same directory (so the
/// rename stays on one file system), then renamed.
fn write_whole_file(dir: &Path, name: &str, contents: &[u8]) -> io::Result<PathBuf> {
    create_private_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let written = fs::write(&temporary, contents).and_then(|()| fs::rename(&temporary, &target));
    if written.is_err() {
        // Best effort: a leftover hidden file is harmless, the error matters more.
        let _ = fs::remove_file(&temporary);
    }
    written.map(|()| target)
}

/// Creates `dir` and its missing parents readable by the owner only (0700):
/// the outbox holds codes and tokens in clear.
fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Runs file work off the async threads.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, DeliveryError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| io::Error::other("the outbox writer stopped unexpectedly"))
        .and_then(|written| written)
        .map_err(DeliveryError::Outbox)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[tokio::test]
    async fn the_outbox_directories_are_private() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("outbox");
        let outbox = FileOutbox::new(&root, "twostep <no-reply@twostep.localhost>")?;

        outbox
            .append_sms(&Sms {
                to: "+32470123456".into(),
                body: "123456".into(),
            })
            .await?;
        outbox
            .write_email(&Email {
                to: "alice@example.com".into(),
                subject: "Your code".into(),
                text: "123456".into(),
            })
            .await?;

        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&outbox.email_dir()), 0o700);
        Ok(())
    }
}
