//! A small world for projection tests: a real `SqliteStore` in a temporary
//! folder, and licences and accounts driven through the domain deciders, so
//! that every event the projectors see is one the service could write.
//!
//! Times are seconds after [`T0`]; "random" values are numbered: password
//! step `n` draws challenge `n`, code `n` (digits `n23456`) and session `n`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;
use twostep_domain::account::{AccountCommand, Fresh, MessagePurpose, NewToken, PasswordCheck};
use twostep_domain::attempt::AttemptEvent;
use twostep_domain::codec::{self, SCHEMA_VERSION};
use twostep_domain::{
    Account, AccountEvent, Channel, CodeKey, Digest, EmailAddress, Licence, LicenceCommand,
    LicenceEvent, LicenceId, LicenceName, Login, MobileNumber, OneTimeCode, PolicyPatch, Timestamp,
    UserId,
};
use twostep_projections::{
    ActiveCodeView, AlertView, HistoryEntry, HistoryQuery, LockoutView, ReadModels,
};
use twostep_store::sqlite::SqliteStore;
use twostep_store::{EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent};
use uuid::Uuid;

/// The instant every scenario starts at (Unix seconds).
pub const T0: i64 = 1_700_000_000;

/// `seconds` after [`T0`].
pub fn at(seconds: u64) -> Timestamp {
    Timestamp::from_unix(T0).plus_seconds(seconds)
}

/// A deterministic stand-in for the service's HMAC.
pub struct TestKey;

impl CodeKey for TestKey {
    fn digest(&self, user: UserId, code_id: Uuid, code: &OneTimeCode) -> Digest {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(user.0.as_bytes());
        bytes[16..].copy_from_slice(code_id.as_bytes());
        for (i, digit) in code.as_str().bytes().enumerate() {
            bytes[i % 16] ^= digit.wrapping_mul(31).wrapping_add(i as u8);
            bytes[16 + i % 16] ^= digit;
        }
        Digest(bytes)
    }
}

fn tagged(tag: u8, n: u128) -> Digest {
    let mut bytes = [tag; 32];
    bytes[..16].copy_from_slice(&n.to_be_bytes());
    Digest(bytes)
}

/// The digits drawn for code `n`.
fn digits(n: u128) -> [u8; 10] {
    [(n % 10) as u8, 2, 3, 4, 5, 6, 7, 8, 9, 0]
}

/// A well-formed code no test ever issues.
pub const WRONG_CODE: &str = "999999";

/// Licences and accounts as their streams say, and the store they live in.
pub struct World {
    dir: TempDir,
    pub store: Arc<dyn EventStore>,
    licences: BTreeMap<LicenceId, Licence>,
    accounts: BTreeMap<UserId, Account>,
    /// Code text and report digest by code id.
    codes: HashMap<Uuid, (String, Digest)>,
    /// Session digests by session id.
    sessions: HashMap<Uuid, Digest>,
    draws: u128,
    requests: u128,
    /// Bulk mode: events kept per stream (expected version, events) until [`World::flush`].
    pending: Option<BTreeMap<String, (u64, Vec<NewEvent>)>>,
}

impl World {
    /// An empty store in a fresh temporary folder.
    pub async fn new() -> World {
        World::with_store(None).await
    }

    /// A world whose store is the file at `store` (kept after the test), or
    /// one in the temporary folder.
    pub async fn with_store(store: Option<&std::path::Path>) -> World {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = store.map_or_else(
            || dir.path().join("events.sqlite3"),
            std::path::Path::to_owned,
        );
        let store = SqliteStore::open(&path).expect("the event store opens");
        World {
            dir,
            store: Arc::new(store),
            licences: BTreeMap::new(),
            accounts: BTreeMap::new(),
            codes: HashMap::new(),
            sessions: HashMap::new(),
            draws: 0,
            requests: 0,
            pending: None,
        }
    }

    /// Keeps events in memory until [`World::flush`] (for big scenarios).
    pub fn buffered(mut self) -> World {
        self.pending = Some(BTreeMap::new());
        self
    }

    /// A read-model file path in the world's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Opens (or reopens) the read models in `name`.
    pub fn read_models(&self, name: &str) -> Arc<ReadModels> {
        ReadModels::open(&self.path(name)).expect("the read models open")
    }

    /// Every user, in id order.
    pub fn users(&self) -> Vec<UserId> {
        self.accounts.keys().copied().collect()
    }

    /// Every licence, in id order.
    pub fn licence_ids(&self) -> Vec<LicenceId> {
        self.licences.keys().copied().collect()
    }

