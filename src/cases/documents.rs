//! The key enforcement documents (执法文书) as printable HTML pages filled from a case:
//! 立案审批表, 行政处罚事先告知书, 行政处罚决定书 (or 不予行政处罚决定书), 送达回证 and
//! 结案审批表.
//!
//! Pages are built with plain string building. Every value that comes from a case, a user or
//! the registry passes through [`escape_html`] before it touches the page, so text such as
//! `<script>` in a party name prints as text; only the fixed wording of the templates is
//! written unescaped. Issuing a document is itself audited ([`document_event`]), with the hash
//! of the exact page printed.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::audit::{AuditAction, AuditDraft, sha256_hex};
use super::model::{Case, Decision, Evidence, PartyKind, Penalty, User};
use crate::model::local_offset;

/// The documents this module renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 立案审批表.
    FilingApproval,
    /// 行政处罚事先告知书.
    PreDecisionNotice,
    /// 行政处罚决定书 / 不予行政处罚决定书.
    DecisionNotice,
    /// 送达回证.
    ServiceReceipt,
    /// 结案审批表.
    ClosingApproval,
}

impl DocumentKind {
    /// Every document kind.
    pub const ALL: [DocumentKind; 5] = [
        DocumentKind::FilingApproval,
        DocumentKind::PreDecisionNotice,
        DocumentKind::DecisionNotice,
        DocumentKind::ServiceReceipt,
        DocumentKind::ClosingApproval,
    ];

    /// Stable name used in URLs and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::FilingApproval => "filing_approval",
            DocumentKind::PreDecisionNotice => "pre_decision_notice",
            DocumentKind::DecisionNotice => "decision_notice",
            DocumentKind::ServiceReceipt => "service_receipt",
            DocumentKind::ClosingApproval => "closing_approval",
        }
    }

    /// Inverse of [`DocumentKind::as_str`].
    pub fn from_name(name: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The document's title as printed (the decision is titled 不予行政处罚决定书 when no
    /// penalty is imposed).
    pub fn title_zh(self) -> &'static str {
        match self {
            DocumentKind::FilingApproval => "立案审批表",
            DocumentKind::PreDecisionNotice => "行政处罚事先告知书",
            DocumentKind::DecisionNotice => "行政处罚决定书",
            DocumentKind::ServiceReceipt => "送达回证",
            DocumentKind::ClosingApproval => "结案审批表",
        }
    }
}

/// The issuing agency, as printed on every document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgencyInfo {
    /// Full name of the agency.
    pub name: String,
    /// Address.
    pub address: String,
    /// Contact phone.
    pub phone: String,
    /// The body that hears administrative reconsideration (复议机关).
    pub review_body: String,
    /// The court for administrative litigation.
    pub court: String,
    /// How fines are paid (bank, account, or the non-tax payment platform).
    pub payment_instructions: String,
}

impl Default for AgencyInfo {
    fn default() -> Self {
        AgencyInfo {
            name: "柳州市城市管理行政执法局".to_string(),
            address: "广西壮族自治区柳州市".to_string(),
            phone: "12319".to_string(),
            review_body: "柳州市人民政府".to_string(),
            court: "有管辖权的人民法院".to_string(),
            payment_instructions: "持本决定书到指定银行或通过非税收入缴款平台缴纳".to_string(),
        }
    }
}

/// An officer as printed (name and enforcement certificate number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerLine {
    /// Name.
    pub name: String,
    /// Enforcement certificate number (执法证号).
    pub certificate_no: String,
}

/// Everything a document needs beyond the case itself (names the case only refers to by id).
#[derive(Debug, Clone, Copy)]
pub struct DocumentContext<'a> {
    /// The issuing agency.
    pub agency: &'a AgencyInfo,
    /// The case.
    pub case: &'a Case,
    /// The vehicle's plate, if any.
    pub vehicle_plate: Option<&'a str>,
    /// The officers on the case.
    pub officers: &'a [OfficerLine],
    /// Evidence of the case, listed on notices and decisions.
    pub evidence: &'a [Evidence],
    /// Date printed on the document.
    pub issued_on: NaiveDate,
}

