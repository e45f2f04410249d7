//! The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no
//! font, image or stylesheet fetched from anywhere; light and dark (`prefers-color-scheme`),
//! printable (`@media print`). Every piece of text that comes from leads or configuration is
//! escaped.

use std::fmt::Write as _;

use leadrelay_domain::escape::html_escape as esc;
use leadrelay_domain::report::{Report, BANDS};

use super::tables::{self, elapsed, percent, share, Table};

const CSS: &str = r#"
:root { --bg:#ffffff; --fg:#1c2430; --muted:#5b6675; --line:#dde2e8; --card:#f5f7fa;
  --a:#2563eb; --b:#93b4f5; --good:#15803d; --bad:#c2410c; --warn:#b45309; --grid:#e7ebf0; }
@media (prefers-color-scheme: dark) {
  :root { --bg:#11161d; --fg:#e6ebf1; --muted:#9aa6b4; --line:#2b3440; --card:#19202a;
    --a:#6ea0ff; --b:#34507f; --good:#4ade80; --bad:#fb923c; --warn:#fbbf24; --grid:#242c37; }
}
* { box-sizing: border-box; }
body { margin:0; padding:24px 32px 48px; background:var(--bg); color:var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
h1 { font-size:24px; margin:0 0 4px; } h2 { font-size:18px; margin:32px 0 8px; }
h3 { font-size:14px; margin:20px 0 6px; color:var(--muted); font-weight:600; }
.scope { color:var(--muted); margin:0 0 20px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .v { font-size:24px; font-weight:650; } .card .k { color:var(--muted); font-size:12px; }
.charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(460px,1fr)); gap:16px; }
figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px; }
figcaption { font-weight:600; margin-bottom:4px; } figure p { color:var(--muted); margin:2px 0 6px; font-size:12px; }
svg { width:100%; height:auto; display:block; }
svg text { fill:var(--fg); font-size:11px; font-family:inherit; } svg .muted { fill:var(--muted); }
svg .a { fill:var(--a); } svg .b { fill:var(--b); } svg .good { fill:var(--good); } svg .bad { fill:var(--bad); }
svg .grid { stroke:var(--grid); stroke-width:1; } svg .mark { stroke:var(--fg); stroke-width:2; }
.legend span { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 10px; vertical-align:-1px; }
.legend .a { background:var(--a); } .legend .b { background:var(--b); } .legend .mark { background:var(--fg); height:3px; vertical-align:2px; }
.legend .good { background:var(--good); } .legend .bad { background:var(--bad); }
.wrap { overflow-x:auto; }
table { border-collapse:collapse; margin:4px 0 8px; font-size:12.5px; }
th, td { padding:4px 10px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; } th { color:var(--muted); font-weight:600; }
td.t { text-align:left; white-space:normal; max-width:420px; }
.heat td.lo { background:color-mix(in srgb, var(--bad) 22%, transparent); }
.heat td.hi { background:color-mix(in srgb, var(--a) 22%, transparent); }
.heat td.zero { color:var(--bad); font-weight:600; }
.muted { color:var(--muted); }
footer { margin-top:40px; color:var(--muted); font-size:12px; }
@media print {
  :root { --bg:#fff; --fg:#000; --muted:#444; --line:#bbb; --card:#fff; --grid:#ddd; }
  body { padding:0; font-size:11px; } .charts { grid-template-columns:1fr 1fr; }
  figure, table, .card { break-inside:avoid; } h2 { break-after:avoid; }
  * { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  .wrap { overflow:visible; }
}
"#;

/// A vertical bar chart: groups of bars (one per series) with labels under each group.
/// Values are 0..=1 shares.
fn bars(groups: &[(String, Vec<f64>, String)], series: &[(&str, &str)]) -> String {
    let (w, h, left, bottom, top) = (640.0, 240.0, 40.0, 34.0, 12.0);
    let plot_h = h - bottom - top;
    // The y axis runs to the next quarter above the tallest bar: small shares stay readable.
    let tallest = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .fold(0.0_f64, f64::max);
    let y_max = [0.25, 0.5, 0.75, 1.0]
        .into_iter()
        .find(|m| tallest <= *m)
        .unwrap_or(1.0);
    let n = groups.len().max(1) as f64;
    let gw = (w - left - 10.0) / n;
    let k = series.len().max(1) as f64;
    let bw = (gw * 0.7 / k).min(46.0);
    let mut s =
        format!(r#"<svg viewBox="0 0 {w} {h}" role="img" xmlns="http://www.w3.org/2000/svg">"#);
    for i in 0..=4 {
        let y = top + plot_h * (1.0 - i as f64 / 4.0);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="muted" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            w - 10.0,
            left - 6.0,
            y + 4.0,
            percent(y_max * f64::from(i) / 4.0)
        );
    }
    for (gi, (label, values, note)) in groups.iter().enumerate() {
        let gx = left + gw * gi as f64 + (gw - bw * k) / 2.0;
        for (si, v) in values.iter().enumerate() {
            let v = v.clamp(0.0, 1.0);
            let bh = plot_h * v / y_max;
            let x = gx + bw * si as f64;
            let _ = write!(
                s,
                r#"<rect class="{}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" rx="2"><title>{} {}: {}</title></rect>"#,
                series[si].0,
                top + plot_h - bh,
                bw - 2.0,
                esc(label),
                series[si].1,
                percent(v)
            );
            if values.len() == 1 || bw > 22.0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    x + (bw - 2.0) / 2.0,
                    top + plot_h - bh - 3.0,
                    percent(v)
                );
            }
        }
        let cx = left + gw * gi as f64 + gw / 2.0;
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="muted" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            h - bottom + 14.0,
            esc(label),
            h - bottom + 27.0,
            esc(note)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of each owner's share with a mark at their expected share.
fn share_chart(r: &Report) -> String {
    let rows = &r.fairness.owners;
    let row_h = 24.0;
    let (w, left, top) = (640.0, 150.0, 8.0);
    let h = top + row_h * rows.len().max(1) as f64 + 24.0;
    let max = rows
        .iter()
        .flat_map(|o| [o.share, o.expected])
        .fold(0.5_f64, f64::max)
        .min(1.0);
    let plot_w = w - left - 90.0;
    let x = |v: f64| left + plot_w * (v / max);
    let mut s =
        format!(r#"<svg viewBox="0 0 {w} {h:.0}" role="img" xmlns="http://www.w3.org/2000/svg">"#);
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line class="grid" x1="{0:.1}" x2="{0:.1}" y1="{top}" y2="{1:.1}"/><text class="muted" x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"#,
            x(v),
            h - 20.0,
            h - 6.0,
            percent(v)
        );
    }
    for (i, o) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let class = if o.share + 0.05 < o.expected {
            "bad"
        } else {
            "a"
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} · {}</text>"#,
            left - 8.0,
            y + 16.0,
            esc(&o.team),
            esc(&o.owner),
        );
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{left}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2"><title>{}: {} of team {} (expected {})</title></rect>"#,
            y + 5.0,
            (x(o.share) - left).max(0.5),
            row_h - 9.0,
            esc(&o.owner),
            percent(o.share),
            esc(&o.team),
            percent(o.expected),
        );
        let ex = x(o.expected);
        let _ = write!(
            s,
            r#"<line class="mark" x1="{ex:.1}" x2="{ex:.1}" y1="{:.1}" y2="{:.1}"/><text class="muted" x="{:.1}" y="{:.1}">{} / {}</text>"#,
            y + 2.0,
            y + row_h - 2.0,
            x(o.share.max(o.expected)) + 6.0,
            y + 16.0,
            percent(o.share),
            percent(o.expected),
        );
    }
    s.push_str("</svg>");
    s
}

