//! The rulebook: who may do what to a ticket (invariant 4; R1, R2, R5, R7,
//! R8, R10, R26). Pure: no I/O, no clock. `decide` answers for every
//! message about a ticket, `publishable` and `unpublishable` for the
//! publisher and the console.
//!
//! What proves a sender (`Proof`): a token issued to that very address for
//! this ticket, carried in the plus-addressed Reply-To of our mail or found
//! through In-Reply-To/References of a reply to that mail; or, for the
//! ticket's sender writing through Zalo, Zalo's signed webhook. A token is
//! issued for one stage, one version and one round: the round advances
//! with every transition, so a token stops working as soon as the round it
//! was issued for is decided, and an approval can only ever approve the
//! version its notification showed. On top of the token, a board may
//! require the sender's domain to pass DKIM/DMARC (`DomainAuth`).
//!
//! The table, for a command by mail (each row is tested below):
//!
//! | who / what                                   | outcome                          |
//! |----------------------------------------------|----------------------------------|
//! | not exactly one From address                 | refused, nobody told             |
//! | not a member, or a disabled one (R2)         | refused, nobody told             |
//! | member, ticket rejected                      | refused: already decided         |
//! | member the ticket does not wait for          | refused: not assigned (or decided)|
//! | assigned, no token of theirs                 | refused: no token                |
//! | assigned, token of an earlier round/stage    | refused: out of date (or decided)|
//! | assigned, current token, DKIM required, fail | refused: domain not authenticated|
//! | assigned, current token (and DKIM if needed) | the command's own rules:         |
//! | · DUYỆT at editing                           | refused: secretariat forwards    |
//! | · TỪ CHỐI after approval                     | refused: use GỠ BÀI              |
//! | · TỪ CHỐI / SỬA / GỠ BÀI without a reason    | refused: reason required         |
//! | · CHUYỂN DUYỆT outside editing               | refused                          |
//! | · CHUYỂN after approval, or to someone who cannot act at the stage | refused |
//! | · GỠ BÀI before publication                  | refused                          |
//! | · otherwise                                  | applied                          |
//!
//! Who the ticket waits for: at editing the secretariat (or the member it
//! was handed to), at review its approver (a role or a member), after
//! approval its approver and the heads. The sender of a ticket, without a
//! command they may give: a new version while changes are asked (proved by
//! the change request's token of the current round, or Zalo), credits the
//! ticket lacks (proved by any token issued to them for the current
//! version); anything else is recorded and changes nothing.

use crate::config::{Member, Role};
use crate::workflow::commands::Command;
use crate::workflow::dkim::DomainAuth;

/// A ticket's state, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Received,
    Editing,
    Reviewing,
    NeedsChanges,
    Approved,
    Rejected,
    Published,
    Unpublished,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "received" => State::Received,
            "editing" => State::Editing,
            "reviewing" => State::Reviewing,
            "needs_changes" => State::NeedsChanges,
            "approved" => State::Approved,
            "rejected" => State::Rejected,
            "published" => State::Published,
            "unpublished" => State::Unpublished,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Editing => "editing",
            State::Reviewing => "reviewing",
            State::NeedsChanges => "needs_changes",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Published => "published",
            State::Unpublished => "unpublished",
        }
    }

    /// Decided: approved or rejected, and what follows approval.
    pub fn is_decided(self) -> bool {
        matches!(
            self,
            State::Approved | State::Rejected | State::Published | State::Unpublished
        )
    }
}

/// Whom a token is issued to act as: a reviewer at a stage, or the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Editing,
    Reviewing,
    /// Once approved: the approver and the heads supply credits, correct
    /// or take the article down.
    Publication,
    /// The ticket's sender: credits, and a new version when asked.
    Sender,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "editing" => Stage::Editing,
            "reviewing" => Stage::Reviewing,
            "publication" => Stage::Publication,
            "sender" => Stage::Sender,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Editing => "editing",
            Stage::Reviewing => "reviewing",
            Stage::Publication => "publication",
            Stage::Sender => "sender",
        }
    }
}

