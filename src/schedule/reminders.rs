//! The scheduler: reminders before and after the approval deadline,
//! escalation to the head, the monthly quota (R17) and the quarter report
//! (R23).
//!
//! Every pending ticket stores the next instant something must happen to it
//! (`tickets.next_alert_at`, indexed) and how far its reminders got
//! (`alert_step`, `escalated`); board-wide jobs store theirs in `jobs`. The
//! scheduler sleeps until the earliest of these (or until a change wakes
//! it), then handles only what is due: it never scans every ticket. What a
//! round decides — the mails in the outbox and the new alert state — is
//! committed in one transaction, so a crash after the commit never repeats
//! a reminder and a crash before it loses none. Reminders go out only in
//! working hours of working days, one digest per reviewer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use jiff::civil::{Date, Time};
use jiff::{Timestamp, ToSpan};
use minijinja::context;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tokio::sync::Notify;

use super::calendar::Calendar;
use super::{Clock, time_left_vi};
use crate::config::{Config, Live, Member, Reminders, Role};
use crate::net::Shutdown;
use crate::outbound::templates::{self, vi_time};
use crate::outbound::{self, Draft, Kind};
use crate::store::Store;
use crate::workflow::{self, notices, state};

/// The scheduler looks at the clock at least this often, so a wall-clock
/// jump is noticed within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Due tickets read per query.
const BATCH: i64 = 1000;
/// Tickets listed in one digest.
const DIGEST_LIMIT: i64 = 50;

/// The next thing due for a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Reminder number `step`: 0 before the deadline, 1 at it, then one per
    /// working day late.
    Remind { step: i64, at: Timestamp },
    /// Tell the head.
    Escalate { at: Timestamp },
}

impl Alert {
    pub fn at(self) -> Timestamp {
        match self {
            Alert::Remind { at, .. } | Alert::Escalate { at } => at,
        }
    }
}

/// The instant of reminder `step` for a ticket due at `due`, if that
/// reminder is configured.
fn remind_at(cal: &Calendar, rem: &Reminders, due: Timestamp, step: i64) -> Option<Timestamp> {
    let local = due.to_zoned_datetime(cal.time_zone().clone());
    match step {
        0 if rem.before > 0 => Some(cal.working_time_from(
            cal.at(cal.sub_working_days(local.date(), rem.before), local.time()),
        )),
        1 if rem.at_deadline => Some(cal.working_time_from(due)),
        s if s >= 2 && rem.overdue_daily => {
            let days = u32::try_from(s - 1).unwrap_or(u32::MAX);
            Some(cal.at(cal.add_working_days(local.date(), days), cal.work_start()))
        }
        _ => None,
    }
}

/// The next alert of a ticket whose reminders have reached `step`.
pub fn next_alert(
    cal: &Calendar,
    rem: &Reminders,
    due: Timestamp,
    step: i64,
    escalated: bool,
) -> Option<Alert> {
    let reminder = (step..step.max(0) + 3)
        .find_map(|s| remind_at(cal, rem, due, s).map(|at| Alert::Remind { step: s, at }));
    let escalation = (!escalated && rem.escalate_after > 0).then(|| {
        let local = due.to_zoned_datetime(cal.time_zone().clone());
        let at = cal.working_time_from(cal.at(
            cal.add_working_days(local.date(), rem.escalate_after),
            local.time(),
        ));
        Alert::Escalate { at }
    });
    match (reminder, escalation) {
        (Some(r), Some(e)) => Some(if e.at() < r.at() { e } else { r }),
        (r, e) => r.or(e),
    }
}

/// Where a new ticket's reminders start: reminders due within the hour
/// (a short deadline) or already past are skipped, so the notification is
/// not followed at once by a reminder.
pub fn initial_step(cal: &Calendar, rem: &Reminders, due: Timestamp, now: Timestamp) -> i64 {
    let soon = now.checked_add(1.hour()).unwrap_or(now);
    (0..2)
        .find(|s| remind_at(cal, rem, due, *s).is_none_or(|t| t >= soon))
        .unwrap_or(2)
}

/// What a round of the scheduler did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Round {
    pub tickets: usize,
    pub digests: usize,
    pub escalations: usize,
    pub jobs: Vec<String>,
}

