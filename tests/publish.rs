//! Publishing into the portal's database: the site tables on SQLite,
//! PostgreSQL and MariaDB; approve by reply → row, photo without GPS, link
//! to the sender; takedown by reply; a correction republished in place; a
//! site database that is down; credits the approver supplies; the console.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bientap::publish::{Article, MediaFile, SiteDb, text};
use common::*;
use sqlx::Row;

/// A board reading IMAP whose approved items go to `site_url`.
fn board(stack: &'static MailStack, p: &People, site_url: &str, publish: &str) -> Board {
    let b = Board::with_members(
        &p.board,
        Mailbox::imap(stack, "starttls"),
        None,
        &members(&[("Hoàng Minh Đức", &p.head, "head")]),
        &format!(
            "[review]\ndefault_approver = \"head\"\n\n[site]\nurl = \"{site_url}\"\nmedia_dir = \"media\"\n\
             media_url = \"https://portal.example.test/media\"\narticle_url = \"https://portal.example.test/tin/{{slug}}\"\n{publish}\n"
        ),
    );
    std::fs::create_dir_all(b.dir.path()).unwrap();
    b
}

fn media_dir(b: &Board) -> PathBuf {
    b.dir.path().join("media")
}

/// A submission with an HTML body (with hostile parts), a plain
/// alternative, bylines and a photo carrying GPS coordinates.
fn article_with_photo(from: &str, to: &str, subject: &str) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let photo = b64.encode(std::fs::read(manifest_dir().join("fixtures/images/gps.jpg")).unwrap());
    let photo: String = photo
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    let text = "Sáng 24/11, xã Ea Sô khánh thành cầu treo buôn Ly qua suối Ea Krông.\r\n\r\n\
                Cây cầu dài 60 mét, giúp 300 hộ dân đi lại an toàn trong mùa mưa.\r\n\r\n\
                Bài, ảnh: Nguyễn Văn An\r\nNguồn: UBND xã Ea Sô\r\n";
    let html = "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>\
                <p onclick=\"steal()\">Sáng 24/11, xã Ea Sô khánh thành cầu treo buôn Ly qua suối Ea Krông.</p>\
                <p>Cây cầu dài 60 mét, giúp 300 hộ dân đi lại an toàn trong mùa mưa.\
                <a href=\"javascript:steal()\">xem thêm</a><iframe src=\"https://evil.example/\"></iframe>\
                <img src=\"https://tracker.example/pixel.gif\" onerror=\"steal()\"></p>\
                <div style=\"width: expression(alert(1)); background: url(javascript:steal())\">Khung</div>\
                <svg onload=\"steal()\"><script>steal()</script><a xlink:href=\"javascript:steal()\">x</a></svg>\
                <form action=\"https://evil.example/\"><input name=\"pw\"></form>\
                <p>Bài, ảnh: Nguyễn Văn An<br>Nguồn: UBND xã Ea Sô</p></body></html>";
    let subject = b64.encode(subject);
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: =?utf-8?b?{subject}?=\r\nDate: Tue, 24 Nov 2026 09:00:00 +0700\r\n\
         Message-ID: <{}@collab.example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n\
         --alt--\r\n\
         --outer\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename*=utf-8''C%E1%BA%A7u%20treo.jpg\r\n\r\n{photo}\
         --outer--\r\n",
        unique("submission")
    )
    .into_bytes()
}

/// Sends a submission from the collaborator; returns the head's
/// notification and the ticket code.
async fn submit(stack: &MailStack, p: &People, raw: &[u8]) -> (Mail, String) {
    stack.send_smtp(&p.ctv, &[&p.board], raw);
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    let code = code_in(&note.subject);
    (note, code)
}

async fn rows(site: &SiteDb, sql: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(sql).fetch_all(site.pool()).await.unwrap()
}