/// A document that cannot be filled yet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot render {document}: {missing} is not recorded on the case")]
pub struct DocumentError {
    /// The document.
    pub document: &'static str,
    /// What is missing.
    pub missing: &'static str,
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Escapes multi-line text and keeps its line breaks.
fn escape_lines(text: &str) -> String {
    escape_html(text)
        .replace("\r\n", "\n")
        .replace('\n', "<br>")
}

/// `fen` as `¥12,345.67`.
pub fn format_yuan(fen: i64) -> String {
    let negative = fen < 0;
    let abs = fen.unsigned_abs();
    let yuan = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in yuan.chars().enumerate() {
        if i > 0 && (yuan.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!(
        "{}¥{}.{:02}",
        if negative { "-" } else { "" },
        grouped,
        abs % 100
    )
}

const DIGITS_ZH: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];

/// One group of up to four digits in capital numerals, without leading 零.
fn group_zh(n: u64) -> String {
    let mut out = String::new();
    let mut zero_pending = false;
    let mut started = false;
    for (div, unit) in [(1000, "仟"), (100, "佰"), (10, "拾"), (1, "")] {
        let d = ((n / div) % 10) as usize;
        if d == 0 {
            zero_pending = started;
        } else {
            if zero_pending {
                out.push('零');
                zero_pending = false;
            }
            out.push_str(DIGITS_ZH.get(d).copied().unwrap_or("零"));
            out.push_str(unit);
            started = true;
        }
    }
    out
}

/// A whole number in capital numerals: groups of four digits joined by 万 and 亿, with one 零
/// wherever a gap of zeros sits between non-zero digits.
fn integer_zh(n: u64) -> String {
    if n < 10_000 {
        return group_zh(n);
    }
    let (divisor, unit) = if n < 100_000_000 {
        (10_000, "万")
    } else {
        (100_000_000, "亿")
    };
    let (high, low) = (n / divisor, n % divisor);
    let mut out = integer_zh(high);
    out.push_str(unit);
    if low > 0 {
        if low < divisor / 10 {
            out.push('零');
        }
        out.push_str(&integer_zh(low));
    }
    out
}

/// An amount in fen in Chinese capital numerals (大写金额) as printed on decisions, e.g.
/// 10005.50 yuan -> `壹万零伍元伍角整`.
pub fn amount_in_words_zh(fen: i64) -> String {
    let abs = fen.unsigned_abs();
    let yuan = abs / 100;
    let jiao = ((abs / 10) % 10) as usize;
    let cents = (abs % 10) as usize;
    let mut out = String::new();
    if fen < 0 {
        out.push('负');
    }
    if yuan == 0 {
        out.push('零');
    } else {
        out.push_str(&integer_zh(yuan));
    }
    out.push('元');
    let digit = |d: usize| DIGITS_ZH.get(d).copied().unwrap_or("零");
    match (jiao, cents) {
        (0, 0) => out.push('整'),
        (j, 0) => {
            out.push_str(digit(j));
            out.push_str("角整");
        }
        (0, c) => {
            out.push('零');
            out.push_str(digit(c));
            out.push('分');
        }
        (j, c) => {
            out.push_str(digit(j));
            out.push('角');
            out.push_str(digit(c));
            out.push('分');
        }
    }
    out
}

fn zh_date(day: NaiveDate) -> String {
    day.format("%Y年%m月%d日").to_string()
}

fn zh_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&local_offset())
        .format("%Y年%m月%d日%H时%M分")
        .to_string()
}

/// The penalty in words, as decided or proposed.
fn penalty_text(p: &Penalty) -> String {
    let mut parts = Vec::new();
    if p.warning {
        parts.push("警告".to_string());
    }
    if p.fine_fen > 0 {
        parts.push(format!(
            "罚款人民币{}（{}）",
            amount_in_words_zh(p.fine_fen),
            format_yuan(p.fine_fen)
        ));
    }
    if let Some(c) = p.confiscation.as_ref().filter(|c| !c.trim().is_empty()) {
        parts.push(c.clone());
    }
    if let Some(o) = p.other.as_ref().filter(|o| !o.trim().is_empty()) {
        parts.push(o.clone());
    }
    parts.join("；")
}