/// The scheduler of one board.
#[derive(Debug)]
pub struct Scheduler {
    config: Live<Config>,
    calendar: Live<Calendar>,
    store: Store,
    clock: Arc<dyn Clock>,
    /// Woken when tickets change; wakes the outbox when mail was written.
    wake: Arc<Notify>,
    outbox: Arc<Notify>,
}

#[derive(Debug, Serialize)]
struct Line {
    code: String,
    title: String,
    stage: String,
    waiting: String,
    due: String,
    left: String,
}

impl Scheduler {
    pub fn new(
        config: Live<Config>,
        calendar: Live<Calendar>,
        store: Store,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        outbox: Arc<Notify>,
    ) -> Scheduler {
        Scheduler {
            config,
            calendar,
            store,
            clock,
            wake,
            outbox,
        }
    }

    /// Runs rounds until shutdown.
    pub async fn run(&self, shutdown: &Shutdown) {
        loop {
            let now = self.clock.now();
            match self.round(now).await {
                Ok(r) if r.tickets > 0 || !r.jobs.is_empty() => {
                    tracing::info!(tickets = r.tickets, digests = r.digests, escalations = r.escalations, jobs = ?r.jobs, "reminders sent");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "scheduler round failed"),
            }
            let wait = match self.next_due().await {
                Ok(Some(next)) => {
                    let ms = (next.as_millisecond() - self.clock.now().as_millisecond()).max(0);
                    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(MAX_SLEEP)
                }
                Ok(None) => MAX_SLEEP,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot read the next due time");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// The earliest instant anything is due (one index lookup each).
    pub async fn next_due(&self) -> Result<Option<Timestamp>> {
        let ticket: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_alert_at) FROM tickets WHERE next_alert_at IS NOT NULL",
        )
        .fetch_one(self.store.pool())
        .await
        .context("Cannot read the next reminder")?;
        let job: Option<i64> = sqlx::query_scalar("SELECT MIN(next_at) FROM jobs")
            .fetch_one(self.store.pool())
            .await
            .context("Cannot read the next job")?;
        let next = match (ticket, job) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(next.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
    }

    /// Handles everything due at `now`.
    pub async fn round(&self, now: Timestamp) -> Result<Round> {
        self.ensure_jobs(now).await?;
        let mut total = self.ticket_round(now).await?;
        total.jobs = self.job_round(now).await?;
        if total.digests + total.escalations > 0 || !total.jobs.is_empty() {
            self.outbox.notify_one();
        }
        Ok(total)
    }

    async fn ticket_round(&self, now: Timestamp) -> Result<Round> {
        let config = self.config.get();
        let cfg: &Config = &config;
        let rem = &cfg.reminders;
        let mut tx = self.store.begin().await?;
        // Everything due goes into one transaction, so that each reviewer
        // gets one digest however much piled up.
        let mut rows = Vec::new();
        loop {
            let batch = sqlx::query(
                "SELECT id, due_at, alert_step, escalated, assignee, assignee_role FROM tickets
                 WHERE next_alert_at IS NOT NULL AND next_alert_at <= $1 ORDER BY next_alert_at, id LIMIT $2 OFFSET $3",
            )
            .bind(now.as_millisecond())
            .bind(BATCH)
            .bind(i64::try_from(rows.len()).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .context("Cannot read due reminders")?;
            let full = batch.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
            rows.extend(batch);
            if !full {
                break;
            }
        }
        let mut round = Round {
            tickets: rows.len(),
            ..Round::default()
        };
        let mut remind: BTreeMap<String, &Member> = BTreeMap::new();
        let mut escalated_now = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let due = Timestamp::from_millisecond(r.try_get("due_at")?).unwrap_or(now);
            let mut step: i64 = r.try_get("alert_step")?;
            let mut escalated = r.try_get::<i64, _>("escalated")? != 0;
            let (mut reminded, mut escalate) = (false, false);
            // Alerts missed while the daemon was down collapse into one.
            for _ in 0..1000 {
                match next_alert(&self.calendar.get(), rem, due, step, escalated) {
                    Some(Alert::Remind { step: s, at }) if at <= now => {
                        reminded = true;
                        step = s + 1;
                    }
                    Some(Alert::Escalate { at }) if at <= now => {
                        escalate = true;
                        escalated = true;
                    }
                    _ => break,
                }
            }
            let next = next_alert(&self.calendar.get(), rem, due, step, escalated)
                .map(|a| a.at().as_millisecond());
            sqlx::query("UPDATE tickets SET alert_step = $1, escalated = $2, next_alert_at = $3 WHERE id = $4")
                .bind(step)
                .bind(i64::from(escalated))
                .bind(next)
                .bind(id)
                .execute(&mut *tx)
                .await
                .context("Cannot record reminder progress")?;
            if reminded {
                let assignee: String = r.try_get("assignee")?;
                let role: String = r.try_get("assignee_role")?;
                for m in waiting_for(cfg, &assignee, &role) {
                    remind.insert(m.email.clone(), m);
                }
            }
            if escalate {
                escalated_now.push(id);
            }
        }
        for member in remind.values() {
            self.digest(&mut tx, member, now).await?;
            round.digests += 1;
        }
        if !escalated_now.is_empty() {
            round.escalations = self.escalate(&mut tx, &escalated_now, now).await?;
        }
        tx.commit().await.context("Cannot commit the reminders")?;
        Ok(round)
    }

    /// One mail listing every pending ticket of a reviewer, most urgent first.
    async fn digest(
        &self,
        conn: &mut AnyConnection,
        member: &Member,
        now: Timestamp,
    ) -> Result<()> {
        let config = self.config.get();
        let cfg: &Config = &config;
        let now_ms = now.as_millisecond();
        // Tickets given to the member by name, or to one of their roles:
        // each a range of the (assignee, state, due_at) or (assignee_role,
        // state, due_at) index.
        let mut scopes: Vec<(&str, &str)> = vec![("assignee = $1", member.email.as_str())];
        scopes.extend(
            member
                .roles
                .iter()
                .map(|r| ("assignee = '' AND assignee_role = $1", r.as_str())),
        );
        let (mut total, mut overdue) = (0i64, 0i64);
        let mut tickets: Vec<(i64, String, String, String)> = Vec::new();
        for (filter, value) in scopes {
            let pending = format!("{filter} AND state IN ('editing', 'reviewing')");
            let count = |extra: &'static str| {
                format!("SELECT COUNT(*) FROM tickets WHERE {pending}{extra}")
            };
            total += sqlx::query_scalar::<_, i64>(&count(""))
                .bind(value)
                .fetch_one(&mut *conn)
                .await
                .context("Cannot count a reviewer's tickets")?;
            overdue += sqlx::query_scalar::<_, i64>(&count(" AND due_at < $2"))
                .bind(value)
                .bind(now_ms)
                .fetch_one(&mut *conn)
                .await
                .context("Cannot count a reviewer's late tickets")?;
            let rows = sqlx::query(&format!("SELECT code, title, state, due_at FROM tickets WHERE {pending} ORDER BY due_at LIMIT $2"))
                .bind(value)
                .bind(DIGEST_LIMIT)
                .fetch_all(&mut *conn)
                .await
                .context("Cannot list a reviewer's tickets")?;
            for r in &rows {
                tickets.push((
                    r.try_get("due_at")?,
                    r.try_get("code")?,
                    r.try_get("title")?,
                    r.try_get("state")?,
                ));
            }
        }
        tickets.sort();
        let lines: Vec<Line> = tickets
            .iter()
            .take(usize::try_from(DIGEST_LIMIT).unwrap_or(0))
            .map(|(due, code, title, st)| Line {
                code: code.clone(),
                title: title.clone(),
                stage: notices::state_vi(st).to_string(),
                waiting: String::new(),
                due: vi_time(*due, self.calendar.get().time_zone()),
                left: time_left_vi(Timestamp::from_millisecond(*due).unwrap_or(now), now),
            })
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let values = context! {
            prefix => &cfg.board.code_prefix,
            name => &member.name,
            approval_days => &cfg.board.approval_days,
            tickets => minijinja::Value::from(minijinja::value::Serde(&lines)),
            total => total,
            overdue => overdue,
            more => (total - i64::try_from(lines.len()).unwrap_or(0)).max(0),
            signature => notices::signature(cfg),
        };
        self.mail(
            conn,
            Kind::Remind,
            &member.email,
            templates::render("remind.txt", &values)?,
            now,
        )
        .await
    }

    /// Tells the heads which tickets are overdue beyond the grace period.
    async fn escalate(
        &self,
        conn: &mut AnyConnection,
        ids: &[i64],
        now: Timestamp,
    ) -> Result<usize> {
        let config = self.config.get();
        let cfg: &Config = &config;
        let mut lines = Vec::new();
        for id in ids {
            let t = workflow::load(conn, *id).await?;
            let waiting = if t.assignee.is_empty() {
                Role::parse(&t.assignee_role)
                    .map_or(t.assignee_role.clone(), |r| r.title_vi().to_string())
            } else {
                t.assignee.clone()
            };
            lines.push(Line {
                code: t.code,
                title: t.title,
                stage: notices::state_vi(&t.state).to_string(),
                waiting,
                due: vi_time(t.due_at, self.calendar.get().time_zone()),
                left: time_left_vi(Timestamp::from_millisecond(t.due_at).unwrap_or(now), now),
            });
        }
        let heads: Vec<&Member> = cfg.members_with(Role::Head).collect();
        for head in &heads {
            let values = context! {
                prefix => &cfg.board.code_prefix,
                name => &head.name,
                grace => cfg.reminders.escalate_after,
                tickets => minijinja::Value::from(minijinja::value::Serde(&lines)),
                signature => notices::signature(cfg),
            };
            self.mail(
                conn,
                Kind::Escalate,
                &head.email,
                templates::render("escalate.txt", &values)?,
                now,
            )
            .await?;
        }
        Ok(heads.len())
    }

    async fn mail(
        &self,
        conn: &mut AnyConnection,
        kind: Kind,
        to: &str,
        rendered: templates::Rendered,
        now: Timestamp,
    ) -> Result<()> {
        outbound::enqueue(
            conn,
            &self.config.get(),
            &Draft {
                kind,
                ticket: None,
                recipient: to.to_string(),
                rendered,
                html: None,
                attachments: Vec::new(),
                reply_to: None,
                in_reply_to: None,
                grant: None,
                answers: None,
            },
            now,
        )
        .await?;
        Ok(())
    }

    /// Makes sure every board-wide job has its next run recorded.
    async fn ensure_jobs(&self, now: Timestamp) -> Result<()> {
        for (name, next) in [
            ("quota", self.next_quota(now)),
            ("quarter", self.next_quarter(now)),
        ] {
            let Some(next) = next else { continue };
            sqlx::query(
                "INSERT INTO jobs (name, next_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(next.as_millisecond())
            .execute(self.store.pool())
            .await
            .context("Cannot schedule a job")?;
        }
        Ok(())
    }

    /// The first run of the quota reminder at or after `now`: the start of
    /// the first of the month's last `quota_days` working days.
    fn next_quota(&self, now: Timestamp) -> Option<Timestamp> {
        let days = self.config.get().reminders.quota_days;
        if days == 0 {
            return None;
        }
        let cal = self.calendar.get();
        let mut month = cal.date_of(now).first_of_month();
        for _ in 0..3 {
            let last = cal.sub_working_days(month.last_of_month().tomorrow().ok()?, 1);
            let first = cal.sub_working_days(last, days - 1);
            let at = cal.at(first, cal.work_start());
            if at >= now {
                return Some(at);
            }
            month = month.checked_add(1.month()).ok()?;
        }
        None
    }

    /// The first run of the quarter report reminder at or after `now`.
    fn next_quarter(&self, now: Timestamp) -> Option<Timestamp> {
        let days = self.config.get().reminders.quarter_report_days;
        if days == 0 {
            return None;
        }
        let calendar = self.calendar.get();
        let cal: &Calendar = &calendar;
        let today = cal.date_of(now);
        for year in [today.year(), today.year().checked_add(1)?] {
            for month in [3, 6, 9, 12] {
                let deadline = Date::new(year, month, 25).ok()?;
                let at = cal.at(cal.sub_working_days(deadline, days), cal.work_start());
                if at >= now {
                    return Some(at);
                }
            }
        }
        None
    }

    async fn job_round(&self, now: Timestamp) -> Result<Vec<String>> {
        let due: Vec<String> =
            sqlx::query_scalar("SELECT name FROM jobs WHERE next_at <= $1 ORDER BY name")
                .bind(now.as_millisecond())
                .fetch_all(self.store.pool())
                .await
                .context("Cannot read due jobs")?;
        for name in &due {
            let mut tx = self.store.begin().await?;
            let next = match name.as_str() {
                "quota" => {
                    self.quota(&mut tx, now).await?;
                    self.next_quota(now.checked_add(1.hour()).unwrap_or(now))
                }
                "quarter" => {
                    self.quarter(&mut tx, now).await?;
                    self.next_quarter(now.checked_add(1.hour()).unwrap_or(now))
                }
                _ => None,
            };
            match next {
                Some(next) => sqlx::query("UPDATE jobs SET next_at = $1 WHERE name = $2")
                    .bind(next.as_millisecond())
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .context("Cannot reschedule a job")?,
                None => sqlx::query("DELETE FROM jobs WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .context("Cannot remove a job")?,
            };
            tx.commit().await.context("Cannot commit a job")?;
        }
        Ok(due)
    }

    /// R17: members with nothing approved this month are reminded; the
    /// head gets the list.
    async fn quota(&self, conn: &mut AnyConnection, now: Timestamp) -> Result<()> {
        let config = self.config.get();
        let cfg: &Config = &config;
        let calendar = self.calendar.get();
        let cal: &Calendar = &calendar;
        let today = cal.date_of(now);
        let month_start = cal
            .at(today.first_of_month(), Time::midnight())
            .as_millisecond();
        let last_day = cal.sub_working_days(today.last_of_month().tomorrow().unwrap_or(today), 1);
        let mut days_left = 0;
        let mut d = today;
        while d <= last_day {
            if cal.is_working_day(d) {
                days_left += 1;
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        #[derive(Serialize)]
        struct Who<'a> {
            name: &'a str,
            email: &'a str,
            unit: &'a str,
        }
        let mut missing = Vec::new();
        for m in cfg
            .members
            .iter()
            .filter(|m| m.active && !m.roles.iter().all(|r| *r == Role::Admin))
        {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tickets WHERE sender_addr = $1 AND state IN ($2, 'published') AND decided_at >= $3",
            )
            .bind(&m.email)
            .bind(state::APPROVED)
            .bind(month_start)
            .fetch_one(&mut *conn)
            .await
            .context("Cannot count a member's articles")?;
            if n == 0 {
                missing.push(m);
            }
        }
        let month = format!("{}/{}", today.month(), today.year());
        for m in &missing {
            let values = context! {
                prefix => &cfg.board.code_prefix,
                name => &m.name,
                month => &month,
                today => format!("{:02}/{:02}/{}", today.day(), today.month(), today.year()),
                days_left => days_left,
                last_day => format!("{:02}/{:02}/{}", last_day.day(), last_day.month(), last_day.year()),
                board_address => &cfg.board.address,
                signature => notices::signature(cfg),
            };
            self.mail(
                conn,
                Kind::Quota,
                &m.email,
                templates::render("quota.txt", &values)?,
                now,
            )
            .await?;
        }
        if !missing.is_empty() {
            let list: Vec<Who<'_>> = missing
                .iter()
                .map(|m| Who {
                    name: &m.name,
                    email: &m.email,
                    unit: &m.unit,
                })
                .collect();
            for head in cfg.members_with(Role::Head) {
                let values = context! {
                    prefix => &cfg.board.code_prefix,
                    name => &head.name,
                    month => &month,
                    today => format!("{:02}/{:02}/{}", today.day(), today.month(), today.year()),
                    members => minijinja::Value::from(minijinja::value::Serde(&list)),
                    signature => notices::signature(cfg),
                };
                self.mail(
                    conn,
                    Kind::Quota,
                    &head.email,
                    templates::render("quota_head.txt", &values)?,
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// R23: members are reminded of the quarter report due on the 25th.
    async fn quarter(&self, conn: &mut AnyConnection, now: Timestamp) -> Result<()> {
        let config = self.config.get();
        let cfg: &Config = &config;
        let today = self.calendar.get().date_of(now);
        let quarter = (today.month() - 1) / 3 + 1;
        let deadline = format!("25/{:02}/{}", quarter * 3, today.year());
        for m in cfg
            .members
            .iter()
            .filter(|m| m.active && !m.roles.iter().all(|r| *r == Role::Admin))
        {
            let values = context! {
                prefix => &cfg.board.code_prefix,
                name => &m.name,
                quarter => quarter,
                year => today.year(),
                deadline => &deadline,
                signature => notices::signature(cfg),
            };
            self.mail(
                conn,
                Kind::Report,
                &m.email,
                templates::render("quarter.txt", &values)?,
                now,
            )
            .await?;
        }
        Ok(())
    }
}

/// The active members a ticket waits for, from its stored assignment.
fn waiting_for<'c>(config: &'c Config, assignee: &str, role: &str) -> Vec<&'c Member> {
    if !assignee.is_empty() {
        return config
            .member(assignee)
            .filter(|m| m.active)
            .into_iter()
            .collect();
    }
    Role::parse(role)
        .map(|r| config.members_with(r).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::calendar::Settings;
    use jiff::tz::TimeZone;

    fn cal() -> Calendar {
        Calendar::new(
            TimeZone::get("Asia/Ho_Chi_Minh").unwrap(),
            Settings::default(),
        )
    }

    fn rem() -> Reminders {
        Reminders {
            before: 1,
            at_deadline: true,
            overdue_daily: true,
            escalate_after: 1,
            quota_days: 3,
            quarter_report_days: 5,
        }
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn alerts_in_order_on_working_days() {
        let c = cal();
        let r = rem();
        // Due Tuesday 1 Dec 2026 10:00 ICT.
        let due = t("2026-12-01T03:00:00Z");
        let a0 = next_alert(&c, &r, due, 0, false).unwrap();
        // One working day before: Monday 30 Nov 10:00.
        assert_eq!(
            a0,
            Alert::Remind {
                step: 0,
                at: t("2026-11-30T03:00:00Z")
            }
        );
        assert_eq!(
            next_alert(&c, &r, due, 1, false).unwrap(),
            Alert::Remind { step: 1, at: due }
        );
        // Then the escalation (Wednesday 10:00) comes before the first
        // daily overdue reminder? No: that is Wednesday 07:30.
        assert_eq!(
            next_alert(&c, &r, due, 2, false).unwrap(),
            Alert::Remind {
                step: 2,
                at: t("2026-12-02T00:30:00Z")
            }
        );
        assert_eq!(
            next_alert(&c, &r, due, 3, false).unwrap(),
            Alert::Escalate {
                at: t("2026-12-02T03:00:00Z")
            }
        );
        assert_eq!(
            next_alert(&c, &r, due, 3, true).unwrap(),
            Alert::Remind {
                step: 3,
                at: t("2026-12-03T00:30:00Z")
            }
        );
    }

    #[test]
    fn a_deadline_on_a_saturday_is_reminded_on_monday() {
        let c = cal();
        let r = rem();
        // Due Saturday 28 Nov 2026 10:00: the "at deadline" reminder waits
        // for Monday 07:30; the early one is on Friday 10:00.
        let due = t("2026-11-28T03:00:00Z");
        assert_eq!(
            next_alert(&c, &r, due, 0, false).unwrap().at(),
            t("2026-11-27T03:00:00Z")
        );
        assert_eq!(
            next_alert(&c, &r, due, 1, false).unwrap().at(),
            t("2026-11-30T00:30:00Z")
        );
    }

    #[test]
    fn short_deadlines_skip_past_reminders() {
        let c = cal();
        let r = rem();
        let due = t("2026-12-01T03:00:00Z");
        assert_eq!(initial_step(&c, &r, due, t("2026-11-25T03:00:00Z")), 0);
        assert_eq!(initial_step(&c, &r, due, t("2026-11-30T05:00:00Z")), 1);
        assert_eq!(initial_step(&c, &r, due, t("2026-12-01T05:00:00Z")), 2);
    }

    #[test]
    fn disabled_reminders() {
        let c = cal();
        let r = Reminders {
            before: 0,
            at_deadline: false,
            overdue_daily: false,
            escalate_after: 0,
            ..rem()
        };
        assert_eq!(
            next_alert(&c, &r, t("2026-12-01T03:00:00Z"), 0, false),
            None
        );
    }
}