/// What the rules need to know about a ticket.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub state: State,
    /// While waiting for the sender: the stage that asked for changes.
    pub changes_stage: Stage,
    /// The latest version's number.
    pub version: i64,
    pub round: i64,
    pub sender: &'a str,
    /// Who the ticket waits for: a member, else a role.
    pub assignee: &'a str,
    pub assignee_role: Option<Role>,
    /// Who approved (or rejected) it.
    pub decided_by: &'a str,
    /// Author or source still unknown (R8).
    pub missing_credits: bool,
}

impl View<'_> {
    /// The stage reviewers' tokens are issued for now.
    pub fn stage(&self) -> Stage {
        match self.state {
            State::NeedsChanges => self.changes_stage,
            State::Approved | State::Published | State::Unpublished => Stage::Publication,
            State::Received | State::Editing => Stage::Editing,
            State::Reviewing | State::Rejected => Stage::Reviewing,
        }
    }

    /// Whether `m` may act on the ticket at its stage (R1): whom it waits
    /// for; once approved, its approver and the heads; nobody once rejected.
    pub fn may_act(&self, m: &Member) -> bool {
        if !m.active || self.state == State::Rejected {
            return false;
        }
        match self.stage() {
            Stage::Publication => m.roles.contains(&Role::Head) || m.email == self.decided_by,
            _ if !self.assignee.is_empty() => m.email == self.assignee,
            _ => self.assignee_role.is_some_and(|r| m.roles.contains(&r)),
        }
    }
}

/// What a token was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    pub stage: Stage,
    pub version: i64,
    pub round: i64,
}

/// What proves who sent a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A token issued to the sending address for this ticket; `how` says
    /// where it was found, for the history.
    Token {
        issued: Issued,
        how: String,
    },
    /// Zalo's signed webhook, from the account the ticket's sender used.
    ZaloSender,
    None,
}

/// Who a message comes from.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The message's one From address; `None` when it had none or several.
    pub address: Option<&'a str>,
    /// The member with that address, active or not.
    pub member: Option<&'a Member>,
}

/// What a message asks.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub command: Option<&'a Command>,
    /// For CHUYỂN: the member named, when they are one.
    pub target: Option<&'a Member>,
    /// The text names an author or source the ticket lacks (R8).
    pub credits: bool,
}

/// What a message may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Carry out the command.
    Command,
    /// The sender's new version, answering a change request.
    NewVersion,
    /// The sender supplies the credits the ticket lacks.
    Credits,
    /// Recorded on the ticket; changes nothing.
    Note,
}

/// A permitted act and how the sender was authenticated (for history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub act: Act,
    pub verified: String,
}

/// Why a message changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No From address, or several.
    NotOneFrom,
    /// Not an active member of the board.
    Stranger,
    AlreadyDecided(State),
    NotAssigned,
    NoToken,
    /// A token of an earlier round or stage (a notification out of date).
    OutOfDate {
        version: i64,
    },
    /// The board requires DKIM/DMARC and the sender's domain failed.
    DomainAuth(String),
    /// A new version must answer the current change request.
    VersionWithoutRequest,
    ApproveAtEditing,
    RejectAfterApproval,
    ReasonRequired(&'static str),
    ForwardOutsideEditing,
    ReassignAfterApproval,
    ReassignToNobody,
    ReassignToStranger(String),
    ReassignCannotAct(String),
    NotPublished,
    /// Publishing: not approved (R5).
    NotApproved(State),
    /// Publishing: author or source unknown (R8).
    MissingCredits,
    /// Publishing: a classification stamp in the version to publish (R10).
    Classified(String),
}

impl Refusal {
    /// Whether the person is told why: only active members get an answer
    /// (strangers and unproven senders get none: no backscatter).
    pub fn tell(&self, actor: &Actor<'_>) -> bool {
        !matches!(self, Refusal::NotOneFrom) && actor.member.is_some_and(|m| m.active)
    }