    /// The folded account of a user.
    pub fn account(&self, user: UserId) -> &Account {
        self.accounts.get(&user).expect("a known account")
    }

    fn metadata(&mut self) -> Metadata {
        self.requests += 1;
        Metadata {
            correlation_id: Uuid::from_u128(0x2EC0_0000_0000 + self.requests),
            causation_id: None,
            actor: "anonymous".into(),
            client_ip: Some(format!("198.51.100.{}", self.requests % 250)),
            user_agent: Some("twostep-tests/1".into()),
            chain: None,
        }
    }

    async fn append<E: serde::Serialize>(
        &mut self,
        stream: &str,
        version: u64,
        events: &[E],
    ) -> Vec<RecordedEvent> {
        if events.is_empty() {
            return Vec::new();
        }
        let metadata = self.metadata();
        let events: Vec<NewEvent> = events
            .iter()
            .map(|event| {
                let (event_type, data) = codec::encode(event).expect("events encode");
                NewEvent {
                    event_id: Uuid::new_v4(),
                    event_type,
                    schema_version: SCHEMA_VERSION,
                    data,
                    metadata: metadata.clone(),
                }
            })
            .collect();
        if let Some(pending) = &mut self.pending {
            pending
                .entry(stream.to_owned())
                .or_insert_with(|| (version, Vec::new()))
                .1
                .extend(events);
            return Vec::new();
        }
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        };
        self.store
            .append(stream, expected, events)
            .await
            .expect("the append succeeds")
            .recorded
    }

    /// Appends what bulk mode kept: licence streams first (so that every
    /// user exists before their account events), then accounts, many at once.
    pub async fn flush(&mut self) {
        let Some(pending) = self.pending.replace(BTreeMap::new()) else {
            return;
        };
        let (licences, others): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(stream, _)| stream.starts_with("licence-"));
        for group in [licences, others] {
            let mut running = tokio::task::JoinSet::new();
            for (stream, (version, events)) in group {
                let store = Arc::clone(&self.store);
                running.spawn(async move {
                    let mut version = version;
                    let mut events = events;
                    while !events.is_empty() {
                        let rest = events.split_off(events.len().min(500));
                        let expected = if version == 0 {
                            ExpectedVersion::NoStream
                        } else {
                            ExpectedVersion::Exact(version)
                        };
                        let count = events.len() as u64;
                        store
                            .append(&stream, expected, events)
                            .await
                            .expect("the bulk append succeeds");
                        version += count;
                        events = rest;
                    }
                });
                while running.len() >= 64 {
                    if let Some(done) = running.join_next().await {
                        done.expect("an append task");
                    }
                }
            }
            while let Some(done) = running.join_next().await {
                done.expect("an append task");
            }
        }
    }

    // ------------------------------------------------------------ licences

    /// The id of licence `name`.
    pub fn licence_id(name: &str) -> LicenceId {
        LicenceId::of(LicenceName::parse(name).expect("a licence name").key())
    }

    /// The id of `login` in licence `licence`.
    pub fn user_id(licence: &str, login: &str) -> UserId {
        UserId::of(
            Self::licence_id(licence),
            Login::parse(login).expect("a login").key(),
        )
    }

    /// Decides and appends a licence command.
    pub async fn licence(&mut self, name: &str, command: LicenceCommand) -> Vec<RecordedEvent> {
        let id = Self::licence_id(name);
        let state = self.licences.remove(&id).unwrap_or_default();
        let events = state
            .decide(&command)
            .expect("the licence command is accepted");
        let recorded = self.append(&id.stream(), state.version, &events).await;
        let state = events.iter().fold(state, Licence::evolve);
        self.licences.insert(id, state);
        recorded
    }

    /// Registers a licence.
    pub async fn register(&mut self, name: &str) -> LicenceId {
        let name_value = LicenceName::parse(name).expect("a licence name");
        self.licence(name, LicenceCommand::Register { name: name_value })
            .await;
        Self::licence_id(name)
    }

    /// Switches two-factor on (or changes channel or policy).
    pub async fn enable(
        &mut self,
        licence: &str,
        channel: Channel,
        policy: PolicyPatch,
    ) -> Vec<RecordedEvent> {
        self.licence(licence, LicenceCommand::EnableTwoFactor { channel, policy })
            .await
    }

    /// Creates a user who then sets their password with the access confirmation (at `T0`).
    pub async fn create_user(
        &mut self,
        licence: &str,
        login: &str,
        email: &str,
        mobile: Option<&str>,
    ) -> UserId {
        let command = LicenceCommand::CreateUser {
            login: Login::parse(login).expect("a login"),
            email: EmailAddress::parse(email).expect("an e-mail address"),
            mobile: mobile.map(|m| MobileNumber::parse(m).expect("a mobile number")),
        };
        self.licence(licence, command).await;
        self.draws += 1;
        let token = NewToken {
            token_id: Uuid::from_u128(0x70CE_0000_0000 + self.draws),
            digest: tagged(0xAC, self.draws),
        };
        self.command(
            licence,
            login,
            AccountCommand::IssueAccessConfirmation { token },
            at(0),
        )
        .await;
        let hash = format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash{}", self.draws);
        self.command(
            licence,
            login,
            AccountCommand::SetPassword {
                token,
                password_hash: hash,
            },
            at(0),
        )
        .await;
        Self::user_id(licence, login)
    }

    /// "Manage users": new e-mail and/or mobile (`Some(None)` removes it).
    pub async fn update_user(
        &mut self,
        licence: &str,
        login: &str,
        email: Option<&str>,
        mobile: Option<Option<&str>>,
    ) -> Vec<RecordedEvent> {
        let command = LicenceCommand::UpdateUser {
            login: Login::parse(login).expect("a login"),
            email: email.map(|e| EmailAddress::parse(e).expect("an e-mail address")),
            mobile: mobile.map(|m| m.map(|m| MobileNumber::parse(m).expect("a mobile number"))),
            active: None,
        };
        self.licence(licence, command).await
    }

    // ------------------------------------------------------------ accounts

    /// Decides and appends an account command.
    pub async fn command(
        &mut self,
        licence: &str,
        login: &str,
        command: AccountCommand,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let licence_id = Self::licence_id(licence);
        let user = Self::user_id(licence, login);
        let standing = self
            .licences
            .get(&licence_id)
            .and_then(|l| l.standing(user))
            .expect("the user exists");
        let state = self.accounts.remove(&user).unwrap_or_default();
        let events = state
            .decide(&standing, &command, now, &TestKey)
            .expect("the account command is accepted");
        for event in &events {
            match event {
                AccountEvent::CodeIssued {
                    code_id,
                    report_digest,
                    ..
                } => {
                    let n = code_id.as_u128() - 0xC0DE_0000_0000;
                    let text = OneTimeCode::from_digits(&digits(n), 6).as_str().to_owned();
                    self.codes.insert(*code_id, (text, *report_digest));
                }
                AccountEvent::SessionStarted {
                    session_id,
                    token_digest,
                    ..
                } => {
                    self.sessions.insert(*session_id, *token_digest);
                }
                _ => {}
            }
        }
        let recorded = self.append(&user.stream(), state.version, &events).await;
        let state = events.iter().fold(state, Account::evolve);
        self.accounts.insert(user, state);
        recorded
    }

    fn fresh(&mut self) -> Fresh {
        self.draws += 1;
        let n = self.draws;
        Fresh {
            challenge_id: Uuid::from_u128(0xC4A1_0000_0000 + n),
            code_id: Uuid::from_u128(0xC0DE_0000_0000 + n),
            code_digits: digits(n),
            report_digest: tagged(0xAE, n),
            session: NewToken {
                token_id: Uuid::from_u128(0x5E55_0000_0000 + n),
                digest: tagged(0x5E, n),
            },
        }
    }

    /// A password step, right or wrong.
    pub async fn password(
        &mut self,
        licence: &str,
        login: &str,
        right: bool,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let user = Self::user_id(licence, login);
        let against = self
            .accounts
            .get(&user)
            .and_then(|a| a.password_hash.clone());
        let check = PasswordCheck {
            against,
            matched: right,
        };
        let fresh = self.fresh();
        self.command(
            licence,
            login,
            AccountCommand::SubmitPassword {
                check,
                fresh,
                client: None,
            },
            now,
        )
        .await
    }

    /// A code step on the open challenge (or a closed one if none is open).
    pub async fn code(
        &mut self,
        licence: &str,
        login: &str,
        code: &str,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let user = Self::user_id(licence, login);
        let challenge_id = self
            .accounts
            .get(&user)
            .and_then(|a| a.open_challenge.as_ref())
            .map_or(Uuid::nil(), |c| c.challenge_id);
        let fresh = self.fresh();
        let command = AccountCommand::VerifyCode {
            challenge_id,
            code: code.to_owned(),
            session: fresh.session,
        };
        self.command(licence, login, command, now).await
    }

    /// The code that answers the user's open challenge.
    pub fn right_code(&self, licence: &str, login: &str) -> String {
        let user = Self::user_id(licence, login);
        let code_id = self
            .account(user)
            .open_challenge
            .as_ref()
            .expect("an open challenge")
            .code_id;
        self.codes.get(&code_id).expect("a known code").0.clone()
    }

    /// The id of the user's latest code.
    pub fn latest_code(&self, licence: &str, login: &str) -> Uuid {
        self.account(Self::user_id(licence, login))
            .latest_code()
            .expect("a code was issued")
            .code_id
    }

    /// Password then right code: a session starts.
    pub async fn login(
        &mut self,
        licence: &str,
        login: &str,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let mut recorded = self.password(licence, login, true, now).await;
        let code = self.right_code(licence, login);
        recorded.extend(self.code(licence, login, &code, now.plus_seconds(5)).await);
        recorded
    }

    /// Records how sending the latest code went.
    pub async fn code_delivery(
        &mut self,
        licence: &str,
        login: &str,
        ok: bool,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let user = Self::user_id(licence, login);
        let code = self
            .account(user)
            .latest_code()
            .expect("a code was issued")
            .clone();
        let command = AccountCommand::RecordDelivery {
            purpose: MessagePurpose::Code,
            reference: code.code_id,
            channel: code.channel,
            destination: code.destination.clone(),
            outcome: if ok {
                Ok(())
            } else {
                Err("smtp: 550 mailbox unavailable".to_owned())
            },
        };
        self.command(licence, login, command, now).await
    }

    /// The user reports the latest code as unrequested.
    pub async fn report_latest_code(
        &mut self,
        licence: &str,
        login: &str,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let code_id = self.latest_code(licence, login);
        let digest = self.codes.get(&code_id).expect("a known code").1;
        self.command(
            licence,
            login,
            AccountCommand::ReportUnrequestedCode { code_id, digest },
            now,
        )
        .await
    }

    /// A password reminder, then a new password set with it.
    pub async fn reset_password(
        &mut self,
        licence: &str,
        login: &str,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        self.draws += 1;
        let token = NewToken {
            token_id: Uuid::from_u128(0x70CE_1000_0000 + self.draws),
            digest: tagged(0x4E, self.draws),
        };
        let mut recorded = self
            .command(
                licence,
                login,
                AccountCommand::RequestPasswordReset { token },
                now,
            )
            .await;
        let hash = format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$new{}", self.draws);
        recorded.extend(
            self.command(
                licence,
                login,
                AccountCommand::SetPassword {
                    token,
                    password_hash: hash,
                },
                now,
            )
            .await,
        );
        recorded
    }

    /// Logout of the user's latest session.
    pub async fn logout(
        &mut self,
        licence: &str,
        login: &str,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        let user = Self::user_id(licence, login);
        let (session_id, _) = self
            .account(user)
            .sessions
            .iter()
            .max_by_key(|(_, s)| s.started_at)
            .expect("a session");
        let session_id = *session_id;
        let digest = *self.sessions.get(&session_id).expect("a known session");
        self.command(
            licence,
            login,
            AccountCommand::EndSession { session_id, digest },
            now,
        )
        .await
    }

    /// An operator lifts the lock.
    pub async fn lift_lock(
        &mut self,
        licence: &str,
        login: &str,
        reason: &str,
        now: Timestamp,
    ) -> Vec<RecordedEvent> {
        self.command(
            licence,
            login,
            AccountCommand::LiftLock {
                reason: reason.to_owned(),
            },
            now,
        )
        .await
    }

    /// A password step naming a login the licence does not have (or an unknown licence).
    pub async fn unknown_login(&mut self, licence: Option<&str>) -> Vec<RecordedEvent> {
        let licence_id = licence.map(Self::licence_id);
        let stream = licence_id.map_or_else(
            || "attempts-unknown-licence".to_owned(),
            LicenceId::attempts_stream,
        );
        let event = AttemptEvent::UnknownLoginAttempted {
            licence_id,
            identifier_digest: tagged(0x1D, self.requests),
        };
        let metadata = self.metadata();
        let (event_type, data) = codec::encode(&event).expect("events encode");
        let new = NewEvent {
            event_id: Uuid::new_v4(),
            event_type,
            schema_version: SCHEMA_VERSION,
            data,
            metadata,
        };
        self.store
            .append(&stream, ExpectedVersion::Any, vec![new])
            .await
            .expect("the append succeeds")
            .recorded
    }
}