fn figure(title: &str, note: &str, legend: &[(&str, &str)], svg: &str) -> String {
    let mut l = String::new();
    for (class, label) in legend {
        let _ = write!(l, r#"<span class="{class}"></span>{}"#, esc(label));
    }
    format!(
        r#"<figure><figcaption>{}</figcaption><p>{}</p><div class="legend">{l}</div>{svg}</figure>"#,
        esc(title),
        esc(note)
    )
}

fn table_html(t: &Table) -> String {
    let mut s = format!(
        r#"<h3 id="{}">{}</h3><div class="wrap"><table><thead><tr>"#,
        t.name,
        esc(&t.title)
    );
    for c in &t.columns {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr></thead><tbody>");
    if t.rows.is_empty() {
        let _ = write!(s, r#"<tr><td colspan="{}">none</td></tr>"#, t.columns.len());
    }
    for row in &t.rows {
        s.push_str("<tr>");
        for (i, c) in row.iter().map(|c| &c.text).enumerate() {
            let text = i > 0
                && !c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '-' || ch == '+')
                && c != "never";
            if text {
                let _ = write!(s, r#"<td class="t">{}</td>"#, esc(c));
            } else {
                let _ = write!(s, "<td>{}</td>", esc(c));
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Owner × week: each owner's share of the team's assignments that week, marked where it falls
/// well below or above their weight (an absence shows as a week at 0%, and no burst after).
fn weekly_heat(r: &Report) -> String {
    let weeks: std::collections::BTreeSet<&str> =
        r.fairness.weekly.iter().map(|w| w.week.as_str()).collect();
    if weeks.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        r#"<h3>Share of the team's leads per week (expected in brackets)</h3><div class="wrap"><table class="heat"><thead><tr><th>owner</th>"#,
    );
    for w in &weeks {
        let _ = write!(s, "<th>{}</th>", esc(w));
    }
    s.push_str("</tr></thead><tbody>");
    for o in &r.fairness.owners {
        let _ = write!(
            s,
            "<tr><td>{} · {} <span class=\"muted\">({})</span></td>",
            esc(&o.team),
            esc(&o.owner),
            percent(o.expected)
        );
        for w in &weeks {
            match r
                .fairness
                .weekly
                .iter()
                .find(|x| x.week == *w && x.owner == o.owner && x.team == o.team)
            {
                None => s.push_str("<td>-</td>"),
                Some(x) => {
                    let class = if x.assigned == 0 && x.expected > 0.0 {
                        "zero"
                    } else if x.share < x.expected * 0.7 {
                        "lo"
                    } else if x.share > x.expected * 1.3 {
                        "hi"
                    } else {
                        ""
                    };
                    let _ = write!(
                        s,
                        r#"<td class="{class}" title="{} leads">{}</td>"#,
                        x.assigned,
                        percent(x.share)
                    );
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

pub fn page(r: &Report) -> String {
    let s = &r.speed.overall;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><title>Speed-to-lead report</title><style>{CSS}</style></head><body><h1>Speed-to-lead report</h1><p class="scope">{} · generated {} · {} leads ({} real)</p>"#,
        esc(&super::scope(r)),
        r.params.now.format("%Y-%m-%d %H:%M UTC"),
        r.leads,
        r.real_leads
    );
    // Headline numbers.
    let sla = &r.sla.overall;
    let conv = &r.funnel.overall.steps;
    let cards = [
        ("first contact, median", elapsed(s.contacted.wall.p50).text),
        ("in business hours", elapsed(s.contacted.business.p50).text),
        (
            "answered within 5 min",
            share(s.contacted.wall.bands[0], s.contacted.wall.n).text,
        ),
        ("acknowledged, P95", elapsed(s.acknowledged.wall.p95).text),
        ("SLA met", share(sla.met, sla.met + sla.breached).text),
        ("SLA breaches", sla.breached.to_string()),
        ("converted", share(conv[2].reached, r.real_leads).text),
        (
            "open, uncontacted",
            r.now
                .open_by_owner
                .iter()
                .map(|o| o.uncontacted)
                .sum::<usize>()
                .to_string(),
        ),
    ];
    out.push_str(r#"<div class="cards">"#);
    for (k, v) in cards {
        let _ = write!(
            out,
            r#"<div class="card"><div class="v">{}</div><div class="k">{}</div></div>"#,
            esc(&v),
            esc(k)
        );
    }
    out.push_str("</div><h2>At a glance</h2><div class=\"charts\">");
    // 1. Distribution of time to first contact.
    let c = &s.contacted;
    let groups: Vec<(String, Vec<f64>, String)> = BANDS
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                (*b).to_owned(),
                vec![c.wall.share(i), c.business.share(i)],
                format!("{} leads", c.wall.bands[i]),
            )
        })
        .collect();
    out.push_str(&figure(
        "Time to first contact",
        &format!(
            "Share of {} real leads by time from arrival to first contact. P50 {}, P90 {}, P95 {} (wall clock).",
            c.wall.n,
            elapsed(c.wall.p50),
            elapsed(c.wall.p90),
            elapsed(c.wall.p95)
        ),
        &[("a", "wall clock"), ("b", "business hours")],
        &bars(&groups, &[("a", "wall clock"), ("b", "business hours")]),
    ));
    // 2. SLA met by week.
    let groups: Vec<(String, Vec<f64>, String)> = r
        .sla
        .by_week
        .iter()
        .map(|w| {
            (
                w.key.trim_start_matches("20").to_owned(),
                vec![w.share_met()],
                format!("{} late", w.breached),
            )
        })
        .collect();
    out.push_str(&figure(
        "SLA met by week",
        "Share of leads contacted by their SLA due time, by week of arrival; under each, the breaches.",
        &[("good", "met")],
        &bars(&groups, &[("good", "met")]),
    ));
    // 3. Share vs weight.
    out.push_str(&figure(
        "Share of leads vs weight, per owner",
        "Each owner's share of their team's assignments over the period; the mark is the share their weight gives. Well below it: orange.",
        &[("a", "share"), ("mark", "expected from weight")],
        &share_chart(r),
    ));
    // 4. Conversion by speed band.
    let groups: Vec<(String, Vec<f64>, String)> = r
        .funnel
        .by_speed_band
        .iter()
        .map(|b| {
            (
                b.band.clone(),
                vec![ratio(b.qualified, b.leads), ratio(b.converted, b.leads)],
                format!("{} leads", b.leads),
            )
        })
        .collect();
    out.push_str(&figure(
        "Conversion by speed to first contact",
        "Of the leads first contacted within each band, the share that qualified and that converted — on this data.",
        &[("b", "qualified"), ("a", "converted")],
        &bars(&groups, &[("b", "qualified"), ("a", "converted")]),
    ));
    out.push_str("</div>");
    out.push_str(&weekly_heat(r));
    // Every table.
    let sections = [
        (
            "Speed to lead",
            &[
                "summary",
                "speed",
                "speed_by_owner",
                "speed_by_team",
                "speed_by_source",
                "speed_by_week",
            ][..],
        ),
        ("SLA", &["sla_by_owner", "sla_by_team", "sla_by_week"][..]),
        ("Fairness", &["fairness", "fairness_by_week"][..]),
        (
            "Sources and the funnel",
            &[
                "sources",
                "campaigns",
                "transitions",
                "conversion_by_speed",
                "spend",
            ][..],
        ),
        ("Now", &["open_by_owner", "oldest_uncontacted", "stuck"][..]),
    ];
    let all = tables::tables(r);
    for (title, names) in sections {
        let _ = write!(out, "<h2>{}</h2>", esc(title));
        for t in all.iter().filter(|t| names.contains(&t.name)) {
            out.push_str(&table_html(t));
        }
    }
    out.push_str(
        "<footer>Percentiles are nearest-rank; a lead never contacted counts as slower than any time. \
         Bands include their lower bound. Definitions: docs/report.md. \
         This page needs no network: charts are inline SVG, styles inline, no script.</footer></body></html>\n",
    );
    out
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use leadrelay_domain::config::Config;
    use leadrelay_domain::report::{build, sample, Params};

    pub(super) fn sample_page(hostile: bool) -> String {
        let config = Config::from_toml(
            include_str!("../../../infra/config/local.toml"),
            "local.toml",
        )
        .unwrap();
        let end: DateTime<Utc> = "2026-03-30T12:00:00Z".parse().unwrap();
        let mut h = sample::generate(&config, &sample::Spec::realistic(&config, end, 6, 400));
        if hostile {
            h[0].0.utm.insert(
                "utm_campaign".into(),
                "<script>alert(1)</script><img src=x onerror=alert(2)>".into(),
            );
            h[1].0.source = "\"><svg onload=alert(3)>".into();
        }
        let r = build(
            &h,
            &config,
            &Params {
                since: end - Duration::weeks(6),
                until: end,
                now: end,
                team: None,
                owner: None,
                source: None,
            },
            None,
        );
        super::page(&r)
    }

    #[test]
    fn the_page_has_no_script_and_fetches_nothing() {
        let p = sample_page(false).to_lowercase();
        assert!(!p.contains("<script"), "no script element");
        for fetch in [
            "src=", "href=", "url(", "@import", "<link", "<iframe", "<object",
        ] {
            assert!(!p.contains(fetch), "{fetch} would reach out");
        }
        // The only URL is the SVG namespace, which is a name, not a request.
        let urls = p.matches("http").count();
        assert_eq!(
            urls,
            p.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    }

    #[test]
    fn lead_derived_text_is_escaped() {
        let p = sample_page(true);
        assert!(
            p.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
        );
        assert!(p.contains("&quot;&gt;&lt;svg onload=alert(3)&gt;"));
        assert!(!p.contains("<img"));
        assert!(!p.contains("<svg onload"));
    }

    #[test]
    fn the_page_has_the_four_charts_and_reads_in_dark_mode_and_in_print() {
        let p = sample_page(true);
        assert_eq!(p.matches("<figure>").count(), 4);
        for title in [
            "Time to first contact",
            "SLA met by week",
            "Share of leads vs weight, per owner",
            "Conversion by speed to first contact",
        ] {
            assert!(p.contains(title), "{title}");
        }
        assert!(p.contains("@media (prefers-color-scheme: dark)"));
        assert!(p.contains("@media print"));
    }
}

/// The page in a real browser: headless Chromium renders it with no console message and no
/// script error. Ignored by default (it needs Chromium: `apt-get install chromium`); CI
/// installs Chromium and runs it (`.ci/run`);
/// `cargo test -p leadrelay-cli -- --ignored chromium` runs it, and so does
/// `scripts/report-screenshot` for any page.
#[cfg(test)]
mod browser {
    use std::process::Command;

    #[test]
    #[ignore = "needs Chromium (apt-get install chromium)"]
    fn chromium_renders_the_page_without_a_script_error() {
        let chrome = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|c| Command::new(c).arg("--version").output().is_ok())
            .expect("Chromium installed");
        let dir = std::env::temp_dir().join(format!("leadrelay-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("report.html");
        std::fs::write(&page, super::tests::sample_page(true)).unwrap();
        let out = Command::new(chrome)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let log = String::from_utf8_lossy(&out.stderr);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(dom.contains("<h1>Speed-to-lead report</h1>"), "{log}");
        assert_eq!(dom.matches("<svg").count(), 4, "the four charts");
        assert!(!dom.contains("<script"));
        for error in ["INFO:CONSOLE", "Uncaught", "Error:"] {
            assert!(!log.contains(error), "{log}");
        }
    }
}