async fn count(site: &SiteDb, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(site.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Every published file under the media directory.
fn media_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for sub in entries.flatten() {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out
}

fn sample(origin: &str, title: &str, body: &str, version: i64) -> Article {
    Article {
        origin: origin.into(),
        title: title.into(),
        summary: "Tóm tắt.".into(),
        body_html: body.into(),
        author: "Nguyễn Văn An".into(),
        source: "UBND xã Ea Sô".into(),
        category: "Tin địa phương".into(),
        reference_news: false,
        reference_notice: String::new(),
        credit_line: "Tác giả: Nguyễn Văn An. Nguồn: UBND xã Ea Sô.".into(),
        version,
        approved_by: "truongban@example.test".into(),
        approved_at: 1_795_000_000,
        media: vec![MediaFile {
            sha256: "ab".repeat(32),
            file_name: format!("{}.jpg", "ab".repeat(32)),
            original_name: "Ảnh cầu treo.jpg".into(),
            content_type: "image/jpeg".into(),
            url: "https://portal.example.test/media/ab/x.jpg".into(),
            is_image: true,
            dimensions: Some((640, 480)),
        }],
    }
}

/// The site tables behave the same on every backend: idempotent publish,
/// slug collisions, republish in place, takedown that keeps the row,
/// Vietnamese text intact, and migrations that run twice.
async fn site_tables(url: &str) {
    let site = SiteDb::open(url).await.unwrap();
    let title = "Khánh thành cầu treo buôn Ly — niềm vui của bà con 🎉";
    let a1 = sample("BBT-2026-00001", title, "<p>Bản một.</p>", 1);
    let slug = site.publish(&a1, 1_795_000_100).await.unwrap();
    assert_eq!(slug, "khanh-thanh-cau-treo-buon-ly-niem-vui-cua-ba-con");
    // The same publication again (a crash before the ticket was marked)
    // changes nothing and logs nothing.
    assert_eq!(site.publish(&a1, 1_795_000_200).await.unwrap(), slug);
    assert_eq!(count(&site, "SELECT COUNT(*) FROM articles").await, 1);
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM publication_log").await,
        1
    );
    assert_eq!(count(&site, "SELECT COUNT(*) FROM media").await, 1);

    // Another article with the same title gets its own address.
    let other = sample("BBT-2026-00002", title, "<p>Bài khác.</p>", 1);
    assert_eq!(
        site.publish(&other, 1_795_000_300).await.unwrap(),
        format!("{slug}-2")
    );

    // A corrected version replaces the first in place.
    let mut a2 = sample(
        "BBT-2026-00001",
        "Khánh thành cầu treo buôn Ly",
        "<p>Bản hai.</p>",
        2,
    );
    a2.media.clear();
    assert_eq!(
        site.publish(&a2, 1_795_000_400).await.unwrap(),
        slug,
        "the address stays"
    );
    let row = &rows(
        &site,
        "SELECT id, title, body_html, version, status, author, category_id FROM articles WHERE origin = 'BBT-2026-00001'",
    )
    .await[0];
    assert_eq!(text(row, "title").unwrap(), "Khánh thành cầu treo buôn Ly");
    assert_eq!(text(row, "body_html").unwrap(), "<p>Bản hai.</p>");
    assert_eq!(row.try_get::<i64, _>("version").unwrap(), 2);
    assert_eq!(text(row, "status").unwrap(), "published");
    assert_eq!(text(row, "author").unwrap(), "Nguyễn Văn An");
    assert!(
        row.try_get::<Option<i64>, _>("category_id")
            .unwrap()
            .is_some()
    );
    assert_eq!(count(&site, "SELECT COUNT(*) FROM articles").await, 2);
    assert_eq!(count(&site, "SELECT COUNT(*) FROM categories").await, 1);
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM media WHERE article_id = (SELECT id FROM articles WHERE origin = 'BBT-2026-00001')").await,
        0,
        "the media rows follow the new version"
    );

    // Taken down: the row stays, with the reason.
    assert!(
        site.unpublish(
            "BBT-2026-00001",
            "Số liệu chưa được xác nhận",
            "truongban@example.test",
            1_795_000_500
        )
        .await
        .unwrap()
    );
    assert!(!site.unpublish("BBT-2026-09999", "x", "y", 1).await.unwrap());
    let row = &rows(&site, "SELECT status, unpublish_reason, unpublished_at FROM articles WHERE origin = 'BBT-2026-00001'").await[0];
    assert_eq!(text(row, "status").unwrap(), "unpublished");
    assert_eq!(
        text(row, "unpublish_reason").unwrap(),
        "Số liệu chưa được xác nhận"
    );
    assert_eq!(
        row.try_get::<Option<i64>, _>("unpublished_at").unwrap(),
        Some(1_795_000_500)
    );
    let log: Vec<(String, String)> = rows(
        &site,
        "SELECT action, reason FROM publication_log WHERE origin = 'BBT-2026-00001' ORDER BY id",
    )
    .await
    .iter()
    .map(|r| (text(r, "action").unwrap(), text(r, "reason").unwrap()))
    .collect();
    assert_eq!(
        log,
        vec![
            ("published".to_string(), String::new()),
            ("updated".to_string(), String::new()),
            (
                "unpublished".to_string(),
                "Số liệu chưa được xác nhận".to_string()
            ),
        ]
    );
    // Republishing after a takedown clears it.
    site.publish(&a2, 1_795_000_600).await.unwrap();
    let row = &rows(
        &site,
        "SELECT status, unpublish_reason FROM articles WHERE origin = 'BBT-2026-00001'",
    )
    .await[0];
    assert_eq!(text(row, "status").unwrap(), "published");
    assert_eq!(text(row, "unpublish_reason").unwrap(), "");
    site.pool().close().await;
    // Opening again finds the tables up to date.
    let again = SiteDb::open(url).await.unwrap();
    assert_eq!(count(&again, "SELECT COUNT(*) FROM articles").await, 2);
    again.pool().close().await;
}

#[tokio::test]
async fn site_tables_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    site_tables(&format!(
        "sqlite://{}",
        dir.path().join("portal.db").display()
    ))
    .await;
}

#[tokio::test]
async fn site_tables_on_postgres() {
    let db = PgDatabase::create().await;
    site_tables(&db.url).await;
}

#[tokio::test]
async fn site_tables_on_mariadb() {
    let db = MysqlDatabase::create().await;
    site_tables(&db.url).await;
}

