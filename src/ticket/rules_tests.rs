//! The rulebook's table: one row per legitimate path and per refusal.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;

use super::*;
use crate::workflow::commands::{ApproveOptions, Command};

fn member(email: &str, roles: &[Role]) -> Member {
    Member {
        name: email.to_string(),
        email: email.to_string(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        unit: String::new(),
        active: true,
    }
}

const SENDER: &str = "ctv@x.vn";

fn view(state: State) -> View<'static> {
    View {
        state,
        changes_stage: Stage::Reviewing,
        version: 2,
        round: 5,
        sender: SENDER,
        assignee: "",
        assignee_role: Some(match state {
            State::Editing => Role::Secretariat,
            _ => Role::Deputy,
        }),
        decided_by: "pb@x.vn",
        missing_credits: false,
    }
}

fn token(stage: Stage, version: i64, round: i64) -> Proof {
    Proof::Token {
        issued: Issued {
            stage,
            version,
            round,
        },
        how: "token in the reply address".into(),
    }
}

/// The token the ticket's current round issued at its stage.
fn current(t: &View<'_>) -> Proof {
    token(t.stage(), t.version, t.round)
}

fn approve() -> Command {
    Command::Approve(ApproveOptions::default())
}

fn ask(c: &Command) -> Ask<'_> {
    Ask {
        command: Some(c),
        target: None,
        credits: false,
    }
}

fn run(t: &View<'_>, who: &Member, proof: &Proof, c: &Command) -> Result<Allowed, Refusal> {
    let actor = Actor {
        address: Some(&who.email),
        member: Some(who),
    };
    decide(t, &actor, proof, &DomainAuth::NotRequired, &ask(c))
}

fn command_ok(r: &Result<Allowed, Refusal>) -> bool {
    matches!(
        r,
        Ok(Allowed {
            act: Act::Command,
            ..
        })
    )
}

/// Every command × role × stage with the current token: who may act, and
/// which commands each stage takes.
#[test]
fn commands_by_role_and_stage() {
    let head = member("tb@x.vn", &[Role::Head]);
    let deputy = member("pb@x.vn", &[Role::Deputy]);
    let secretary = member("tk@x.vn", &[Role::Secretariat]);
    let plain = member("tv@x.vn", &[Role::Member]);
    let commands = [
        ("approve", approve()),
        (
            "reject",
            Command::Reject {
                reason: "trùng".into(),
            },
        ),
        (
            "revise",
            Command::Revise {
                request: "bổ sung".into(),
            },
        ),
        (
            "forward",
            Command::Forward {
                note: String::new(),
            },
        ),
        ("reassign", Command::Reassign { to: String::new() }),
        (
            "unpublish",
            Command::Unpublish {
                reason: "sai".into(),
            },
        ),
    ];
    // (state, who, command, allowed)
    let table: &[(State, &Member, &str, bool)] = &[
        // Editing: the secretariat forwards, sends back, rejects; never approves.
        (State::Editing, &secretary, "approve", false),
        (State::Editing, &secretary, "reject", true),
        (State::Editing, &secretary, "revise", true),
        (State::Editing, &secretary, "forward", true),
        (State::Editing, &secretary, "unpublish", false),
        (State::Editing, &head, "approve", false),
        (State::Editing, &deputy, "reject", false),
        (State::Editing, &plain, "forward", false),
        // Reviewing (waiting for the deputy role): the deputy decides.
        (State::Reviewing, &deputy, "approve", true),
        (State::Reviewing, &deputy, "reject", true),
        (State::Reviewing, &deputy, "revise", true),
        (State::Reviewing, &deputy, "forward", false),
        (State::Reviewing, &deputy, "unpublish", false),
        (State::Reviewing, &head, "approve", false),
        (State::Reviewing, &secretary, "approve", false),
        (State::Reviewing, &plain, "approve", false),
        // Waiting for the sender after the deputy's SỬA: the deputy may still decide.
        (State::NeedsChanges, &deputy, "approve", true),
        (State::NeedsChanges, &deputy, "reject", true),
        (State::NeedsChanges, &head, "approve", false),
        // Approved: the approver and the heads; no rejection, no reassigning.
        (State::Approved, &deputy, "approve", true),
        (State::Approved, &head, "approve", true),
        (State::Approved, &deputy, "reject", false),
        (State::Approved, &deputy, "revise", true),
        (State::Approved, &deputy, "reassign", false),
        (State::Approved, &deputy, "unpublish", false),
        (State::Approved, &secretary, "approve", false),
        // Published: take down or correct.
        (State::Published, &deputy, "unpublish", true),
        (State::Published, &head, "unpublish", true),
        (State::Published, &deputy, "revise", true),
        (State::Published, &deputy, "reject", false),
        (State::Published, &plain, "unpublish", false),
        // Rejected: final.
        (State::Rejected, &deputy, "approve", false),
        (State::Rejected, &deputy, "revise", false),
    ];
    for (state, who, name, allowed) in table {
        let t = view(*state);
        let (_, c) = commands.iter().find(|(n, _)| n == name).unwrap();
        let r = run(&t, who, &current(&t), c);
        assert_eq!(
            command_ok(&r),
            *allowed,
            "{name} by {} at {state:?}: {r:?}",
            who.email
        );
    }
}

