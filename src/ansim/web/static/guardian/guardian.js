// The guardian page: live location of one person for one incident, and one answer per link.
import * as L from '/vendor/leaflet/leaflet-src.esm.js';
import { currentLang, langToggle } from "/static/common/i18n.js";
import { applyTheme } from "/static/common/ui.js";
import { uncertaintyNow } from "/static/common/labels.js";

// The theme this browser chose, else the system's (common/ui.js).
applyTheme();

const STRINGS = {
  title: ['112 안심 서비스', '112 SOS service'],
  loading: ['불러오는 중…', 'Loading…'],
  active: ['{name} 님의 SOS로 경찰이 출동했습니다.', 'Police are on the way after an SOS from {name}.'],
  called_off: ['{name} 님의 신고는 취소되었습니다.', 'The SOS from {name} was called off.'],
  ended: ['{name} 님의 신고 처리가 끝났습니다.', 'The case of {name} is closed.'],
  ask: ['지금 상황을 알려 주세요. 한 번만 답할 수 있습니다.', 'Tell us what you know. You can answer once.'],
  safe: ['함께 있어요 / 오작동이에요', 'I am with them / it was a mistake'],
  danger: ['연락이 안 돼요 / 위험해요', 'I cannot reach them / danger'],
  send: ['보내기', 'Send'],
  back: ['취소', 'Back'],
  confirm_safe: ['"함께 있어요 / 오작동이에요"를 보낼까요?', 'Send "I am with them / it was a mistake"?'],
  confirm_danger: ['"연락이 안 돼요 / 위험해요"를 보낼까요?', 'Send "I cannot reach them / danger"?'],
  answered_safe: ['답변을 받았습니다: 함께 있음 / 오작동. 경찰이 확인합니다.', 'Answer received: with them / a mistake. The police will check.'],
  answered_danger: ['답변을 받았습니다: 위험. 경찰이 긴급 대응합니다.', 'Answer received: danger. The police are treating it as an emergency.'],
  where: ['현재 위치 정확도 약 {r} m · 마지막 측위 {t}', 'Accurate to about {r} m now · last fix at {t}'],
  no_location: ['아직 위치를 모릅니다.', 'No location yet.'],
  watch_only: ['학교 보안관(배움터지킴이)용 위치 화면입니다.', 'Location view for the school guard.'],
  note: ['위급하면 바로 112에 전화하세요.', 'In an emergency, call 112 now.'],
  failed: ['보내지 못했습니다: {e}', 'Could not send: {e}'],
  gone: ['이 링크는 더 이상 사용할 수 없습니다. 걱정되시면 112에 전화하세요.', 'This link can no longer be used. If you are worried, call 112.'],
};

const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const api = `/api/v1/guardian/${encodeURIComponent(token)}`;
let view = null;
let pending = null;
let map = null;
let circle = null;
let dot = null;

const $ = (id) => document.getElementById(id);
// The page's words are keyed (STRINGS, data-t); the language is the one common/i18n.js keeps.
const t = (key, values = {}) =>
  STRINGS[key][currentLang() === 'ko' ? 0 : 1].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));

function render() {
  document.documentElement.lang = currentLang();
  for (const element of document.querySelectorAll('[data-t]')) element.textContent = t(element.dataset.t);
  if (!view) return;
  const situation = $('situation');
  situation.textContent = t(view.situation, { name: view.person_name });
  situation.className = `situation ${view.situation}`;
  situation.dataset.situation = view.situation;
  $('ask').hidden = !view.can_answer || pending !== null;
  $('confirm').hidden = pending === null;
  if (pending) $('confirm-text').textContent = t(`confirm_${pending}`);
  $('answered').hidden = !view.answered;
  if (view.answered) $('answered').textContent = t(`answered_${view.answered}`);
  if (view.recipient_kind === 'school_guard') {
    $('answered').hidden = false;
    $('answered').textContent = t('watch_only');
  }
  drawLocation();
}

function drawLocation() {
  const where = $('where');
  if (!view.location) {
    where.textContent = t('no_location');
    $('place').textContent = '';
    return;
  }
  const { lat, lon, located_at: at } = view.location;
  // The single figure every console shows: the region's equal-area radius grown to now at the
  // rate stored with it (a car's bound or walking pace; common/labels.js).
  const radius = uncertaintyNow(view.location).radius_m;
  const time = new Date(at).toLocaleTimeString(currentLang() === 'ko' ? 'ko-KR' : 'en-GB');
  where.textContent = t('where', { r: Math.round(radius), t: time });
  const place = view.location.place;
  $('place').textContent = place ? place[currentLang() === 'ko' ? 'ko' : 'en'] : '';
  if (!map) return;
  if (!circle) {
    circle = L.circle([lat, lon], { radius, color: '#c62828', weight: 2, fillOpacity: 0.15 }).addTo(map);
    dot = L.circleMarker([lat, lon], { radius: 6, color: '#c62828', fillOpacity: 1 }).addTo(map);
    map.fitBounds(circle.getBounds(), { maxZoom: 17, padding: [20, 20] });
  } else {
    circle.setLatLng([lat, lon]).setRadius(radius);
    dot.setLatLng([lat, lon]);
  }
  $('map').dataset.radius = String(radius);
}

function showError(message) {
  $('error').hidden = false;
  $('error').textContent = message;
}

async function refresh() {
  const response = await fetch(api, { cache: 'no-store' });
  if (response.status === 403 || response.status === 404 || response.status === 410) {
    $('ask').hidden = true;
    showError(t('gone'));
    return false;
  }
  if (!response.ok) return true;
  view = await response.json();
  render();
  return true;
}

async function send() {
  const answer = pending;
  pending = null;
  const response = await fetch(`${api}/answer`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ answer }),
  });
  if (response.ok) {
    view = await response.json();
    $('error').hidden = true;
  } else {
    const body = await response.json().catch(() => ({}));
    showError(t('failed', { e: body.detail || response.status }));
    await refresh();
  }
  render();
}

async function start() {
  try {
    const config = await (await fetch('/config.json')).json();
    map = L.map('map', { zoomControl: true, attributionControl: Boolean(config.tile_url) });
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
    }
    map.setView([37.5665, 126.978], 15);
  } catch {
    map = null;
  }
  langToggle($('lang'), render);
  $('safe').addEventListener('click', () => { pending = 'safe'; render(); });
  $('danger').addEventListener('click', () => { pending = 'danger'; render(); });
  $('confirm-no').addEventListener('click', () => { pending = null; render(); });
  $('confirm-yes').addEventListener('click', send);
  render();
  if (await refresh()) {
    const timer = setInterval(async () => {
      if (!(await refresh())) clearInterval(timer);
    }, 5000);
    // Between answers the figure keeps growing (a car's by up to 17 m a second).
    setInterval(() => { if (view) drawLocation(); }, 1000);
  }
}

start();