const PRINT_CSS: &str = r#"
@page { size: A4; margin: 20mm 18mm; }
* { box-sizing: border-box; }
body { font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; font-size: 14pt;
       line-height: 1.8; color: #000; background: #fff; margin: 0 auto; max-width: 180mm; }
.agency { text-align: center; font-size: 18pt; font-weight: bold; margin-top: 8mm; }
h1 { text-align: center; font-size: 22pt; letter-spacing: 0.2em; margin: 2mm 0 4mm; }
.docno { text-align: right; margin-bottom: 4mm; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 1px solid #000; padding: 2mm 3mm; vertical-align: top; text-align: left; }
th { width: 28%; font-weight: normal; white-space: nowrap; }
td.sign { height: 28mm; }
p { text-indent: 2em; margin: 0 0 2mm; }
p.addressee { text-indent: 0; }
.seal { margin-top: 12mm; text-align: right; }
.note { font-size: 11pt; margin-top: 6mm; }
.toolbar { text-align: center; margin: 4mm 0; }
@media print { .toolbar { display: none; } body { max-width: none; } }
"#;

/// Wraps a body in the page frame.
fn page(ctx: &DocumentContext<'_>, title: &str, body: &str) -> String {
    let mut html = String::with_capacity(body.len() + 2048);
    html.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        html,
        "<title>{} {}</title>",
        escape_html(title),
        escape_html(&ctx.case.number)
    );
    let _ = writeln!(html, "<style>{PRINT_CSS}</style>\n</head>\n<body>");
    html.push_str(
        "<div class=\"toolbar\"><button onclick=\"window.print()\">打印</button></div>\n",
    );
    let _ = writeln!(
        html,
        "<div class=\"agency\">{}</div>\n<h1>{}</h1>\n<div class=\"docno\">{}</div>",
        escape_html(&ctx.agency.name),
        escape_html(title),
        escape_html(&ctx.case.number)
    );
    html.push_str(body);
    html.push_str("\n</body>\n</html>\n");
    html
}

/// A table row with an escaped value.
fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{}</th><td>{}</td></tr>",
        escape_html(label),
        escape_lines(value)
    );
}

/// A table row left blank for a handwritten signature or opinion.
fn sign_row(out: &mut String, label: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{}</th><td class=\"sign\">签名：　　　　　　　年　　月　　日</td></tr>",
        escape_html(label)
    );
}

fn party_text(ctx: &DocumentContext<'_>) -> String {
    let Some(p) = &ctx.case.party else {
        return String::new();
    };
    let mut parts = vec![p.name.clone()];
    if let Some(id) = p.id_number.as_ref().filter(|s| !s.is_empty()) {
        parts.push(match p.kind {
            PartyKind::Organisation => format!("统一社会信用代码：{id}"),
            PartyKind::Individual => format!("身份证号码：{id}"),
        });
    }
    if let Some(rep) = p.legal_representative.as_ref().filter(|s| !s.is_empty()) {
        parts.push(format!("法定代表人：{rep}"));
    }
    if let Some(addr) = p.address.as_ref().filter(|s| !s.is_empty()) {
        parts.push(format!("地址：{addr}"));
    }
    parts.join("\n")
}

fn location_text(ctx: &DocumentContext<'_>) -> String {
    match &ctx.case.location {
        Some(l) => match l.address.as_ref().filter(|a| !a.trim().is_empty()) {
            Some(addr) => format!("{addr}（北纬{:.5}°，东经{:.5}°）", l.lat, l.lon),
            None => format!("北纬{:.5}°，东经{:.5}°", l.lat, l.lon),
        },
        None => String::new(),
    }
}

fn officers_text(ctx: &DocumentContext<'_>) -> String {
    ctx.officers
        .iter()
        .map(|o| format!("{}（执法证号：{}）", o.name, o.certificate_no))
        .collect::<Vec<_>>()
        .join("、")
}

fn evidence_text(ctx: &DocumentContext<'_>) -> String {
    if ctx.evidence.is_empty() {
        return "监控平台电子数据".to_string();
    }
    ctx.evidence
        .iter()
        .map(|e| {
            let what = if e.description.trim().is_empty() {
                e.file_name.as_str()
            } else {
                e.description.as_str()
            };
            format!("{}《{}》", e.kind.label_zh(), what)
        })
        .collect::<Vec<_>>()
        .join("、")
}

