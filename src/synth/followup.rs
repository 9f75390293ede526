//! Follow-up histories for synthetic customers: a plausible sequence of calls, chats and
//! visits leading to the customer's current stage, with notes written the way loan
//! officers write them, filled in from the customer's own facts.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::rng::Rng;
use super::{FEN_PER_WAN, FEN_PER_YUAN, SynthCustomer, SynthFollowup, data};

/// What a follow-up achieved in the funnel; decides kind, wording and outcome.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    NoAnswer,
    Contact,
    Qualify,
    Invite,
    Visit,
    Sign,
    Won,
    Lost,
    Invalid,
    Nurture,
}

const MAX_STEPS: usize = 8;

const MIN: i64 = 60;
const HOUR: i64 = 3600;
pub(super) const DAY: i64 = 86_400;
/// Working hours of an agency, as seconds since local midnight.
const OPEN: i64 = 8 * HOUR + 30 * MIN;
const CLOSE: i64 = 21 * HOUR + 30 * MIN;

/// When each step of a history happens, planned before the customer's creation time is
/// fixed so that the creation time can be chosen to leave room for the whole history.
pub(super) struct Schedule {
    steps: [Phase; MAX_STEPS],
    /// Seconds after `created_at`, non-decreasing.
    offsets: [i64; MAX_STEPS],
    len: usize,
}

impl Schedule {
    /// Seconds from creation to the last step (0 without steps).
    pub(super) fn duration(&self) -> i64 {
        self.len.checked_sub(1).map_or(0, |last| self.offsets[last])
    }
}

/// Plans a history that leads to `stage`, for a customer created at `start_time_of_day`
/// (seconds after local midnight, China time).
pub(super) fn schedule(rng: &mut Rng, stage: &str, start_time_of_day: i64) -> Schedule {
    use Phase::*;
    let (base, lo, hi): (&[Phase], i64, i64) = match stage {
        "lead" => (&[NoAnswer], 0, 2),
        "contacted" => (&[Contact], 1, 3),
        "qualified" => (&[Contact, Qualify], 1, 4),
        "invited" => (&[Contact, Qualify, Invite], 2, 5),
        "visited" => (&[Contact, Qualify, Invite, Visit], 2, 6),
        "signed" => (&[Contact, Qualify, Invite, Visit, Sign], 3, 7),
        "won" => (&[Contact, Qualify, Invite, Visit, Sign, Won], 3, 9),
        "lost" => (&[Contact, Qualify, Lost], 1, 5),
        _ => (&[NoAnswer, Invalid], 0, 3),
    };
    let count = rng.range(lo, hi) as usize;
    let mut steps = [Nurture; MAX_STEPS];
    let len = plan(rng, base, count, &mut steps);

    let mut offsets = [0i64; MAX_STEPS];
    let mut t = 0i64;
    for (i, phase) in steps[..len].iter().enumerate() {
        t += gap_seconds(rng, *phase, i == 0);
        // Nobody calls a customer at 3 a.m.: push night-time steps to the next morning.
        // Only ever moves forward, so the order is kept.
        let time_of_day = (start_time_of_day + t).rem_euclid(DAY);
        if time_of_day < OPEN {
            t += OPEN - time_of_day + rng.range(0, 3 * HOUR);
        } else if time_of_day >= CLOSE {
            t += DAY - time_of_day + OPEN + rng.range(0, 3 * HOUR);
        }
        offsets[i] = t;
    }
    Schedule {
        steps,
        offsets,
        len,
    }
}