/// Submit → approve by reply → the portal's row (sanitised, credited,
/// photo without GPS) → the sender's link → takedown by reply.
#[tokio::test]
async fn approve_publish_then_take_down() {
    let stack = stack();
    let p = People::new("publish");
    let dir = tempfile::tempdir().unwrap();
    let site_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let b = board(stack, &p, &site_url, "publish = \"immediately\"");
    let mut daemon = b.start();
    let (note, code) = submit(
        stack,
        &p,
        &article_with_photo(&p.ctv, &p.board, "Khánh thành cầu treo buôn Ly"),
    )
    .await;
    stack.answer(&note, &p.head, "DUYỆT");

    let detail = b.wait_state(&code, "published", &mut daemon).await;
    let url = "https://portal.example.test/tin/khanh-thanh-cau-treo-buon-ly";
    assert_eq!(detail.summary.url, url);
    assert_eq!(detail.summary.author, "Nguyễn Văn An");
    assert_eq!(detail.summary.source, "UBND xã Ea Sô");

    let site = SiteDb::open(&site_url).await.unwrap();
    let row = &rows(
        &site,
        &format!("SELECT * FROM articles WHERE origin = '{code}'"),
    )
    .await[0];
    assert_eq!(text(row, "status").unwrap(), "published");
    assert_eq!(text(row, "title").unwrap(), "Khánh thành cầu treo buôn Ly");
    assert_eq!(text(row, "approved_by").unwrap(), p.head);
    let credit = text(row, "credit_line").unwrap();
    assert!(
        credit.contains("Tác giả: Nguyễn Văn An. Nguồn: UBND xã Ea Sô."),
        "{credit}"
    );
    let summary = text(row, "summary").unwrap();
    assert!(
        summary.starts_with("Sáng 24/11, xã Ea Sô khánh thành cầu treo"),
        "{summary}"
    );
    let body = text(row, "body_html").unwrap();
    assert!(body.contains("Cây cầu dài 60 mét"), "{body}");
    for hostile in [
        "<script",
        "alert(",
        "onclick",
        "onerror",
        "javascript:",
        "expression(",
        "<svg",
        "<form",
        "<input",
        "<iframe",
        "tracker.example",
        "<style",
    ] {
        assert!(
            !body.contains(hostile),
            "{hostile} reached the portal: {body}"
        );
    }

    // The photo: one row, one file, GPS gone, and the file is what the row says.
    let media = rows(
        &site,
        "SELECT sha256, file_name, original_name, content_type, url, is_image, width FROM media",
    )
    .await;
    assert_eq!(media.len(), 1);
    let m = &media[0];
    assert_eq!(text(m, "original_name").unwrap(), "Cầu treo.jpg");
    assert_eq!(text(m, "content_type").unwrap(), "image/jpeg");
    assert_eq!(m.try_get::<i64, _>("is_image").unwrap(), 1);
    assert!(m.try_get::<Option<i64>, _>("width").unwrap().is_some());
    let files = media_files(&media_dir(&b));
    assert_eq!(files.len(), 1, "{files:?}");
    let published = std::fs::read(&files[0]).unwrap();
    assert!(
        !bientap::content::image::has_gps(&published),
        "GPS data reached the portal"
    );
    let original = std::fs::read(manifest_dir().join("fixtures/images/gps.jpg")).unwrap();
    assert!(
        bientap::content::image::has_gps(&original),
        "the fixture carries GPS data"
    );
    assert_eq!(
        bientap::store::archive::sha256_hex(&published),
        m.try_get::<String, _>("sha256").unwrap()
    );
    let file_name = text(m, "file_name").unwrap();
    assert!(text(m, "url").unwrap().ends_with(&file_name));

    // The sender gets the link; the approver gets how to take it down.
    let done = stack.wait_mail(&p.ctv, "Bài đã được đăng").await;
    assert!(done.text.contains(url), "{}", done.text);
    let told = stack.wait_mail(&p.head, "Đã đăng").await;
    assert!(told.text.contains("GỠ BÀI: <lý do>"), "{}", told.text);

    stack.answer(
        &told,
        &p.head,
        "GỠ BÀI: số liệu hộ nghèo chưa được xác nhận",
    );
    let detail = b.wait_state(&code, "unpublished", &mut daemon).await;
    assert_eq!(
        detail.summary.takedown_reason,
        "số liệu hộ nghèo chưa được xác nhận"
    );
    let row = &rows(
        &site,
        &format!("SELECT status, unpublish_reason FROM articles WHERE origin = '{code}'"),
    )
    .await[0];
    assert_eq!(text(row, "status").unwrap(), "unpublished");
    assert_eq!(
        text(row, "unpublish_reason").unwrap(),
        "số liệu hộ nghèo chưa được xác nhận"
    );
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM articles").await,
        1,
        "the row is kept"
    );
    let actions: Vec<String> = rows(&site, "SELECT action FROM publication_log ORDER BY id")
        .await
        .iter()
        .map(|r| text(r, "action").unwrap())
        .collect();
    assert_eq!(actions, vec!["published", "unpublished"]);
    let shown = String::from_utf8(b.cli(&["tickets", "show", &code]).stdout).unwrap();
    assert!(
        shown.contains("[unpublished]") && shown.contains("taken down: số liệu"),
        "{shown}"
    );
    daemon.stop();
}