fn you(ctx: &DocumentContext<'_>) -> &'static str {
    match ctx.case.party.as_ref().map(|p| p.kind) {
        Some(PartyKind::Organisation) => "你单位",
        _ => "你",
    }
}

/// Renders one document.
pub fn render(kind: DocumentKind, ctx: &DocumentContext<'_>) -> Result<String, DocumentError> {
    match kind {
        DocumentKind::FilingApproval => Ok(filing_approval(ctx)),
        DocumentKind::PreDecisionNotice => pre_decision_notice(ctx),
        DocumentKind::DecisionNotice => decision_notice(ctx),
        DocumentKind::ServiceReceipt => service_receipt(ctx),
        DocumentKind::ClosingApproval => closing_approval(ctx),
    }
}

fn filing_approval(ctx: &DocumentContext<'_>) -> String {
    let case = ctx.case;
    let mut body = String::from("<table>\n");
    row(&mut body, "案由", case.kind.label_zh());
    row(&mut body, "案件来源", case.source.label_zh());
    row(&mut body, "受理时间", &zh_time(case.opened_at));
    row(&mut body, "当事人", &party_text(ctx));
    row(&mut body, "车辆号牌", ctx.vehicle_plate.unwrap_or(""));
    row(&mut body, "违法地点", &location_text(ctx));
    row(&mut body, "案件基本情况", &case.facts);
    row(&mut body, "承办人", &officers_text(ctx));
    sign_row(&mut body, "承办人意见");
    sign_row(&mut body, "承办机构负责人意见");
    sign_row(&mut body, "负责人审批意见");
    body.push_str("</table>\n");
    page(ctx, "立案审批表", &body)
}

fn pre_decision_notice(ctx: &DocumentContext<'_>) -> Result<String, DocumentError> {
    let missing = |what| DocumentError {
        document: "行政处罚事先告知书",
        missing: what,
    };
    let case = ctx.case;
    let party = case.party.as_ref().ok_or(missing("the party"))?;
    let basis = case
        .legal_basis
        .as_ref()
        .ok_or(missing("the legal basis"))?;
    let penalty = case
        .proposed_penalty
        .as_ref()
        .ok_or(missing("the proposed penalty"))?;
    let you = you(ctx);
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p class=\"addressee\">{}：</p>",
        escape_html(&party.name)
    );
    let _ = writeln!(body, "<p>经查，{}{}</p>", you, escape_lines(&case.facts));
    let _ = writeln!(
        body,
        "<p>以上事实有{}等证据为证。</p>",
        escape_html(&evidence_text(ctx))
    );
    let _ = writeln!(
        body,
        "<p>{}的行为违反了{}的规定。依据{}的规定，本机关拟对{}作出如下行政处罚：{}。</p>",
        you,
        escape_html(&basis.provision_breached),
        escape_html(&basis.penalty_provision),
        you,
        escape_html(&penalty_text(penalty))
    );
    let _ = writeln!(
        body,
        "<p>根据《中华人民共和国行政处罚法》第四十四条、第四十五条、第六十三条、第六十四条的规定，\
         {you}享有陈述、申辩的权利；符合听证条件的，可以在收到本告知书之日起五个工作日内向本机关\
         提出听证申请。逾期未提出陈述、申辩或者听证申请的，视为放弃上述权利。</p>"
    );
    let _ = writeln!(
        body,
        "<p>联系地址：{}　联系电话：{}</p>",
        escape_html(&ctx.agency.address),
        escape_html(&ctx.agency.phone)
    );
    let _ = writeln!(
        body,
        "<div class=\"seal\">{}（印章）<br>{}</div>",
        escape_html(&ctx.agency.name),
        zh_date(ctx.issued_on)
    );
    Ok(page(ctx, "行政处罚事先告知书", &body))
}