/// The attacks of issue 13 on the command path, each refused with its
/// reason.
#[test]
fn refusals_and_their_reasons() {
    let deputy = member("pb@x.vn", &[Role::Deputy]);
    let t = view(State::Reviewing);
    let c = approve();
    let refused = |actor: Actor<'_>, proof: &Proof, domain: &DomainAuth| {
        decide(&t, &actor, proof, domain, &ask(&c)).unwrap_err()
    };
    let as_deputy = Actor {
        address: Some("pb@x.vn"),
        member: Some(&deputy),
    };
    // Two From headers, or none: never acts.
    assert_eq!(
        refused(
            Actor {
                address: None,
                member: None
            },
            &current(&t),
            &DomainAuth::NotRequired
        ),
        Refusal::NotOneFrom
    );
    // A stranger, and a disabled member (R2).
    assert_eq!(
        refused(
            Actor {
                address: Some("x@evil.test"),
                member: None
            },
            &current(&t),
            &DomainAuth::NotRequired
        ),
        Refusal::Stranger
    );
    let mut disabled = deputy.clone();
    disabled.active = false;
    assert_eq!(
        refused(
            Actor {
                address: Some("pb@x.vn"),
                member: Some(&disabled)
            },
            &current(&t),
            &DomainAuth::NotRequired
        ),
        Refusal::Stranger
    );
    // No token; a Zalo proof is not a reviewer's.
    assert_eq!(
        refused(as_deputy, &Proof::None, &DomainAuth::NotRequired),
        Refusal::NoToken
    );
    assert_eq!(
        refused(as_deputy, &Proof::ZaloSender, &DomainAuth::NotRequired),
        Refusal::NoToken
    );
    // The round-1 approval replayed against version 2 (item 2): an older
    // round, an older version, another stage.
    for old in [
        token(Stage::Reviewing, 2, 4),
        token(Stage::Reviewing, 1, 5),
        token(Stage::Editing, 2, 5),
        token(Stage::Publication, 2, 5),
        token(Stage::Sender, 2, 5),
    ] {
        assert_eq!(
            refused(as_deputy, &old, &DomainAuth::NotRequired),
            Refusal::OutOfDate { version: 2 },
            "{old:?}"
        );
    }
    // Once decided, an old token is answered with the decision.
    let decided = view(State::Approved);
    assert_eq!(
        decide(
            &decided,
            &as_deputy,
            &token(Stage::Reviewing, 2, 4),
            &DomainAuth::NotRequired,
            &ask(&c)
        ),
        Err(Refusal::AlreadyDecided(State::Approved))
    );
    // DKIM/DMARC required and failed.
    assert_eq!(
        refused(
            as_deputy,
            &current(&t),
            &DomainAuth::Fail("no signature".into())
        ),
        Refusal::DomainAuth("no signature".into())
    );
    // With everything: the history says how.
    let ok = decide(
        &t,
        &as_deputy,
        &current(&t),
        &DomainAuth::Pass("DKIM pass (d=x.vn)".into()),
        &ask(&c),
    )
    .unwrap();
    assert_eq!(ok.act, Act::Command);
    assert_eq!(
        ok.verified,
        "token in the reply address; DKIM pass (d=x.vn)"
    );
}

