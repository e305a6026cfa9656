//! Documents: each key document renders from a case with its content, hostile text from users
//! is escaped everywhere, and issuing a document is audited with the page's hash.

mod cases_support;

use cases_support::*;

use haulwatch::cases::audit::{AuditAction, sha256_hex};
use haulwatch::cases::documents::{
    AgencyInfo, DocumentContext, DocumentKind, OfficerLine, document_event, render,
};
use haulwatch::cases::model::{
    CaseStatus, Evidence, EvidenceKind, LegalBasis, Location, Party, PartyKind,
};

const HOSTILE: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;{{case.id}}";

fn officers() -> Vec<OfficerLine> {
    vec![
        OfficerLine {
            name: "王五".into(),
            certificate_no: "桂A0001".into(),
        },
        OfficerLine {
            name: "赵六".into(),
            certificate_no: "桂A0002".into(),
        },
    ]
}

fn evidence(description: &str) -> Vec<Evidence> {
    vec![Evidence {
        id: "ev-1".into(),
        case_id: "case-1".into(),
        kind: EvidenceKind::Photo,
        file_name: "a.jpg".into(),
        media_type: "image/jpeg".into(),
        sha256: sha256_hex(b"a"),
        size_bytes: 1,
        uploaded_by: "u-o1".into(),
        uploaded_at: t0(),
        captured_at: None,
        description: description.into(),
    }]
}

#[test]
fn each_document_renders_from_an_archived_case() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Archived);
    let agency = AgencyInfo::default();
    let officers = officers();
    let evidence = evidence("现场照片");
    let ctx = DocumentContext {
        agency: &agency,
        case: &r.case,
        vehicle_plate: Some("桂B12345"),
        officers: &officers,
        evidence: &evidence,
        issued_on: date(2026, 4, 1),
    };
    let expectations: [(DocumentKind, &[&str]); 5] = [
        (
            DocumentKind::FilingApproval,
            &[
                "立案审批表",
                "未密闭运输",
                "监控平台自动发现",
                "桂B12345",
                "王五",
            ],
        ),
        (
            DocumentKind::PreDecisionNotice,
            &[
                "行政处罚事先告知书",
                "柳州市某某运输有限公司：",
                "第十五条",
                "罚款人民币壹万元整（¥10,000.00）",
                "五个工作日内",
                "照片《现场照片》",
            ],
        ),
        (
            DocumentKind::DecisionNotice,
            &[
                "行政处罚决定书",
                "罚款人民币捌仟元整（¥8,000.00）",
                "十五日内",
                "百分之三",
                "六十日内",
                "柳州市人民政府",
            ],
        ),
        (
            DocumentKind::ServiceReceipt,
            &["送达回证", "直接送达", "李四", "柳城管罚〔2026〕第000001号"],
        ),
        (
            DocumentKind::ClosingApproval,
            &["结案审批表", "已缴纳¥8,000.00", "负责人审批意见"],
        ),
    ];
    for (kind, needles) in expectations {
        let html = render(kind, &ctx).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("@media print") && html.contains("@page"));
        assert!(html.contains("柳州市城市管理行政执法局"));
        for needle in needles {
            assert!(html.contains(needle), "{kind:?} lacks {needle}");
        }
    }
}

#[test]
fn documents_need_their_data() {
    let r = Runner::new(); // at intake: no basis, penalty or decision yet
    let agency = AgencyInfo::default();
    let ctx = DocumentContext {
        agency: &agency,
        case: &r.case,
        vehicle_plate: None,
        officers: &[],
        evidence: &[],
        issued_on: date(2026, 3, 2),
    };
    assert!(render(DocumentKind::FilingApproval, &ctx).is_ok());
    for kind in [
        DocumentKind::PreDecisionNotice,
        DocumentKind::DecisionNotice,
        DocumentKind::ServiceReceipt,
        DocumentKind::ClosingApproval,
    ] {
        let err = render(kind, &ctx).expect_err("missing data");
        assert!(err.to_string().contains("not recorded"), "{err}");
    }
}