fn decision_notice(ctx: &DocumentContext<'_>) -> Result<String, DocumentError> {
    let missing = |what| DocumentError {
        document: "行政处罚决定书",
        missing: what,
    };
    let case = ctx.case;
    case.party.as_ref().ok_or(missing("the party"))?;
    let basis = case
        .legal_basis
        .as_ref()
        .ok_or(missing("the legal basis"))?;
    let decision = case.decision.as_ref().ok_or(missing("the decision"))?;
    let you = you(ctx);
    let mut body = String::from("<table>\n");
    row(&mut body, "当事人", &party_text(ctx));
    row(&mut body, "车辆号牌", ctx.vehicle_plate.unwrap_or(""));
    body.push_str("</table>\n");
    let _ = writeln!(
        body,
        "<p>经查，{}{}</p>\n<p>以上事实有{}等证据为证。</p>",
        you,
        escape_lines(&case.facts),
        escape_html(&evidence_text(ctx))
    );
    let title = match decision {
        Decision::Penalty(p) => {
            let _ = writeln!(
                body,
                "<p>{}的行为违反了{}的规定。依据{}的规定，本机关决定对{}作出如下行政处罚：{}。</p>",
                you,
                escape_html(&basis.provision_breached),
                escape_html(&basis.penalty_provision),
                you,
                escape_html(&penalty_text(p))
            );
            if p.fine_fen > 0 {
                let _ = writeln!(
                    body,
                    "<p>{}应当自收到本决定书之日起十五日内缴纳罚款（{}）。到期不缴纳罚款的，\
                     本机关将依据《中华人民共和国行政处罚法》第七十二条的规定，每日按罚款数额的\
                     百分之三加处罚款，并可依法申请人民法院强制执行。</p>",
                    you,
                    escape_html(&ctx.agency.payment_instructions)
                );
            }
            "行政处罚决定书"
        }
        Decision::NoPenalty { reason } => {
            let _ = writeln!(
                body,
                "<p>{}的行为违反了{}的规定。鉴于{}，本机关决定对{}不予行政处罚。</p>",
                you,
                escape_html(&basis.provision_breached),
                escape_html(reason),
                you
            );
            "不予行政处罚决定书"
        }
    };
    let _ = writeln!(
        body,
        "<p>如不服本决定，可以在收到本决定书之日起六十日内向{}申请行政复议，\
         或者在六个月内依法向{}提起行政诉讼。</p>",
        escape_html(&ctx.agency.review_body),
        escape_html(&ctx.agency.court)
    );
    let _ = writeln!(
        body,
        "<div class=\"seal\">{}（印章）<br>{}</div>",
        escape_html(&ctx.agency.name),
        zh_date(ctx.issued_on)
    );
    Ok(page(ctx, title, &body))
}

fn service_receipt(ctx: &DocumentContext<'_>) -> Result<String, DocumentError> {
    let case = ctx.case;
    let decision = case.decision.as_ref().ok_or(DocumentError {
        document: "送达回证",
        missing: "the decision being served",
    })?;
    let served_doc = match decision {
        Decision::Penalty(_) => "行政处罚决定书",
        Decision::NoPenalty { .. } => "不予行政处罚决定书",
    };
    let mut body = String::from("<table>\n");
    row(
        &mut body,
        "送达文书名称及文号",
        &format!("{served_doc}（{}）", case.number),
    );
    row(
        &mut body,
        "受送达人",
        case.party.as_ref().map(|p| p.name.as_str()).unwrap_or(""),
    );
    row(
        &mut body,
        "送达地点",
        case.party
            .as_ref()
            .and_then(|p| p.address.as_deref())
            .unwrap_or(""),
    );
    match &case.service {
        Some(s) => {
            row(&mut body, "送达方式", s.method.label_zh());
            row(&mut body, "送达时间", &zh_time(s.served_at));
            row(&mut body, "收件人", &s.recipient);
        }
        None => {
            row(
                &mut body,
                "送达方式",
                "□直接送达 □留置送达 □邮寄送达 □电子送达 □公告送达",
            );
            row(&mut body, "送达时间", "　　年　　月　　日　　时　　分");
        }
    }
    sign_row(&mut body, "受送达人签名或盖章");
    row(&mut body, "送达人", &officers_text(ctx));
    sign_row(&mut body, "见证人（留置送达时）");
    row(&mut body, "备注", "");
    body.push_str("</table>\n");
    Ok(page(ctx, "送达回证", &body))
}