/// Writes the notes of `schedule` for `c`. Every timestamp lies in `[c.created_at, now]`:
/// should the history not fit (the caller normally prevents that) it is compressed.
pub(super) fn write(
    rng: &mut Rng,
    c: &SynthCustomer,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Vec<SynthFollowup> {
    let len = schedule.len;
    let mut offsets = schedule.offsets;
    let total = schedule.duration();
    let span = (now - c.created_at).num_seconds().max(0);
    if total > span {
        for o in &mut offsets[..len] {
            *o = (i128::from(*o) * i128::from(span) / i128::from(total)) as i64;
        }
    }

    // One product and one bank per customer, so that all notes tell the same story.
    let story = Story {
        product: product(rng, c),
        bank: rng.pick(data::BANKS),
    };
    let mut out = Vec::with_capacity(len);
    for (phase, offset) in schedule.steps[..len].iter().zip(offsets) {
        let mut content = String::with_capacity(96);
        let (kind, outcome) = write_note(rng, *phase, c, &story, &mut content);
        out.push(SynthFollowup {
            at: c.created_at + TimeDelta::seconds(offset),
            kind,
            content,
            outcome,
        });
    }
    out
}

struct Story {
    product: &'static str,
    bank: &'static str,
}

/// Fits the stage's typical path to `count` steps: drops middle steps when short,
/// inserts unanswered calls (at the start) or nurture contacts (before the last step)
/// when long. The final phase always stays last. Returns the number of steps.
fn plan(rng: &mut Rng, base: &[Phase], count: usize, out: &mut [Phase; MAX_STEPS]) -> usize {
    let count = count.min(MAX_STEPS);
    if count == 0 {
        return 0;
    }
    let mut len = base.len().min(MAX_STEPS);
    out[..len].copy_from_slice(&base[..len]);
    while len > count {
        // Remove a middle step, or the first one when only two are left.
        let i = if len > 2 {
            1 + rng.below(len as u64 - 2) as usize
        } else {
            0
        };
        out.copy_within(i + 1..len, i);
        len -= 1;
    }
    while len < count {
        // Single-step paths (e.g. "contacted") may also gain a step after the last one.
        let slots = if len == 1 { 2 } else { len };
        let i = rng.below(slots as u64) as usize;
        let filler = if i == 0 {
            Phase::NoAnswer
        } else {
            Phase::Nurture
        };
        out.copy_within(i..len, i + 1);
        out[i] = filler;
        len += 1;
    }
    len
}

/// Time since the previous step (or since the lead arrived, for the first one).
fn gap_seconds(rng: &mut Rng, phase: Phase, first: bool) -> i64 {
    if first {
        // Agencies call new leads fast; some wait until the next working day.
        return if rng.chance(700) {
            rng.range(2 * MIN, 3 * HOUR)
        } else {
            rng.range(12 * HOUR, 2 * DAY)
        };
    }
    match phase {
        Phase::NoAnswer | Phase::Contact => rng.range(30 * MIN, DAY),
        Phase::Qualify | Phase::Invalid => rng.range(10 * MIN, 2 * DAY),
        Phase::Invite => rng.range(HOUR, 3 * DAY),
        Phase::Visit => rng.range(DAY, 7 * DAY),
        Phase::Sign => rng.range(2 * HOUR, 5 * DAY),
        Phase::Won => rng.range(3 * DAY, 20 * DAY),
        Phase::Lost => rng.range(DAY, 30 * DAY),
        Phase::Nurture => rng.range(DAY, 10 * DAY),
    }
}

const SECURED_PRODUCTS: &[&str] = &["抵押经营贷", "房抵贷", "经营性房抵"];
const BUSINESS_PRODUCTS: &[&str] = &["税贷", "经营贷", "发票贷"];
const UNSECURED_PRODUCTS: &[&str] = &["信用贷", "工薪贷"];

/// The product the agency would steer this customer to, chosen once per customer so
/// that all notes talk about the same thing.
fn product(rng: &mut Rng, c: &SynthCustomer) -> &'static str {
    if c.has_property {
        rng.pick(SECURED_PRODUCTS)
    } else if c.provident_fund_months >= 12 {
        "公积金信用贷"
    } else if c.occupation == "business_owner" {
        rng.pick(BUSINESS_PRODUCTS)
    } else if c.has_car {
        "车抵贷"
    } else {
        rng.pick(UNSECURED_PRODUCTS)
    }
}

fn wan(fen: i64) -> i64 {
    fen / FEN_PER_WAN
}