/// After publication the approver asks for a change; the corrected version,
/// approved again, replaces the article in place (same row, same address).
#[tokio::test]
async fn correction_is_republished_in_place_on_postgres() {
    let stack = stack();
    let p = People::new("republish");
    let db = PgDatabase::create().await;
    let b = board(stack, &p, &db.url, "publish = \"immediately\"");
    let mut daemon = b.start();
    let (note, code) = submit(stack, &p, &p.article("Ngày hội đại đoàn kết thôn 3", "Tối 20/11, thôn 3 tổ chức Ngày hội đại đoàn kết toàn dân tộc với 200 hộ tham gia.\n\nTác giả: Trần Thị Bình\nNguồn: Ban công tác Mặt trận thôn 3")).await;
    stack.answer(&note, &p.head, "DUYỆT");
    b.wait_state(&code, "published", &mut daemon).await;
    let site = SiteDb::open(&db.url).await.unwrap();
    let first = &rows(
        &site,
        &format!("SELECT id, slug, version FROM articles WHERE origin = '{code}'"),
    )
    .await[0];
    let (id, slug): (i64, String) = (first.try_get("id").unwrap(), text(first, "slug").unwrap());
    assert_eq!(first.try_get::<i64, _>("version").unwrap(), 1);

    let told = stack.wait_mail(&p.head, "Đã đăng").await;
    stack.answer(&told, &p.head, "SỬA: ghi rõ số hộ tham gia là 230");
    b.wait_state(&code, "needs_changes", &mut daemon).await;
    let ask = stack.wait_mail(&p.ctv, "Đề nghị sửa bài").await;
    stack.answer(&ask, &p.ctv, "Tối 20/11, thôn 3 tổ chức Ngày hội đại đoàn kết toàn dân tộc với 230 hộ tham gia.\n\nTác giả: Trần Thị Bình\nNguồn: Ban công tác Mặt trận thôn 3");
    b.wait_state(&code, "reviewing", &mut daemon).await;
    let again = stack.wait_nth_mail(&p.head, "Cần duyệt", 2).await;
    stack.answer(&again, &p.head, "DUYỆT");
    wait_for(Duration::from_secs(60), "a second publication", || async {
        b.events(&code, "published").await == 2
    })
    .await;

    let rows_now = rows(
        &site,
        &format!("SELECT id, slug, version, body_html FROM articles WHERE origin = '{code}'"),
    )
    .await;
    assert_eq!(rows_now.len(), 1);
    let now = &rows_now[0];
    assert_eq!(now.try_get::<i64, _>("id").unwrap(), id);
    assert_eq!(text(now, "slug").unwrap(), slug);
    assert_eq!(now.try_get::<i64, _>("version").unwrap(), 2);
    assert!(text(now, "body_html").unwrap().contains("230 hộ"));
    let actions: Vec<String> = rows(
        &site,
        &format!("SELECT action FROM publication_log WHERE origin = '{code}' ORDER BY id"),
    )
    .await
    .iter()
    .map(|r| text(r, "action").unwrap())
    .collect();
    assert_eq!(actions, vec!["published", "updated"]);
    wait_until(
        Duration::from_secs(60),
        "the sender hears of the new version",
        || {
            stack
                .inbox(&p.ctv)
                .iter()
                .any(|m| m.subject.contains("Bài đã được đăng") && m.text.contains("đăng lại"))
        },
    );
    site.pool().close().await;
    daemon.stop();
}

/// The portal's database is missing when the item is approved: the ticket
/// stays approved with the error, the photo is already in place, a kill -9
/// loses nothing; once the database exists the item is published once.
#[tokio::test]
async fn site_down_then_up_on_mariadb() {
    let stack = stack();
    let p = People::new("sitedown");
    let db = MysqlDatabase::reserve().await;
    let b = board(stack, &p, &db.url, "publish = \"immediately\"");
    let mut daemon = b.start();
    let (note, code) = submit(
        stack,
        &p,
        &article_with_photo(&p.ctv, &p.board, "Khánh thành cầu treo buôn Ly"),
    )
    .await;
    stack.answer(&note, &p.head, "DUYỆT");
    b.wait_state(&code, "approved", &mut daemon).await;
    let store = b.store().await;
    wait_for(
        Duration::from_secs(60),
        "the failed attempt is recorded",
        || async {
            let t = store.ticket(&code).await.unwrap().unwrap();
            !t.summary.publish_error.is_empty()
        },
    )
    .await;
    let t = store.ticket(&code).await.unwrap().unwrap();
    assert_eq!(t.summary.state, "approved");
    assert!(
        t.summary.publish_error.contains("site database"),
        "{}",
        t.summary.publish_error
    );
    assert!(t.summary.publish_at.is_some(), "a retry is planned");
    assert_eq!(media_files(&media_dir(&b)).len(), 1, "media go first");
    let shown = String::from_utf8(b.cli(&["tickets", "show", &code]).stdout).unwrap();
    assert!(shown.contains("last publishing attempt failed"), "{shown}");

    daemon.kill9();
    db.create_now().await;
    let mut daemon = b.start();
    b.wait_state(&code, "published", &mut daemon).await;
    let site = SiteDb::open(&db.url).await.unwrap();
    assert_eq!(count(&site, "SELECT COUNT(*) FROM articles").await, 1);
    assert_eq!(
        count(&site, "SELECT COUNT(*) FROM publication_log").await,
        1
    );
    assert_eq!(count(&site, "SELECT COUNT(*) FROM media").await, 1);
    assert_eq!(
        media_files(&media_dir(&b)).len(),
        1,
        "the photo is not copied twice"
    );
    let title = text(&rows(&site, "SELECT title FROM articles").await[0], "title").unwrap();
    assert_eq!(title, "Khánh thành cầu treo buôn Ly");
    let t = store.ticket(&code).await.unwrap().unwrap();
    assert_eq!(t.summary.publish_error, "");
    stack.wait_mail(&p.ctv, "Bài đã được đăng").await;
    assert_eq!(stack.count_subject(&p.ctv, "Bài đã được đăng"), 1);
    site.pool().close().await;
    daemon.stop();
}