#[test]
fn hostile_text_is_escaped_in_every_document() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Archived);
    // Put hostile text in every field users or the registry can write.
    r.case.facts = format!("{HOSTILE}\n第二行");
    r.case.number = HOSTILE.to_string();
    r.case.party = Some(Party {
        kind: PartyKind::Individual,
        name: HOSTILE.into(),
        id_number: Some(HOSTILE.into()),
        address: Some(HOSTILE.into()),
        legal_representative: Some(HOSTILE.into()),
        phone: Some(HOSTILE.into()),
    });
    r.case.location = Some(Location {
        lat: 24.3,
        lon: 109.4,
        address: Some(HOSTILE.into()),
    });
    r.case.legal_basis = Some(LegalBasis {
        provision_breached: HOSTILE.into(),
        penalty_provision: HOSTILE.into(),
        discretion_grade: Some(HOSTILE.into()),
    });
    if let Some(p) = r.case.proposed_penalty.as_mut() {
        p.other = Some(HOSTILE.into());
    }
    if let Some(haulwatch::cases::model::Decision::Penalty(p)) = r.case.decision.as_mut() {
        p.confiscation = Some(HOSTILE.into());
    }
    if let Some(s) = r.case.service.as_mut() {
        s.recipient = HOSTILE.into();
    }
    if let Some(e) = r.case.enforcement.as_mut() {
        e.court_case_no = Some(HOSTILE.into());
        e.court_applied_at = Some(t0());
    }
    let agency = AgencyInfo {
        name: HOSTILE.into(),
        address: HOSTILE.into(),
        phone: HOSTILE.into(),
        review_body: HOSTILE.into(),
        court: HOSTILE.into(),
        payment_instructions: HOSTILE.into(),
    };
    let officers = vec![OfficerLine {
        name: HOSTILE.into(),
        certificate_no: HOSTILE.into(),
    }];
    let evidence = evidence(HOSTILE);
    let ctx = DocumentContext {
        agency: &agency,
        case: &r.case,
        vehicle_plate: Some(HOSTILE),
        officers: &officers,
        evidence: &evidence,
        issued_on: date(2026, 4, 1),
    };
    for kind in DocumentKind::ALL {
        let html = render(kind, &ctx).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        // No element or attribute from the input survives; the text does, escaped.
        assert!(!html.contains("<script>"), "{kind:?}");
        assert!(!html.contains("<img"), "{kind:?}");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
            "{kind:?}"
        );
        assert!(html.contains("&amp;amp;"), "{kind:?}: & is escaped again");
        // Template-looking text is printed as is, never expanded.
        assert!(html.contains("{{case.id}}"), "{kind:?}");
        // The only tags are the template's own.
        let tags = tag_names(&html);
        for tag in &tags {
            assert!(
                [
                    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "div", "button",
                    "h1", "table", "tr", "th", "td", "p", "br"
                ]
                .contains(&tag.as_str()),
                "{kind:?} has unexpected tag <{tag}>"
            );
        }
    }
    // Line breaks in facts survive as <br>.
    let html = render(DocumentKind::FilingApproval, &ctx).expect("render");
    assert!(html.contains("{{case.id}}<br>第二行"));
}

/// Names of the opening tags in a page.
fn tag_names(html: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('/') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        names.push(if name.eq_ignore_ascii_case("!DOCTYPE") {
            "!DOCTYPE".to_string()
        } else {
            name
        });
    }
    names
}

#[test]
fn issuing_a_document_is_audited_with_its_hash() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Decided);
    let agency = AgencyInfo::default();
    let ctx = DocumentContext {
        agency: &agency,
        case: &r.case,
        vehicle_plate: Some("桂B12345"),
        officers: &[],
        evidence: &[],
        issued_on: date(2026, 4, 1),
    };
    let html = render(DocumentKind::DecisionNotice, &ctx).expect("render");
    let event = document_event(
        &r.case,
        &officer("o1"),
        DocumentKind::DecisionNotice,
        &html,
        r.now,
    );
    assert_eq!(event.action, AuditAction::DocumentIssued);
    assert_eq!(event.after["document"], "decision_notice");
    assert_eq!(event.after["sha256"], sha256_hex(html.as_bytes()).as_str());
    r.seal(vec![event]);
    assert_eq!(haulwatch::cases::audit::verify(&r.events), Ok(()));
}