#[test]
fn commands_need_their_reasons_and_valid_targets() {
    let deputy = member("pb@x.vn", &[Role::Deputy]);
    let head = member("tb@x.vn", &[Role::Head]);
    let secretary = member("tk@x.vn", &[Role::Secretariat]);
    let t = view(State::Reviewing);
    for c in [
        Command::Reject { reason: " ".into() },
        Command::Revise {
            request: String::new(),
        },
    ] {
        assert!(matches!(
            run(&t, &deputy, &current(&t), &c),
            Err(Refusal::ReasonRequired(_))
        ));
    }
    let reassign = |to: &str, target: Option<&Member>| {
        let c = Command::Reassign { to: to.into() };
        let actor = Actor {
            address: Some("pb@x.vn"),
            member: Some(&deputy),
        };
        let a = Ask {
            command: Some(&c),
            target,
            credits: false,
        };
        decide(&t, &actor, &current(&t), &DomainAuth::NotRequired, &a)
    };
    assert_eq!(reassign("", None), Err(Refusal::ReassignToNobody));
    assert_eq!(
        reassign("x@evil.test", None),
        Err(Refusal::ReassignToStranger("x@evil.test".into()))
    );
    assert_eq!(
        reassign("tk@x.vn", Some(&secretary)),
        Err(Refusal::ReassignCannotAct("tk@x.vn".into()))
    );
    assert!(command_ok(&reassign("tb@x.vn", Some(&head))));
}

#[test]
fn a_ticket_handed_to_one_member_waits_for_them_alone() {
    let deputy = member("pb@x.vn", &[Role::Deputy]);
    let other = member("pb2@x.vn", &[Role::Deputy]);
    let mut t = view(State::Reviewing);
    t.assignee = "pb2@x.vn";
    t.assignee_role = None;
    assert_eq!(
        run(&t, &deputy, &current(&t), &approve()),
        Err(Refusal::NotAssigned)
    );
    assert!(command_ok(&run(&t, &other, &current(&t), &approve())));
}

fn sender_says(
    t: &View<'_>,
    proof: &Proof,
    command: Option<&Command>,
    credits: bool,
) -> Result<Allowed, Refusal> {
    let actor = Actor {
        address: Some(SENDER),
        member: None,
    };
    let a = Ask {
        command,
        target: None,
        credits,
    };
    decide(t, &actor, proof, &DomainAuth::NotRequired, &a)
}