/// Without a byline the approved item is held (R8) and the console refuses
/// it; the approver names author and source on the approve line; outside
/// the publishing window the console publishes it now and takes it down.
#[tokio::test]
async fn credits_from_the_approver_and_the_console() {
    let stack = stack();
    let p = People::new("credits");
    let dir = tempfile::tempdir().unwrap();
    let site_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    // A window an hour ago: the next one is almost a day away.
    // (Vietnam keeps UTC+7 all year.)
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let local = (secs + 7 * 3600 - 3600) % 86_400;
    let window = format!("{:02}:{:02}", local / 3600, local % 3600 / 60);
    let b = board(
        stack,
        &p,
        &site_url,
        &format!("publish = \"windows\"\nwindows = [\"{window}\"]"),
    );
    let mut daemon = b.start();
    let (note, code) = submit(
        stack,
        &p,
        &p.article(
            "Tiêm chủng mở rộng đợt 4",
            "Trạm y tế xã tổ chức tiêm chủng mở rộng đợt 4 cho 150 trẻ em từ ngày 1/12.",
        ),
    )
    .await;
    stack.answer(&note, &p.head, "DUYỆT");
    b.wait_event(&code, "held", &mut daemon).await;
    let held = stack.wait_mail(&p.head, "Đã ghi nhận").await;
    assert!(held.text.contains("chưa có tên tác giả"), "{}", held.text);
    let refused = b.cli(&["publish", &code]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("lacks") && err.contains("R8"), "{err}");

    stack.answer(
        &held,
        &p.head,
        "DUYỆT, tác giả: Lê Văn Cường, nguồn: Trạm y tế xã",
    );
    wait_for(
        Duration::from_secs(60),
        "credits and a publishing moment",
        || async {
            let t = b.store().await.ticket(&code).await.unwrap().unwrap();
            t.summary.author == "Lê Văn Cường" && t.summary.publish_at.is_some()
        },
    )
    .await;
    let t = b.store().await.ticket(&code).await.unwrap().unwrap();
    assert_eq!(t.summary.state, "approved", "the window has not come");
    assert_eq!(t.summary.source, "Trạm y tế xã");

    let out = b.cli(&["publish", &code]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("https://portal.example.test/tin/tiem-chung-mo-rong-dot-4"),
        "{said}"
    );
    let site = SiteDb::open(&site_url).await.unwrap();
    let author = text(
        &rows(&site, "SELECT author FROM articles").await[0],
        "author",
    )
    .unwrap();
    assert_eq!(author, "Lê Văn Cường");
    stack.wait_mail(&p.ctv, "Bài đã được đăng").await;

    let no_reason = b.cli(&["unpublish", &code, "--reason", " "]);
    assert!(!no_reason.status.success());
    let out = b.cli(&[
        "unpublish",
        &code,
        "--reason",
        "Trùng lịch với thông báo của huyện",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = &rows(&site, "SELECT status, unpublish_reason FROM articles").await[0];
    assert_eq!(text(row, "status").unwrap(), "unpublished");
    assert_eq!(
        text(row, "unpublish_reason").unwrap(),
        "Trùng lịch với thông báo của huyện"
    );
    let again = b.cli(&["unpublish", &code, "--reason", "x"]);
    assert!(!again.status.success(), "nothing to take down twice");
    assert_eq!(
        b.store()
            .await
            .ticket(&code)
            .await
            .unwrap()
            .unwrap()
            .summary
            .state,
        "unpublished"
    );
    site.pool().close().await;
    daemon.stop();
}

/// With publishing windows (R15), approved items wait for the next window
/// and are published then in approval order, not arrival order.
#[tokio::test]
async fn windows_publish_in_approval_order() {
    use bientap::publish::{Publisher, PublisherParts};
    use std::sync::Arc;
    let stack = stack();
    let p = People::new("windows");
    let dir = tempfile::tempdir().unwrap();
    let site_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let b = board(
        stack,
        &p,
        &site_url,
        "publish = \"windows\"\nwindows = [\"07:30\", \"13:30\"]",
    );
    let mut daemon = b.start();
    let mut codes = Vec::new();
    let mut notes = Vec::new();
    for title in ["Bài đến trước", "Bài đến sau"] {
        let body = format!(
            "{title}: nội dung bài viết về hoạt động của xã.\n\nTác giả: Đỗ Thị Mai\nNguồn: UBND xã"
        );
        p.send_article(stack, title, &body);
        let note = stack.wait_mail(&p.head, title).await;
        let code = code_in(&note.subject);
        codes.push(code);
        notes.push(note);
    }
    // The later arrival is approved first.
    stack.answer(&notes[1], &p.head, "DUYỆT");
    b.wait_state(&codes[1], "approved", &mut daemon).await;
    stack.answer(&notes[0], &p.head, "DUYỆT");
    b.wait_state(&codes[0], "approved", &mut daemon).await;
    daemon.stop();

    let store = b.store().await;
    let mut windows = Vec::new();
    for code in &codes {
        let t = store.ticket(code).await.unwrap().unwrap();
        let at: jiff::Timestamp = t
            .summary
            .publish_at
            .expect("queued for a window")
            .parse()
            .unwrap();
        windows.push(at);
    }
    assert_eq!(windows[0], windows[1], "both wait for the same window");
    let local = windows[0].to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap());
    let hm = local.strftime("%H:%M").to_string();
    assert!(hm == "07:30" || hm == "13:30", "{local}");

    let config = Arc::new(bientap::config::Config::load(&b.config).unwrap());
    let calendar = Arc::new(bientap::schedule::calendar::Calendar::new(
        config.board.time_zone.clone(),
        config.calendar.clone(),
    ));
    let mut publisher = Publisher::new(PublisherParts {
        store: store.clone(),
        archive: bientap::store::Archive::open(&b.state_dir().join("archive")).unwrap(),
        key: bientap::workflow::auth::ReplyKey::load_or_create(&b.state_dir()).unwrap(),
        calendar: calendar.into(),
        clock: Arc::new(bientap::schedule::SystemClock),
        wake: Arc::default(),
        outbox: Arc::default(),
        config: config.into(),
    });
    let before = windows[0]
        .checked_sub(jiff::Span::new().seconds(1))
        .unwrap();
    assert!(
        publisher.publish_due(before).await.unwrap().is_empty(),
        "nothing before the window"
    );
    let done = publisher.publish_due(windows[0]).await.unwrap();
    assert_eq!(
        done,
        vec![codes[1].clone(), codes[0].clone()],
        "approval order"
    );
    let site = SiteDb::open(&site_url).await.unwrap();
    let order: Vec<String> = rows(&site, "SELECT origin FROM publication_log ORDER BY id")
        .await
        .iter()
        .map(|r| text(r, "origin").unwrap())
        .collect();
    assert_eq!(order, vec![codes[1].clone(), codes[0].clone()]);
    site.pool().close().await;
    store.close().await;
}

/// A MIME part for `submission_with`: content type, file name (sent
/// RFC 2231-encoded, so any character survives), optional Content-ID,
/// bytes.
struct Attached<'a> {
    content_type: &'a str,
    name: &'a str,
    cid: Option<&'a str>,
    data: Vec<u8>,
}