/// Every answer the read models give about a world, for comparing two builds.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub lockouts: Vec<LockoutView>,
    pub codes: Vec<ActiveCodeView>,
    pub histories: Vec<Vec<HistoryEntry>>,
    pub alerts: Vec<Vec<AlertView>>,
}

/// Reads every page of a licence's history, `page` entries at a time.
pub async fn whole_history(
    models: &ReadModels,
    licence: LicenceId,
    query: HistoryQuery,
) -> Vec<HistoryEntry> {
    let mut query = query;
    let mut entries = Vec::new();
    loop {
        let page = models
            .login_history(licence, &query)
            .await
            .expect("the history answers");
        entries.extend(page.entries);
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => return entries,
        }
    }
}

/// Asks the read models everything about `world` at `now`.
pub async fn snapshot(models: &ReadModels, world: &World, now: Timestamp) -> Snapshot {
    let mut snapshot = Snapshot {
        lockouts: Vec::new(),
        codes: Vec::new(),
        histories: Vec::new(),
        alerts: Vec::new(),
    };
    for user in world.users() {
        snapshot
            .lockouts
            .push(models.lockout(user, now).await.expect("lockout answers"));
        snapshot.codes.push(
            models
                .active_code(user, now)
                .await
                .expect("active code answers"),
        );
    }
    for licence in world.licence_ids() {
        let query = HistoryQuery {
            limit: 7,
            ..HistoryQuery::default()
        };
        snapshot
            .histories
            .push(whole_history(models, licence, query).await);
        snapshot.alerts.push(
            models
                .security_alerts(licence, None, 1_000)
                .await
                .expect("alerts answer"),
        );
    }
    snapshot
}