/// The customer's strongest asset, as a loan officer would lead with it.
fn asset_phrase(rng: &mut Rng, c: &SynthCustomer, out: &mut String) {
    // Writing to a String cannot fail, here and below.
    if c.has_property {
        match rng.below(3) {
            0 => out.push_str("客户有房产一套"),
            1 => {
                let _ = write!(
                    out,
                    "客户名下有全款房一套，估值约{}万",
                    wan(c.property_value_fen)
                );
            }
            _ => {
                let _ = write!(out, "客户有按揭房一套，已还{}年", 1 + rng.below(10));
            }
        }
    } else if c.provident_fund_months > 0 {
        let _ = write!(
            out,
            "公积金连续缴存{}个月，基数{}",
            c.provident_fund_months,
            c.provident_fund_base_fen / FEN_PER_YUAN
        );
    } else if c.has_car {
        out.push_str("客户名下有车一辆");
    } else if c.social_security_months > 0 {
        let _ = write!(out, "社保连续缴纳{}个月", c.social_security_months);
    } else {
        out.push_str("客户无房无车，只有工资收入");
    }
}

fn credit_phrase(c: &SynthCustomer, out: &mut String) {
    if c.overdue_count_2y > 0 {
        let _ = write!(out, "近两年有{}次逾期", c.overdue_count_2y);
    } else if c.inquiries_6m >= 8 {
        out.push_str("征信查询偏多");
    } else if c.inquiries_6m <= 3 {
        out.push_str("征信良好");
    } else {
        out.push_str("征信一般");
    }
}

fn occupation_phrase(c: &SynthCustomer) -> &'static str {
    match c.occupation {
        "business_owner" => "自己开公司",
        "self_employed" => "做个体生意",
        "civil_servant" => "在事业单位上班",
        "freelancer" => "自由职业",
        _ => "公司上班",
    }
}

/// A document this customer would plausibly be asked for, given what they own.
fn document(rng: &mut Rng, c: &SynthCustomer) -> &'static str {
    let mut docs = ["近6个月银行流水"; 6];
    let mut n = 1;
    for (cond, doc) in [
        (c.has_property, "房产证"),
        (c.has_car, "行驶证"),
        (
            c.company.is_some() && c.occupation != "employee",
            "营业执照",
        ),
        (c.provident_fund_months > 0, "公积金缴存证明"),
        (c.social_security_months > 0, "社保缴纳明细"),
    ] {
        if cond {
            docs[n] = doc;
            n += 1;
        }
    }
    docs[rng.below(n as u64) as usize]
}