    /// The reason, in Vietnamese, for the member's explanation and the
    /// ticket's history.
    pub fn reason_vi(&self) -> String {
        match self {
            Refusal::NotOneFrom => {
                "thư không có đúng một địa chỉ người gửi (From)".to_string()
            }
            Refusal::Stranger => {
                "thư không đến từ một thành viên đang hoạt động của Ban biên tập".to_string()
            }
            Refusal::AlreadyDecided(state) => format!(
                "bài đã được xử lý trước đó (trạng thái: {})",
                state_vi(*state)
            ),
            Refusal::NotAssigned => {
                "Anh/Chị không phải người được giao xử lý bài này ở bước hiện tại".to_string()
            }
            Refusal::NoToken => {
                "thư không mang mã xác thực cấp cho Anh/Chị đối với bài này".to_string()
            }
            Refusal::OutOfDate { version } => format!(
                "thư Anh/Chị trả lời đã cũ: mã xác thực trong đó thuộc một lượt xử lý trước, nay không còn hiệu lực. \
                 Bài hiện ở phiên bản {version}; xin trả lời thư mới nhất của Ban biên tập về bài này"
            ),
            Refusal::DomainAuth(_) => {
                "máy chủ thư không xác nhận được chữ ký DKIM/DMARC của tên miền người gửi".to_string()
            }
            Refusal::VersionWithoutRequest => {
                "bản sửa cần được gửi bằng cách trả lời thư đề nghị sửa bài mới nhất của Ban biên tập"
                    .to_string()
            }
            Refusal::ApproveAtEditing => "ở bước biên tập, Tổ thư ký chuyển bài lên lãnh đạo bằng lệnh CHUYỂN DUYỆT; việc duyệt do lãnh đạo Ban biên tập quyết định".to_string(),
            Refusal::RejectAfterApproval => "bài đã được duyệt; để bài không xuất hiện trên Cổng, dùng lệnh GỠ BÀI: <lý do>".to_string(),
            Refusal::ReasonRequired(what) => (*what).to_string(),
            Refusal::ForwardOutsideEditing => {
                "bài không ở bước biên tập nên không cần CHUYỂN DUYỆT".to_string()
            }
            Refusal::ReassignAfterApproval => {
                "bài đã được duyệt nên không giao lại được".to_string()
            }
            Refusal::ReassignToNobody => {
                "cần ghi địa chỉ thư của người nhận sau lệnh CHUYỂN".to_string()
            }
            Refusal::ReassignToStranger(to) => {
                format!("{to} không phải thành viên đang hoạt động của Ban biên tập")
            }
            Refusal::ReassignCannotAct(to) => format!("{to} không có quyền xử lý bài ở bước này"),
            Refusal::NotPublished => {
                "bài chưa được đăng trên Cổng nên không có gì để gỡ".to_string()
            }
            Refusal::NotApproved(state) => format!(
                "bài chưa được duyệt (trạng thái: {}); chỉ bài đã duyệt mới được đăng",
                state_vi(*state)
            ),
            Refusal::MissingCredits => {
                "bài chưa ghi rõ tác giả và nguồn tin (Quy chế: tin, bài đăng phải ghi rõ tác giả và nguồn tin)"
                    .to_string()
            }
            Refusal::Classified(mark) => format!(
                "bài mang dấu mật ({mark}); tài liệu mật không bao giờ được đăng trên Cổng"
            ),
        }
    }

    /// The reason in English, for logs and the console.
    pub fn reason_en(&self) -> String {
        match self {
            Refusal::NotOneFrom => "the message has no single From address".into(),
            Refusal::Stranger => "from an address that is not an active member".into(),
            Refusal::AlreadyDecided(s) => format!("the ticket is already {}", s.as_str()),
            Refusal::NotAssigned => {
                "the member is not whom the ticket waits for at this stage".into()
            }
            Refusal::NoToken => "no token issued to this address for this ticket".into(),
            Refusal::OutOfDate { version } => format!(
                "the token belongs to an earlier round or stage (the ticket is at version {version})"
            ),
            Refusal::DomainAuth(why) => format!("DKIM/DMARC required: {why}"),
            Refusal::VersionWithoutRequest => {
                "a new version must answer the current change request (its token)".into()
            }
            Refusal::ApproveAtEditing => "approval at the editing stage".into(),
            Refusal::RejectAfterApproval => "rejection after approval".into(),
            Refusal::ReasonRequired(_) => "the command needs a reason".into(),
            Refusal::ForwardOutsideEditing => "forwarding outside the editing stage".into(),
            Refusal::ReassignAfterApproval => "reassigning after approval".into(),
            Refusal::ReassignToNobody => "reassigning without an address".into(),
            Refusal::ReassignToStranger(to) => format!("{to} is not an active member"),
            Refusal::ReassignCannotAct(to) => format!("{to} cannot act at this stage"),
            Refusal::NotPublished => "the ticket is not published".into(),
            Refusal::NotApproved(s) => format!(
                "the ticket is {}, not approved; only approved items are published (R5)",
                s.as_str()
            ),
            Refusal::MissingCredits => "author or source unknown (R8)".into(),
            Refusal::Classified(mark) => {
                format!("a classification stamp {mark} is in the version to publish (R10)")
            }
        }
    }
}