fn closing_approval(ctx: &DocumentContext<'_>) -> Result<String, DocumentError> {
    let case = ctx.case;
    let decision = case.decision.as_ref().ok_or(DocumentError {
        document: "结案审批表",
        missing: "the decision",
    })?;
    let mut body = String::from("<table>\n");
    row(&mut body, "案由", case.kind.label_zh());
    row(
        &mut body,
        "当事人",
        case.party.as_ref().map(|p| p.name.as_str()).unwrap_or(""),
    );
    row(
        &mut body,
        "立案时间",
        &case
            .entered_at(super::model::CaseStatus::Filed)
            .map(zh_time)
            .unwrap_or_default(),
    );
    let outcome = match decision {
        Decision::Penalty(p) => penalty_text(p),
        Decision::NoPenalty { reason } => format!("不予行政处罚（{reason}）"),
    };
    row(&mut body, "处理结果", &outcome);
    let execution = match &case.enforcement {
        Some(e) => {
            let mut text = format!("已缴纳{}", format_yuan(e.paid_fen()));
            if let Some(applied) = e.court_applied_at {
                let _ = write!(text, "；{}申请人民法院强制执行", zh_time(applied));
                if let Some(no) = &e.court_case_no {
                    let _ = write!(text, "（{no}）");
                }
            }
            text
        }
        None => "无需执行".to_string(),
    };
    row(&mut body, "执行情况", &execution);
    row(&mut body, "承办人", &officers_text(ctx));
    sign_row(&mut body, "承办人结案意见");
    sign_row(&mut body, "负责人审批意见");
    body.push_str("</table>\n");
    Ok(page(ctx, "结案审批表", &body))
}

/// The audit event for issuing a document: which one, for which case, and the SHA-256 of the
/// exact page, so a printed copy can later be matched to what the system produced.
pub fn document_event(
    case: &Case,
    user: &User,
    kind: DocumentKind,
    html: &str,
    now: DateTime<Utc>,
) -> AuditDraft {
    AuditDraft {
        at: now,
        actor_id: user.id.clone(),
        actor_roles: user.roles.clone(),
        action: AuditAction::DocumentIssued,
        case_id: Some(case.id.clone()),
        evidence_ids: Vec::new(),
        before: serde_json::Value::Null,
        after: serde_json::json!({
            "document": kind.as_str(),
            "sha256": sha256_hex(html.as_bytes()),
        }),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape_html(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("渣土车 ok"), "渣土车 ok");
    }

    #[test]
    fn amounts_in_capital_numerals() {
        assert_eq!(amount_in_words_zh(500_000), "伍仟元整");
        assert_eq!(amount_in_words_zh(1_000_500), "壹万零伍元整");
        assert_eq!(amount_in_words_zh(10_000_000), "壹拾万元整");
        assert_eq!(amount_in_words_zh(3_050_000), "叁万零伍佰元整");
        assert_eq!(amount_in_words_zh(10_001_000_000), "壹亿零壹万元整");
        assert_eq!(amount_in_words_zh(200_000_000_000), "贰拾亿元整");
        assert_eq!(
            amount_in_words_zh(1_234_567),
            "壹万贰仟叁佰肆拾伍元陆角柒分"
        );
        assert_eq!(amount_in_words_zh(105), "壹元零伍分");
        assert_eq!(amount_in_words_zh(5), "零元零伍分");
        assert_eq!(amount_in_words_zh(1_010), "壹拾元壹角整");
        assert_eq!(amount_in_words_zh(0), "零元整");
        assert_eq!(amount_in_words_zh(12_000_000_000), "壹亿贰仟万元整");
        assert_eq!(amount_in_words_zh(100_000_000_000_000), "壹万亿元整");
    }

    #[test]
    fn yuan_formatting_groups_thousands() {
        assert_eq!(format_yuan(0), "¥0.00");
        assert_eq!(format_yuan(123_456_789), "¥1,234,567.89");
        assert_eq!(format_yuan(100_000), "¥1,000.00");
        assert_eq!(format_yuan(-5), "-¥0.05");
    }
}
