import { toast } from '../common/ui.js';
import { label, relationWord } from '../common/labels.js';

// Board section: guardian verification — call buttons (tel:), call outcomes, stand-down decisions, deliveries.
// Contract: sections.js lists `{id, render(container, detail, ctx)}`; ctx.api(path, options) returns parsed JSON.

// A guardian call's outcomes are the domain's answers (common/labels.js).
const OUTCOMES = ['safe', 'danger', 'no_answer'];

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

function deliveryLine(ctx, delivery, prefix = '') {
  const text = `${label('DeliveryChannel', delivery.channel)} ${label('DeliveryStatus', delivery.status)}` +
    (delivery.attempts > 1 ? ` ×${delivery.attempts}` : '');
  const item = el('li', { class: `delivery ${delivery.status}`, 'data-status': delivery.status }, prefix ? `${prefix}: ${text}` : text);
  // The gateway's own error text is shown as it came (data-raw: not a word of ours to translate).
  if (delivery.last_error && delivery.status !== 'delivered') item.append(' — ', el('span', { 'data-raw': '' }, delivery.last_error));
  return item;
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
      const due = v.state === 'pending' ? ` · ${ctx.t('응답 기한', 'answer due')} ${new Date(v.due_at).toLocaleTimeString(ctx.lang)}` : '';
      container.append(el('p', { class: `verification-state ${v.state}`, 'data-state': v.state }, label('VerificationState', v.state) + due));
      if (v.reason) container.append(el('p', { class: 'verification-reason', 'data-raw': '' }, v.reason));
    }
    if (v.stand_down_requested) {
      container.append(
        el('p', { class: 'stand-down', role: 'alert' }, ctx.t('보호자가 오작동이라고 답했습니다. 출동 유지 여부를 결정하세요 (자동 철수 없음).', 'A guardian says it was a mistake. Decide whether units stand down (never automatic).')),
        el('button', { type: 'button', onclick: () => post(ctx, `${base}/decision`, { decision: 'stand_down' }, draw) }, label('DispatcherDecision', 'stand_down')),
        el('button', { type: 'button', onclick: () => post(ctx, `${base}/decision`, { decision: 'continue' }, draw) }, label('DispatcherDecision', 'continue')),
      );
    }
    const list = el('ul', { class: 'guardians' });
    for (const guardian of v.guardians) {
      const outcomes = OUTCOMES.map((value) =>
        el('button', {
          type: 'button',
          'data-outcome': value,
          onclick: () => post(ctx, `${base}/calls`, { guardian_id: guardian.id, outcome: value }, draw),
        }, label('Answer', value)));
      const answers = guardian.answers.map((a) =>
        el('li', {}, `${new Date(a.at).toLocaleTimeString(ctx.lang)} ${label('AnswerSource', a.source)}: ${label('Answer', a.answer)}`));
      list.append(el('li', { class: guardian.unreachable ? 'guardian unreachable' : 'guardian' },
        el('a', { href: guardian.tel }, `☎ ${guardian.name} (${relationWord(guardian.relation)}) ${guardian.phone}`),
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