/// A state in Vietnamese, for mail.
pub fn state_vi(s: State) -> &'static str {
    match s {
        State::Received => "đã nhận",
        State::Editing => "đang biên tập",
        State::Reviewing => "chờ duyệt",
        State::NeedsChanges => "chờ người gửi sửa",
        State::Approved => "đã duyệt, chờ đăng",
        State::Rejected => "không duyệt",
        State::Published => "đã đăng",
        State::Unpublished => "đã gỡ khỏi Cổng",
    }
}

/// What a message about a ticket may do, or why it changes nothing.
pub fn decide(
    t: &View<'_>,
    actor: &Actor<'_>,
    proof: &Proof,
    domain: &DomainAuth,
    ask: &Ask<'_>,
) -> Result<Allowed, Refusal> {
    let Some(address) = actor.address else {
        return Err(Refusal::NotOneFrom);
    };
    let is_sender = address == t.sender;
    let acting = actor.member.filter(|m| t.may_act(m));
    if is_sender && t.state == State::NeedsChanges && (ask.command.is_none() || acting.is_none()) {
        return sender_act(t, proof, domain, Act::NewVersion);
    }
    let open_for_credits = !matches!(
        t.state,
        State::Rejected | State::Published | State::Unpublished
    );
    if is_sender && ask.command.is_none() && ask.credits && t.missing_credits && open_for_credits {
        return sender_act(t, proof, domain, Act::Credits);
    }
    let Some(command) = ask.command else {
        return Ok(Allowed {
            act: Act::Note,
            verified: String::new(),
        });
    };
    let member = actor.member.filter(|m| m.active).ok_or(Refusal::Stranger)?;
    if t.state == State::Rejected {
        return Err(Refusal::AlreadyDecided(t.state));
    }
    if !t.may_act(member) {
        return Err(if t.state.is_decided() {
            Refusal::AlreadyDecided(t.state)
        } else {
            Refusal::NotAssigned
        });
    }
    let how = match proof {
        Proof::Token { issued, how }
            if issued.stage == t.stage()
                && issued.round == t.round
                && issued.version == t.version =>
        {
            how.clone()
        }
        // Without the current token, a decided ticket says so first.
        _ if t.state.is_decided() => return Err(Refusal::AlreadyDecided(t.state)),
        Proof::Token { .. } => return Err(Refusal::OutOfDate { version: t.version }),
        Proof::ZaloSender | Proof::None => return Err(Refusal::NoToken),
    };
    let verified = with_domain(how, domain)?;
    command_rules(t, command, ask.target)?;
    Ok(Allowed {
        act: Act::Command,
        verified,
    })
}

