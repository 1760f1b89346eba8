import { toast } from '../common/ui.js';
import { label } from '../common/labels.js';

// Board section: guardian verification — call buttons (tel:), call outcomes, stand-down decisions, deliveries.
// Contract: sections.js lists `{id, render(container, detail, ctx)}`; ctx.api(path, options) returns parsed JSON.

const STATE = {
  pending: ['확인 중', 'verifying'],
  danger: ['위험 확인 (코드 0)', 'danger confirmed (code 0)'],
  mistake: ['보호자: 오작동 — 철수 결정 필요', 'guardian: mistake — stand-down decision needed'],
  stood_down: ['철수 결정됨', 'stood down'],
  continued: ['출동 유지 결정', 'units kept going'],
};
const DELIVERY = {
  queued: ['대기', 'queued'],
  sending: ['발송 중', 'sending'],
  sent: ['발송됨', 'sent'],
  delivered: ['전달됨', 'delivered'],
  failed: ['실패·재시도', 'failed, retrying'],
  dead: ['전달 불가', 'undeliverable'],
};
const CHANNEL = {
  sms: ['SMS', 'SMS'],
  email: ['메일', 'E-mail'],
  terminal: ['단말기', 'Terminal'],
};
const OUTCOMES = [
  ['safe', '함께 있음 / 오작동', 'with them / mistake'],
  ['danger', '연락 불가 / 위험', 'cannot reach / danger'],
  ['no_answer', '받지 않음', 'no answer'],
];

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'onclick') node.addEventListener('click', value);
    else if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

// After a change the whole detail panel is redrawn (timeline included) when the board offers it.
async function post(ctx, path, body, draw) {
  try {
    const fresh = await ctx.api(path, { method: 'POST', body });
    if (ctx.refresh) ctx.refresh();
    else draw(fresh);
  } catch (failure) {
    toast(failure.message, 'bad');
  }
}

function deliveryLine(ctx, delivery, label = '') {
  const [ko, en] = DELIVERY[delivery.status] || [delivery.status, delivery.status];
  const [channelKo, channelEn] = CHANNEL[delivery.channel] || [delivery.channel, delivery.channel];
  const text = `${ctx.t(channelKo, channelEn)} ${ctx.t(ko, en)}` +
    (delivery.attempts > 1 ? ` ×${delivery.attempts}` : '') +
    (delivery.last_error && delivery.status !== 'delivered' ? ` — ${delivery.last_error}` : '');
  return el('li', { class: `delivery ${delivery.status}`, 'data-status': delivery.status }, label ? `${label}: ${text}` : text);
}

function render(container, detail, ctx) {
  const base = `/api/v1/incidents/${encodeURIComponent(detail.incident.id)}/verification`;
  const draw = (v) => {
    container.replaceChildren();
    container.append(el('h3', {}, ctx.t('보호자 확인', 'Guardian verification')));
    if (!v.started) {
      container.append(
        el('p', {}, ctx.t('아직 시작되지 않음 (출동 지령 후 시작)', 'not started (starts when a unit is ordered)')),
        el('button', { type: 'button', onclick: () => post(ctx, base, undefined, draw) }, ctx.t('확인 시작', 'Start verification')),
      );
    } else {
      const [ko, en] = STATE[v.state] || [v.state, v.state];
      const due = v.state === 'pending' ? ` · ${ctx.t('응답 기한', 'answer due')} ${new Date(v.due_at).toLocaleTimeString()}` : '';
      container.append(el('p', { class: `verification-state ${v.state}`, 'data-state': v.state }, ctx.t(ko, en) + due));
      if (v.reason) container.append(el('p', { class: 'verification-reason' }, v.reason));
    }
    if (v.stand_down_requested) {
      container.append(
        el('p', { class: 'stand-down', role: 'alert' }, ctx.t('보호자가 오작동이라고 답했습니다. 출동 유지 여부를 결정하세요 (자동 철수 없음).', 'A guardian says it was a mistake. Decide whether units stand down (never automatic).')),
        el('button', { type: 'button', onclick: () => post(ctx, `${base}/decision`, { decision: 'stand_down' }, draw) }, ctx.t('철수 (오인 신고)', 'Stand down (false alarm)')),
        el('button', { type: 'button', onclick: () => post(ctx, `${base}/decision`, { decision: 'continue' }, draw) }, ctx.t('출동 유지', 'Keep units going')),
      );
    }
    const list = el('ul', { class: 'guardians' });
    for (const guardian of v.guardians) {
      const outcomes = OUTCOMES.map(([value, ko, en]) =>
        el('button', {
          type: 'button',
          'data-outcome': value,
          onclick: () => post(ctx, `${base}/calls`, { guardian_id: guardian.id, outcome: value }, draw),
        }, ctx.t(ko, en)));
      const answers = guardian.answers.map((a) =>
        el('li', {}, `${new Date(a.at).toLocaleTimeString()} ${a.source === 'guardian_page' ? ctx.t('링크 응답', 'link answer') : ctx.t('통화', 'call')}: ${a.answer}`));
      list.append(el('li', { class: guardian.unreachable ? 'guardian unreachable' : 'guardian' },
        el('a', { href: guardian.tel }, `☎ ${guardian.name} (${guardian.relation}) ${guardian.phone}`),
        guardian.unreachable ? el('strong', { class: 'unreachable' }, ` ${ctx.t('메시지 전달 불가', 'could not be reached')}`) : '',
        el('div', { class: 'outcomes' }, ...outcomes),
        el('ul', { class: 'answers' }, ...answers),
        el('ul', { class: 'deliveries' }, ...guardian.deliveries.map((d) => deliveryLine(ctx, d))),
      ));
    }
    container.append(list);
    if (v.other_deliveries.length) {
      container.append(
        el('h4', {}, ctx.t('배움터지킴이 알림', 'School guard alerts')),
        el('ul', { class: 'deliveries' }, ...v.other_deliveries.map((d) => deliveryLine(ctx, d))),
      );
    }
    if (v.wearer_deliveries && v.wearer_deliveries.length) {
      container.append(
        el('h4', {}, ctx.t('대상자 단말기 무음 알림', "Silent notices on the person's terminal")),
        el('ul', { class: 'deliveries wearer' }, ...v.wearer_deliveries.map((d) =>
          deliveryLine(ctx, d, d.template === 'help_coming' ? ctx.t('도움이 오고 있음', 'help is coming') : ctx.t('출동 종료', 'stood down')))),
      );
    }
  };
  return ctx.api(base).then(draw);
}

export default { id: 'verification', render };