/// The stored `LicenceEvent` or `AccountEvent` type names of recorded events.
pub fn types(recorded: &[RecordedEvent]) -> Vec<&str> {
    recorded.iter().map(|e| e.event_type.as_str()).collect()
}

/// Decodes a recorded licence event.
pub fn licence_event(recorded: &RecordedEvent) -> LicenceEvent {
    codec::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.data,
    )
    .expect("a licence event")
}

/// A licence with e-mail codes and a strict policy (3 strikes, 60 s locks).
pub async fn busy_licence(world: &mut World, licence: &str, users: usize) {
    world.register(licence).await;
    let strict = PolicyPatch {
        max_failed_codes: Some(3),
        max_failed_passwords: Some(3),
        lock_seconds: Some(60),
        ..PolicyPatch::default()
    };
    world.enable(licence, Channel::Email, strict).await;
    for u in 0..users {
        world
            .create_user(
                licence,
                &format!("user{u}"),
                &format!("user{u}@example.com"),
                None,
            )
            .await;
    }
}

/// Rounds `rounds` of everyday life for every user of a [`busy_licence`]:
/// wrong passwords, logins with and without a wrong code first, logouts,
/// locks that are lifted or run out, password resets, e-mail changes.
/// Round `r` happens 1,000 s after round `r - 1`; about 12 events per user and round.
pub async fn busy_rounds(
    world: &mut World,
    licence: &str,
    users: usize,
    rounds: std::ops::Range<u64>,
) {
    for r in rounds {
        for u in 0..users {
            let login = format!("user{u}");
            let t = 1_000 * r;
            let turn = u as u64 + r;
            world.password(licence, &login, false, at(t)).await;
            world.password(licence, &login, true, at(t + 10)).await;
            world.code_delivery(licence, &login, true, at(t + 11)).await;
            if turn.is_multiple_of(3) {
                world.code(licence, &login, WRONG_CODE, at(t + 20)).await;
                world.password(licence, &login, true, at(t + 30)).await;
            }
            let code = world.right_code(licence, &login);
            world.code(licence, &login, &code, at(t + 40)).await;
            world.logout(licence, &login, at(t + 50)).await;
            if turn.is_multiple_of(7) {
                for k in 0..3 {
                    world.password(licence, &login, false, at(t + 60 + k)).await;
                }
                if r % 2 == 0 {
                    world
                        .lift_lock(licence, &login, "checked with the user", at(t + 90))
                        .await;
                }
            }
            if turn.is_multiple_of(11) {
                world.reset_password(licence, &login, at(t + 95)).await;
            }
            if turn.is_multiple_of(13) {
                world
                    .update_user(
                        licence,
                        &login,
                        Some(&format!("user{u}.r{r}@example.com")),
                        None,
                    )
                    .await;
            }
        }
    }
}