/// The sender's new version or credits: the sender proves themself with a
/// token issued to them (the change request's, of the current round, for
/// a new version; any of the current version for credits) or through Zalo.
fn sender_act(
    t: &View<'_>,
    proof: &Proof,
    domain: &DomainAuth,
    act: Act,
) -> Result<Allowed, Refusal> {
    let how = match proof {
        Proof::ZaloSender => {
            return Ok(Allowed {
                act,
                verified: "Zalo: signed webhook from the sender's account".to_string(),
            });
        }
        Proof::Token { issued, how } if issued.stage == Stage::Sender => {
            let current = match act {
                Act::NewVersion => issued.round == t.round,
                _ => issued.version == t.version,
            };
            if !current {
                return Err(match act {
                    Act::NewVersion => Refusal::VersionWithoutRequest,
                    _ => Refusal::OutOfDate { version: t.version },
                });
            }
            how.clone()
        }
        Proof::Token { .. } | Proof::None => {
            return Err(match act {
                Act::NewVersion => Refusal::VersionWithoutRequest,
                _ => Refusal::NoToken,
            });
        }
    };
    Ok(Allowed {
        act,
        verified: with_domain(how, domain)?,
    })
}

fn with_domain(how: String, domain: &DomainAuth) -> Result<String, Refusal> {
    match domain {
        DomainAuth::NotRequired => Ok(how),
        DomainAuth::Pass(pass) => Ok(format!("{how}; {pass}")),
        DomainAuth::Fail(why) => Err(Refusal::DomainAuth(why.clone())),
    }
}

/// What each command allows at each stage.
fn command_rules(t: &View<'_>, command: &Command, target: Option<&Member>) -> Result<(), Refusal> {
    let stage = t.stage();
    let publication = stage == Stage::Publication;
    match command {
        Command::Approve(_) if stage == Stage::Editing => Err(Refusal::ApproveAtEditing),
        Command::Approve(_) => Ok(()),
        Command::Reject { .. } if publication => Err(Refusal::RejectAfterApproval),
        Command::Reject { reason } if reason.trim().is_empty() => Err(Refusal::ReasonRequired(
            "cần ghi lý do sau lệnh TỪ CHỐI (lý do được gửi cho người gửi bài)",
        )),
        Command::Reject { .. } => Ok(()),
        Command::Revise { request } if request.trim().is_empty() => {
            Err(Refusal::ReasonRequired("cần ghi yêu cầu sửa sau lệnh SỬA"))
        }
        Command::Revise { .. } => Ok(()),
        Command::Forward { .. } if stage != Stage::Editing => Err(Refusal::ForwardOutsideEditing),
        Command::Forward { .. } => Ok(()),
        Command::Reassign { .. } if publication => Err(Refusal::ReassignAfterApproval),
        Command::Reassign { to } => {
            let allowed: &[Role] = if stage == Stage::Editing {
                &[Role::Secretariat]
            } else {
                &[Role::Head, Role::Deputy]
            };
            match target.filter(|m| m.active) {
                None if to.is_empty() => Err(Refusal::ReassignToNobody),
                None => Err(Refusal::ReassignToStranger(to.clone())),
                Some(m) if !m.roles.iter().any(|r| allowed.contains(r)) => {
                    Err(Refusal::ReassignCannotAct(to.clone()))
                }
                Some(_) => Ok(()),
            }
        }
        Command::Unpublish { .. } if t.state != State::Published => Err(Refusal::NotPublished),
        Command::Unpublish { reason } if reason.trim().is_empty() => Err(Refusal::ReasonRequired(
            "cần ghi lý do sau lệnh GỠ BÀI (lý do được lưu cùng bài)",
        )),
        Command::Unpublish { .. } => Ok(()),
    }
}

/// Whether the version about to be written to the portal may be: approved
/// (R5), with its credits (R8), free of classification stamps (R10; the
/// publisher checks every version it writes, whatever let it in).
pub fn publishable(t: &View<'_>, classified: Option<&str>) -> Result<(), Refusal> {
    if t.state != State::Approved {
        return Err(Refusal::NotApproved(t.state));
    }
    if let Some(mark) = classified {
        return Err(Refusal::Classified(mark.to_string()));
    }
    if t.missing_credits {
        return Err(Refusal::MissingCredits);
    }
    Ok(())
}

/// Whether a published article may be taken down (R19 keeps the row).
pub fn unpublishable(t: &View<'_>, reason: &str) -> Result<(), Refusal> {
    if t.state != State::Published {
        return Err(Refusal::NotPublished);
    }
    if reason.trim().is_empty() {
        return Err(Refusal::ReasonRequired(
            "cần ghi lý do gỡ bài (lý do được lưu cùng bài)",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