/// The sender's own paths: a new version answers the current change
/// request; credits need a token of theirs for the current version (item
/// 1: a forged sender without one changes nothing).
#[test]
fn the_senders_new_version_and_credits() {
    let mut t = view(State::NeedsChanges);
    let request = token(Stage::Sender, 2, 5);
    assert_eq!(
        sender_says(&t, &request, None, false).unwrap().act,
        Act::NewVersion
    );
    // A text that reads like a command is still the sender's version.
    let c = Command::Revise {
        request: "lại đoạn 2".into(),
    };
    assert_eq!(
        sender_says(&t, &request, Some(&c), false).unwrap().act,
        Act::NewVersion
    );
    assert_eq!(
        sender_says(&t, &Proof::ZaloSender, None, false)
            .unwrap()
            .act,
        Act::NewVersion
    );
    // The receipt's token (an earlier round), none, or a reviewer's token.
    for p in [
        token(Stage::Sender, 1, 1),
        Proof::None,
        token(Stage::Reviewing, 2, 5),
    ] {
        assert_eq!(
            sender_says(&t, &p, None, false),
            Err(Refusal::VersionWithoutRequest),
            "{p:?}"
        );
    }

    // Credits while approved and held (R8).
    t.state = State::Approved;
    t.missing_credits = true;
    let receipt = token(Stage::Sender, 2, 1);
    assert_eq!(
        sender_says(&t, &receipt, None, true).unwrap().act,
        Act::Credits
    );
    assert_eq!(
        sender_says(&t, &Proof::None, None, true),
        Err(Refusal::NoToken)
    );
    assert_eq!(
        sender_says(&t, &token(Stage::Sender, 1, 1), None, true),
        Err(Refusal::OutOfDate { version: 2 })
    );
    let actor = Actor {
        address: Some(SENDER),
        member: None,
    };
    let a = Ask {
        command: None,
        target: None,
        credits: true,
    };
    assert_eq!(
        decide(&t, &actor, &receipt, &DomainAuth::Fail("bad".into()), &a),
        Err(Refusal::DomainAuth("bad".into()))
    );
    // Nothing missing, or already published: a note.
    t.missing_credits = false;
    assert_eq!(
        sender_says(&t, &receipt, None, true).unwrap().act,
        Act::Note
    );
    t.missing_credits = true;
    t.state = State::Published;
    assert_eq!(
        sender_says(&t, &receipt, None, true).unwrap().act,
        Act::Note
    );
    // Someone else's text is a note; with a command, refused.
    let stranger = Actor {
        address: Some("x@evil.test"),
        member: None,
    };
    let plain = Ask {
        command: None,
        target: None,
        credits: true,
    };
    assert_eq!(
        decide(&t, &stranger, &receipt, &DomainAuth::NotRequired, &plain)
            .unwrap()
            .act,
        Act::Note
    );
}

#[test]
fn what_the_publisher_may_write() {
    let mut t = view(State::Approved);
    assert_eq!(publishable(&t, None), Ok(()));
    assert_eq!(
        publishable(&t, Some("MẬT (line 1)")),
        Err(Refusal::Classified("MẬT (line 1)".into()))
    );
    t.missing_credits = true;
    assert_eq!(publishable(&t, None), Err(Refusal::MissingCredits));
    for s in [
        State::Reviewing,
        State::NeedsChanges,
        State::Rejected,
        State::Published,
    ] {
        assert_eq!(publishable(&view(s), None), Err(Refusal::NotApproved(s)));
    }
    assert_eq!(
        unpublishable(&view(State::Published), "sai số liệu"),
        Ok(())
    );
    assert!(unpublishable(&view(State::Published), " ").is_err());
    assert_eq!(
        unpublishable(&view(State::Approved), "x"),
        Err(Refusal::NotPublished)
    );
}

#[test]
fn only_active_members_are_told() {
    let deputy = member("pb@x.vn", &[Role::Deputy]);
    let mut off = deputy.clone();
    off.active = false;
    let actor = |m: Option<&'static Member>| Actor {
        address: Some("pb@x.vn"),
        member: m,
    };
    let deputy: &'static Member = Box::leak(Box::new(deputy));
    let off: &'static Member = Box::leak(Box::new(off));
    assert!(Refusal::NoToken.tell(&actor(Some(deputy))));
    assert!(!Refusal::NoToken.tell(&actor(Some(off))));
    assert!(!Refusal::NoToken.tell(&actor(None)));
    assert!(!Refusal::NotOneFrom.tell(&actor(Some(deputy))));
}

#[test]
fn states_and_stages_round_trip() {
    for s in [
        State::Received,
        State::Editing,
        State::Reviewing,
        State::NeedsChanges,
        State::Approved,
        State::Rejected,
        State::Published,
        State::Unpublished,
    ] {
        assert_eq!(State::parse(s.as_str()), Some(s));
    }
    for s in [
        Stage::Editing,
        Stage::Reviewing,
        Stage::Publication,
        Stage::Sender,
    ] {
        assert_eq!(Stage::parse(s.as_str()), Some(s));
    }
    assert_eq!(State::parse("bogus"), None);
}