/// Writes the note for one step and returns its (kind, outcome).
fn write_note(
    rng: &mut Rng,
    phase: Phase,
    c: &SynthCustomer,
    story: &Story,
    s: &mut String,
) -> (&'static str, &'static str) {
    let amount = wan(c.demand_amount_fen);
    let (product, bank) = (story.product, story.bank);
    let weekday = rng.pick(data::WEEKDAYS);
    let doc = document(rng, c);
    match phase {
        Phase::NoAnswer => match rng.below(5) {
            0 => {
                s.push_str("电话未接，已发短信说明来意");
                ("sms", "已发短信")
            }
            1 => {
                let time = rng.pick(data::TIMES_OF_DAY);
                let _ = write!(s, "客户说在开会，约{weekday}{time}再联系");
                ("call", "约回电")
            }
            2 => {
                s.push_str("电话关机");
                ("call", "关机")
            }
            3 => {
                s.push_str("连续两次未接，晚点再打");
                ("call", "未接通")
            }
            _ => {
                s.push_str("电话未接通");
                ("call", "未接通")
            }
        },
        Phase::Contact => match rng.below(5) {
            0 => {
                let urgency = rng.pick(data::CREDIT_URGENCY);
                let _ = write!(
                    s,
                    "首次电话沟通，客户想办{amount}万左右，用途是{}，{urgency}",
                    c.demand_purpose
                );
                ("call", "已接通")
            }
            1 => {
                let _ = write!(
                    s,
                    "客户从{}留的资料，电话接通，想了解{product}，预计需要{amount}万",
                    c.channel
                );
                ("call", "有意向")
            }
            2 => {
                s.push_str("电话联系上客户，");
                asset_phrase(rng, c, s);
                let _ = write!(
                    s,
                    "，需要{amount}万{}，希望分{}期",
                    c.demand_purpose, c.demand_term_months
                );
                ("call", "有意向")
            }
            3 => {
                let _ = write!(s, "已添加客户微信，发了{product}的产品介绍和所需资料清单");
                ("wechat", "已加微信")
            }
            _ => {
                let _ = write!(
                    s,
                    "客户微信回复在上班不方便接电话，大概需要{amount}万，晚点详聊"
                );
                ("wechat", "已加微信")
            }
        },
        Phase::Qualify => {
            let kind = if rng.chance(500) { "call" } else { "wechat" };
            let outcome = if c.grade <= 'B' || rng.chance(300) {
                "资质初审通过"
            } else {
                "需补充资料"
            };
            match rng.below(5) {
                0 => {
                    asset_phrase(rng, c, s);
                    s.push('，');
                    credit_phrase(c, s);
                    let _ = write!(s, "，初步判断可以做{product}");
                }
                1 => {
                    let _ = write!(
                        s,
                        "了解资质：{}，月收入约{}元，",
                        occupation_phrase(c),
                        c.monthly_income_fen / FEN_PER_YUAN
                    );
                    asset_phrase(rng, c, s);
                }
                2 => {
                    let _ = write!(
                        s,
                        "客户发来征信报告，近3个月查询{}次，近半年{}次，",
                        c.inquiries_3m, c.inquiries_6m
                    );
                    if c.overdue_count_2y == 0 {
                        s.push_str("无逾期记录");
                    } else {
                        let _ = write!(s, "两年内逾期{}次", c.overdue_count_2y);
                    }
                }
                3 => {
                    asset_phrase(rng, c, s);
                    let debt = wan(c.existing_debt_fen);
                    if debt > 0 {
                        let _ = write!(s, "，名下负债约{debt}万");
                    } else {
                        s.push_str("，名下无负债");
                    }
                    let _ = write!(s, "，可以走{bank}的{product}");
                }
                _ => {
                    let _ = write!(s, "核实了客户{doc}，");
                    credit_phrase(c, s);
                    let estimate = (amount * rng.range(60, 121) / 100).max(1);
                    let _ = write!(s, "，额度预估{estimate}万");
                }
            }
            (kind, outcome)
        }
        Phase::Invite => {
            let kind = if rng.chance(600) { "call" } else { "wechat" };
            match rng.below(4) {
                0 => {
                    asset_phrase(rng, c, s);
                    let _ = write!(s, "，想做{product}，已约{weekday}上门");
                }
                1 => {
                    let time = rng.pick(data::TIMES_OF_DAY);
                    let _ = write!(
                        s,
                        "约客户{weekday}{time}来公司面谈，提醒带身份证、户口本和{doc}"
                    );
                }
                2 => {
                    let _ = write!(
                        s,
                        "客户答应{weekday}过来，已发公司定位，面谈{bank}{product}方案"
                    );
                }
                _ => {
                    let _ = write!(s, "客户在外地出差，约好{weekday}回来后到公司签资料");
                }
            }
            (kind, "已约上门")
        }
        Phase::Visit => {
            match rng.below(4) {
                0 => {
                    let _ = write!(s, "客户到公司面谈，核对了{doc}，匹配{bank}{product}");
                }
                1 => match &c.company {
                    Some(company) => {
                        let staff = 3 + rng.below(60);
                        let _ = write!(
                            s,
                            "上门拜访客户公司（{company}），经营正常，员工约{staff}人"
                        );
                    }
                    None => {
                        let _ = write!(s, "到客户家里面谈，核实了{doc}，家庭情况稳定");
                    }
                },
                2 => {
                    let _ = write!(s, "面谈后客户对{bank}的利率比较满意，准备提交资料");
                }
                _ => {
                    let _ = write!(
                        s,
                        "客户和家属一起来的，详细讲了{product}的流程和费用，客户回去考虑"
                    );
                }
            }
            ("visit", "已面谈")
        }
        Phase::Sign => {
            let kind = if rng.chance(700) { "visit" } else { "note" };
            match rng.below(3) {
                0 => {
                    let fee = rng.range(1, 6);
                    let _ = write!(s, "客户签署服务协议，服务费{fee}%，已提交{bank}审批");
                }
                1 => {
                    let _ = write!(s, "已签约，资料齐全，{bank}预审通过，等待面签");
                }
                _ => {
                    let _ = write!(s, "签约完成，收取资料：{doc}，今天进件{bank}");
                }
            }
            (kind, "已签约")
        }
        Phase::Won => {
            let kind = if rng.chance(600) { "note" } else { "call" };
            let approved = (amount * rng.range(60, 101) / 100).max(1);
            match rng.below(3) {
                0 => {
                    let _ = write!(
                        s,
                        "{bank}审批通过，放款{approved}万，期限{}个月",
                        c.demand_term_months
                    );
                }
                1 => {
                    let _ = write!(s, "客户已到账{approved}万，服务费已结清");
                }
                _ => {
                    // Rates as basis points, to keep money-adjacent numbers integral.
                    let bp = if c.has_property {
                        rng.range(280, 600)
                    } else {
                        rng.range(600, 1800)
                    };
                    let _ = write!(
                        s,
                        "放款成功，{approved}万，年化{}.{:02}%，客户很满意，答应介绍朋友",
                        bp / 100,
                        bp % 100
                    );
                }
            }
            (kind, "已放款")
        }
        Phase::Lost => {
            let kind = if rng.chance(600) { "call" } else { "note" };
            let outcome = match rng.below(5) {
                0 => {
                    s.push_str("客户已在别家办好了，不再需要");
                    "已在别家办理"
                }
                1 => {
                    let reason = rng.pick(data::REJECT_REASONS);
                    let _ = write!(s, "{bank}审批被拒，原因：{reason}，客户暂不考虑其他方案");
                    "资质不符"
                }
                2 => {
                    s.push_str("客户嫌服务费高，放弃办理");
                    "客户流失"
                }
                3 => {
                    s.push_str("多次联系未回复，暂时放弃");
                    "客户流失"
                }
                _ => {
                    s.push_str("客户家里人不同意贷款，先不办了");
                    "客户流失"
                }
            };
            (kind, outcome)
        }
        Phase::Invalid => {
            let kind = if rng.chance(700) { "call" } else { "note" };
            let outcome = match rng.below(5) {
                0 => {
                    s.push_str(if rng.chance(500) {
                        "空号"
                    } else {
                        "号码已停机"
                    });
                    "空号"
                }
                1 => {
                    s.push_str("客户称没有留过资料，无贷款需求");
                    "无贷款需求"
                }
                2 => {
                    s.push_str("同行冒充客户咨询，非真实客户");
                    "非本人"
                }
                3 => {
                    s.push_str("客户只是想了解下利率，暂无需求");
                    "无贷款需求"
                }
                _ => {
                    s.push_str("接电话的不是本人，说打错了");
                    "非本人"
                }
            };
            (kind, outcome)
        }
        Phase::Nurture => match rng.below(5) {
            0 => {
                let _ = write!(s, "微信跟进，客户说还在考虑，{weekday}再联系");
                ("wechat", "考虑中")
            }
            1 => {
                let _ = write!(s, "给客户发了{bank}最新的利率政策");
                ("wechat", "继续跟进")
            }
            2 => {
                let wait = rng.pick(&[
                    "年终奖发放",
                    "公积金满12个月",
                    "征信查询记录少一些",
                    "房产证下来",
                ]);
                let _ = write!(s, "客户在等{wait}，月底再跟");
                ("call", "继续跟进")
            }
            3 => {
                let _ = write!(s, "短信提醒客户补充{doc}");
                ("sms", "继续跟进")
            }
            _ => {
                s.push_str("客户问服务费能不能再便宜点，已请示经理");
                ("note", "考虑中")
            }
        },
    }
}