fn rfc2231(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A submission with a plain and an HTML body and these attachments;
/// `from_name` and `subject` are sent base64-encoded as they are.
fn submission_with(
    from: &str,
    from_name: &str,
    to: &str,
    subject: &str,
    text: &str,
    html: &str,
    parts: &[Attached<'_>],
) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let wrap = |data: &[u8]| -> String {
        b64.encode(data)
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect()
    };
    let mut raw = format!(
        "From: =?utf-8?b?{}?= <{from}>\r\nTo: {to}\r\nSubject: =?utf-8?b?{}?=\r\n\
         Date: Tue, 24 Nov 2026 09:00:00 +0700\r\nMessage-ID: <{}@collab.example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --alt--\r\n",
        b64.encode(from_name),
        b64.encode(subject),
        unique("submission"),
        wrap(text.as_bytes()),
        wrap(html.as_bytes()),
    );
    for p in parts {
        raw.push_str(&format!(
            "--outer\r\nContent-Type: {}\r\nContent-Transfer-Encoding: base64\r\n{}\
             Content-Disposition: attachment; filename*=utf-8''{}\r\n\r\n{}",
            p.content_type,
            p.cid
                .map(|c| format!("Content-ID: <{c}>\r\n"))
                .unwrap_or_default(),
            rfc2231(p.name),
            wrap(&p.data),
        ));
    }
    raw.push_str("--outer--\r\n");
    raw.into_bytes()
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// The extensions bientap writes into the media directory.
const PUBLISHED_EXTENSIONS: &[&str] = &[
    "jpg", "png", "webp", "gif", "pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls",
    "ppt", "mp3", "aac", "m4a", "ogg", "flac", "wav", "mp4", "mov", "3gp", "ogv", "webm", "mkv",
];

/// Invariant 8: web pages, scripts, SVG and anything else that a web
/// server could run or show as a page stay on the ticket; photos (by their
/// bytes, whatever their name) and the PDF are published under the
/// extension of what they are; the history names what was left out; the
/// body keeps no image of it.
#[tokio::test]
async fn only_safe_media_reach_the_portal() {
    let stack = stack();
    let p = People::new("safemedia");
    let dir = tempfile::tempdir().unwrap();
    let site_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let b = board(stack, &p, &site_url, "publish = \"immediately\"");
    let mut daemon = b.start();
    let photo = std::fs::read(manifest_dir().join("fixtures/images/gps.jpg")).unwrap();
    let plain = std::fs::read(manifest_dir().join("fixtures/images/plain.jpg")).unwrap();
    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(document.cookie)\"><circle r=\"5\"/></svg>\n";
    let parts = [
        Attached {
            content_type: "application/x-php",
            name: "shell.php",
            cid: None,
            data: b"<?php system($_GET['c']); ?>\n".to_vec(),
        },
        Attached {
            content_type: "text/html; charset=utf-8",
            name: "page.html",
            cid: None,
            data: b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
                .to_vec(),
        },
        Attached {
            content_type: "text/html",
            name: "x.htm",
            cid: None,
            data: b"<HTML><BODY onload=\"alert(1)\">x</BODY></HTML>\n".to_vec(),
        },
        Attached {
            content_type: "image/svg+xml",
            name: "image.svg",
            cid: Some("ve@collab.example.test"),
            data: svg.to_vec(),
        },
        Attached {
            content_type: "text/html",
            name: "a.shtml",
            cid: None,
            data: b"<!--#exec cmd=\"id\" --><p>SSI</p>\n".to_vec(),
        },
        Attached {
            content_type: "application/xhtml+xml",
            name: "b.xhtml",
            cid: None,
            data: b"<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></html>\n"
                .to_vec(),
        },
        Attached {
            content_type: "application/x-php",
            name: "photo.php",
            cid: None,
            data: plain.clone(),
        },
        Attached {
            content_type: "application/pdf",
            name: "Báo cáo.pdf",
            cid: None,
            data: PDF.to_vec(),
        },
        Attached {
            content_type: "image/jpeg",
            name: "Cầu treo.jpg",
            cid: Some("anh@collab.example.test"),
            data: photo.clone(),
        },
    ];
    let plain_text = "Sáng 24/11, xã Ea Sô khánh thành cầu treo buôn Ly qua suối Ea Krông.\n\n\
                Bài, ảnh: Nguyễn Văn An\nNguồn: UBND xã Ea Sô\n";
    let html = "<p>Sáng 24/11, xã Ea Sô khánh thành cầu treo buôn Ly qua suối Ea Krông.</p>\
                <p><img src=\"cid:anh@collab.example.test\" alt=\"Cầu treo\"></p>\
                <p><img src=\"cid:ve@collab.example.test\" alt=\"Sơ đồ\"></p>\
                <p>Bài, ảnh: Nguyễn Văn An<br>Nguồn: UBND xã Ea Sô</p>";
    let raw = submission_with(
        &p.ctv,
        "Nguyễn Văn An",
        &p.board,
        "Khánh thành cầu treo buôn Ly",
        plain_text,
        html,
        &parts,
    );
    let (note, code) = submit(stack, &p, &raw).await;
    // The reviewer has every file.
    let store = b.store().await;
    let t = store.ticket(&code).await.unwrap().unwrap();
    store.close().await;
    let attached: Vec<String> = t.versions[0]
        .attachments
        .iter()
        .map(|a| a.filename.clone())
        .collect();
    assert_eq!(attached.len(), parts.len(), "{attached:?}");
    let svg_sha = t.versions[0]
        .attachments
        .iter()
        .find(|a| a.filename == "image.svg")
        .unwrap()
        .sha256
        .clone();
    assert!(
        t.versions[0]
            .body_html
            .contains(&format!("attachment:{svg_sha}")),
        "the body shows the drawing to the reviewer: {}",
        t.versions[0].body_html
    );
    stack.answer(&note, &p.head, "DUYỆT");
    let detail = b.wait_state(&code, "published", &mut daemon).await;

    // The media directory: the two photos and the PDF, named by what they are.
    let files = media_files(&media_dir(&b));
    let mut extensions: Vec<String> = files
        .iter()
        .map(|f| f.extension().unwrap().to_str().unwrap().to_string())
        .collect();
    extensions.sort();
    assert_eq!(extensions, ["jpg", "jpg", "pdf"], "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let (stem, ext) = name.split_once('.').unwrap();
        assert!(
            stem.len() == 64 && stem.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        assert!(PUBLISHED_EXTENSIONS.contains(&ext), "{name}");
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(bientap::store::archive::sha256_hex(&bytes), stem);
        assert!(!bientap::content::image::has_gps(&bytes), "{name}");
        assert!(
            !String::from_utf8_lossy(&bytes).contains("<script")
                && !String::from_utf8_lossy(&bytes).contains("<?php")
                && !String::from_utf8_lossy(&bytes).contains("<svg"),
            "{name}"
        );
    }

    // The site's rows: sniffed types, cleaned names with the right extension.
    let site = SiteDb::open(&site_url).await.unwrap();
    let media: Vec<(String, String, String, i64)> = rows(
        &site,
        "SELECT original_name, content_type, file_name, is_image FROM media ORDER BY position",
    )
    .await
    .iter()
    .map(|r| {
        (
            text(r, "original_name").unwrap(),
            text(r, "content_type").unwrap(),
            text(r, "file_name").unwrap(),
            r.try_get::<i64, _>("is_image").unwrap(),
        )
    })
    .collect();
    let described: Vec<(&str, &str, i64)> = media
        .iter()
        .map(|(n, t, _, i)| (n.as_str(), t.as_str(), *i))
        .collect();
    assert_eq!(
        described,
        [
            ("photo.jpg", "image/jpeg", 1),
            ("Báo cáo.pdf", "application/pdf", 0),
            ("Cầu treo.jpg", "image/jpeg", 1),
        ]
    );
    for (_, content_type, file_name, _) in &media {
        let ext = file_name.rsplit_once('.').unwrap().1;
        assert_eq!(
            ext,
            if content_type == "application/pdf" {
                "pdf"
            } else {
                "jpg"
            }
        );
        assert!(
            files.iter().any(|f| f.ends_with(file_name)),
            "{file_name} is in the media directory"
        );
    }

    // The body shows the photo from the portal and nothing of the drawing.
    let body = text(
        &rows(&site, "SELECT body_html FROM articles").await[0],
        "body_html",
    )
    .unwrap();
    assert!(!body.contains("attachment:"), "{body}");
    assert!(!body.contains(&svg_sha), "{body}");
    assert!(
        !body.contains("Sơ đồ"),
        "the drawing's image is gone: {body}"
    );
    assert_eq!(body.matches("<img").count(), 1, "{body}");
    let photo_url = text(
        &rows(
            &site,
            "SELECT url FROM media WHERE original_name = 'Cầu treo.jpg'",
        )
        .await[0],
        "url",
    )
    .unwrap();
    assert!(body.contains(&photo_url), "{body}");

    // The history says what was left out and why.
    let withheld: Vec<&bientap::store::EventInfo> = detail
        .events
        .iter()
        .filter(|e| e.kind == "media_withheld")
        .collect();
    assert_eq!(withheld.len(), 1, "{:#?}", detail.events);
    let said = &withheld[0].detail;
    for name in [
        "shell.php",
        "page.html",
        "x.htm",
        "image.svg",
        "a.shtml",
        "b.xhtml",
    ] {
        assert!(said.contains(name), "{name} not named: {said}");
    }
    for name in ["photo.php", "Báo cáo.pdf", "Cầu treo.jpg"] {
        assert!(!said.contains(name), "{name} was published: {said}");
    }
    assert!(said.contains("SVG drawing"), "{said}");
    assert!(said.contains("web page"), "{said}");
    let shown = String::from_utf8(b.cli(&["tickets", "show", &code]).stdout).unwrap();
    assert!(
        shown.contains("media_withheld") && shown.contains("image.svg"),
        "{shown}"
    );
    site.pool().close().await;
    daemon.stop();
}

/// Bidi overrides and invisible characters in a subject, a sender's name,
/// the text and a file name: neither `tickets show`, nor the reviewer's
/// mail, nor the portal's rows carry them; Vietnamese stays as it was.
#[tokio::test]
async fn invisible_characters_never_reach_names_on_mariadb() {
    const HIDDEN: &[char] = &[
        '\u{202E}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{200E}', '\u{200F}',
        '\u{FEFF}', '\u{2060}',
    ];
    let hidden = |s: &str| s.chars().find(|c| HIDDEN.contains(c));
    let stack = stack();
    let p = People::new("bidinames");
    let db = MysqlDatabase::create().await;
    let b = board(stack, &p, &db.url, "publish = \"immediately\"");
    let mut daemon = b.start();
    let photo = std::fs::read(manifest_dir().join("fixtures/images/gps.png")).unwrap();
    let parts = [
        // A PDF whose name reads "reporttxt.pdf" but ends in .txt.
        Attached {
            content_type: "application/pdf",
            name: "report\u{202e}fdp.txt",
            cid: None,
            data: PDF.to_vec(),
        },
        Attached {
            content_type: "image/png",
            name: "Ảnh\u{200b} hiện trường\u{2066}.png",
            cid: None,
            data: photo,
        },
    ];
    let plain_text = "Sáng 24/11, xã Ea Sô tổ chức \u{202e}hội nghị\u{202c} tổng kết công tác năm 2026.\n\n\
                Bài, ảnh: Nguyễn\u{200b} Thị Ánh Tuyết\nNguồn: UBND xã Ea Sô\n";
    let html = "<p>Sáng 24/11, xã Ea Sô tổ chức &#x202E;hội nghị&#x202C; tổng kết công tác năm 2026.</p>\
                <p>Bài, ảnh: Nguyễn Thị Ánh Tuyết<br>Nguồn: UBND xã Ea Sô</p>";
    let raw = submission_with(
        &p.ctv,
        "Trần\u{202e} Đức Lượng",
        &p.board,
        "Hội nghị\u{200b} tổng kết\u{202e} năm 2026",
        plain_text,
        html,
        &parts,
    );
    let (note, code) = submit(stack, &p, &raw).await;

    // The reviewer's mail, as it arrived: no invisible character in a
    // name, no bidi override in the text (a zero-width space in the text is
    // writing, and stays).
    assert_eq!(hidden(&note.subject), None, "{:?}", note.subject);
    for line in note
        .text
        .lines()
        .filter(|l| l.trim_start().starts_with("Tiêu đề") || l.trim_start().starts_with("- "))
    {
        assert_eq!(hidden(line), None, "{line:?}");
    }
    let reordering = |s: &str| {
        s.chars()
            .find(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    };
    assert_eq!(reordering(&note.text), None, "{:?}", note.text);
    assert_eq!(reordering(note.html.as_deref().unwrap_or_default()), None);
    for name in &note.attachments {
        assert_eq!(hidden(name), None, "{name:?}");
    }
    assert!(
        note.subject.contains("Hội nghị tổng kết năm 2026"),
        "{}",
        note.subject
    );
    assert!(note.text.contains("reportfdp.txt"), "{}", note.text);

    // The console.
    let out = b.cli(&["tickets", "show", &code, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).unwrap();
    assert_eq!(reordering(&json), None, "{json}");
    assert!(!json.to_lowercase().contains("\\u202e"), "{json}");
    let shown: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(shown["title"], "Hội nghị tổng kết năm 2026", "{json}");
    assert_eq!(shown["sender_name"], "Trần Đức Lượng", "{json}");
    let names: Vec<&str> = shown["versions"][0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reportfdp.txt", "Ảnh hiện trường.png"]);
    for key in ["title", "subject", "sender_name", "author", "source"] {
        let value = shown[key].as_str().unwrap_or_default();
        assert_eq!(hidden(value), None, "{key}: {value:?}");
    }
    let plain = String::from_utf8(b.cli(&["tickets", "show", &code]).stdout).unwrap();
    assert_eq!(reordering(&plain), None, "{plain}");
    for line in plain
        .lines()
        .filter(|l| !l.starts_with("  ") || l.starts_with("  attachment:"))
    {
        assert_eq!(hidden(line), None, "{line:?}");
    }

    // The portal.
    stack.answer(&note, &p.head, "DUYỆT");
    b.wait_state(&code, "published", &mut daemon).await;
    let site = SiteDb::open(&db.url).await.unwrap();
    let names: Vec<String> = rows(&site, "SELECT original_name FROM media ORDER BY position")
        .await
        .iter()
        .map(|r| text(r, "original_name").unwrap())
        .collect();
    assert_eq!(names, ["reportfdp.pdf", "Ảnh hiện trường.png"]);
    let row = &rows(&site, "SELECT title, body_html, author FROM articles").await[0];
    let title = text(row, "title").unwrap();
    assert_eq!(title, "Hội nghị tổng kết năm 2026");
    let body = text(row, "body_html").unwrap();
    assert_eq!(reordering(&body), None, "{body}");
    assert!(body.contains("hội nghị tổng kết công tác"), "{body}");
    assert_eq!(text(row, "author").unwrap(), "Nguyễn Thị Ánh Tuyết");
    let types: Vec<String> = rows(&site, "SELECT content_type FROM media ORDER BY position")
        .await
        .iter()
        .map(|r| text(r, "content_type").unwrap())
        .collect();
    assert_eq!(types, ["application/pdf", "image/png"]);
    site.pool().close().await;
    daemon.stop();
}
