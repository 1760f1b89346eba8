// Every status word a page shows, in Korean and English: one table per domain enum (src/ansim/domain).
// tests/test_consoles_i18n.py checks that every value of every StrEnum has both words here, and
// that no page shows a raw value. A missing word is reported on the console and shown marked.
import { currentLang } from "./i18n.js";

export const LABELS = {
  IncidentStatus: {
    received: ["접수", "received"], dispatched: ["출동 지령", "dispatched"], verifying: ["확인 중", "verifying"],
    confirmed: ["위험 확인", "danger confirmed"], false_alarm: ["오인 신고", "false alarm"], cancelled: ["취소됨", "cancelled"],
    on_scene: ["현장 도착", "on scene"], resolved: ["처리 완료", "resolved"], closed: ["종결", "closed"],
  },
  Channel: { one_touch: ["원터치 SOS", "one-touch SOS"], app: ["112 앱", "112 app"], terminal: ["U-안심 단말", "U-안심 terminal"] },
  FixMethod: { gnss: ["GPS", "GPS"], wifi: ["Wi-Fi", "Wi-Fi"], cell: ["기지국", "cell"], aml: ["AML", "AML"], manual: ["수동", "manual"], unknown: ["미상", "unknown"] },
  UnitStatus: {
    available: ["대기", "available"], ordered: ["지령 수신 대기", "ordered"], en_route: ["출동 중", "en route"],
    on_scene: ["현장", "on scene"], busy: ["다른 업무", "busy"], off_duty: ["근무 외", "off duty"],
  },
  AssignmentState: {
    ordered: ["지령 (응답 대기)", "ordered (awaiting ack)"], acknowledged: ["수신 확인", "acknowledged"],
    en_route: ["출동 중", "en route"], on_scene: ["현장 도착", "on scene"], cleared: ["종료", "cleared"],
    declined: ["불응", "declined"], timed_out: ["응답 시간 초과", "ack timed out"], preempted: ["재배정됨", "pre-empted"],
    withdrawn: ["지령 철회", "order withdrawn"],
  },
  StationKind: { police_station: ["경찰서", "police station"], district_unit: ["지구대", "district unit"], police_box: ["파출소", "police box"] },
  Role: {
    dispatcher: ["상황요원", "dispatcher"], supervisor: ["상황팀장", "supervisor"], officer: ["경찰관", "officer"],
    cctv_operator: ["CCTV 관제요원", "CCTV operator"], admin: ["관리자", "administrator"],
  },
  DeliveryChannel: { sms: ["SMS", "SMS"], email: ["메일", "e-mail"], terminal: ["단말기", "terminal"] },
  RecipientKind: { guardian: ["보호자", "guardian"], school_guard: ["배움터지킴이", "school guard"], wearer: ["대상자 단말", "wearer"], app_user: ["앱 사용자", "app user"] },
  UnitKind: { patrol_car: ["순찰차", "patrol car"], foot: ["도보 순찰", "foot patrol"] },
  Sequencing: { new: ["새 메시지", "new message"], duplicate: ["중복 메시지", "duplicate"], late_sos: ["늦게 온 SOS", "late SOS"] },
  DeliveryStatus: {
    queued: ["대기", "queued"], sending: ["발송 중", "sending"], sent: ["발송됨", "sent"], delivered: ["전달됨", "delivered"],
    failed: ["실패·재시도", "failed, retrying"], dead: ["전달 불가", "undeliverable"],
  },
  Outcome: { accepted: ["반영", "accepted"], gated: ["이상값 제외", "left out (outlier)"], refused: ["거부", "refused"], duplicate: ["중복", "duplicate"] },
  Answer: { safe: ["함께 있음 / 오작동", "with them / mistake"], danger: ["연락 불가 / 위험", "cannot reach / danger"], no_answer: ["받지 않음", "no answer"] },
  AnswerSource: { guardian_page: ["링크 응답", "link answer"], dispatcher_call: ["통화", "call"] },
  VerificationState: {
    pending: ["확인 중", "verifying"], danger: ["위험 확인 (코드 0)", "danger confirmed (code 0)"],
    mistake: ["보호자: 오작동 — 철수 결정 필요", "guardian: mistake — stand-down decision needed"],
    stood_down: ["철수 결정됨", "stood down"], continued: ["출동 유지 결정", "units kept going"],
  },
  // Not a domain enum: the kinds of incident timeline entries the services write.
  TimelineKind: {
    received: ["신고 접수", "SOS received"], sos_repeated: ["반복 신고", "SOS repeated"], unit_ordered: ["출동 지령", "unit ordered"],
    status_changed: ["상태 변경", "status changed"], priority_changed: ["코드 변경", "code changed"],
    assignment_changed: ["출동 부대 상태", "unit progress"], requeued: ["재지령 대기", "back in the queue"],
    ack_timed_out: ["지령 응답 시간 초과", "order not acknowledged in time"], unit_preempted: ["부대 재배정", "unit pre-empted"],
    camera_aimed: ["카메라 방향 전환", "camera aimed"], person_seen: ["CCTV 대상자 발견", "seen on CCTV"],
    clip_requested: ["영상 보존 요청", "clip requested"], verification_started: ["보호자 확인 시작", "verification started"],
    verification_decided: ["보호자 확인 결정", "verification decided"], escalated: ["코드 0 격상", "escalated to code 0"],
    note_added: ["지령 메모", "dispatcher note"], escalation: ["코드 0 격상", "escalated to code 0"],
    notification_delivered: ["알림 전달됨", "message delivered"], notification_dead: ["알림 전달 불가", "message undeliverable"],
    guardian_answered: ["보호자 링크 응답", "guardian answered on the page"], guardian_called: ["보호자 통화 결과", "guardian call outcome"],
    guardian_unreachable: ["보호자 연락 불가", "guardian unreachable"], duress: ["강압 취소 (비상 PIN)", "duress cancel (duress PIN)"],
    stand_down_requested: ["철수 결정 요청", "stand-down decision asked"], terminal_lost: ["단말기 연결 끊김", "terminal lost"],
    alerts_queued: ["보호자·학교 보안관 알림 발송 대기", "guardians and school guard alerted"],
    cancel_refused: ["취소 거부 (PIN 불일치)", "cancel refused (wrong PIN)"],
    intake_flagged: ["접수 참고 사항", "intake notes"],
    personal_data_purged: ["개인정보 보존기간 만료 삭제", "personal data purged (retention)"],
  },
  EscalationCause: {
    guardian_danger: ["보호자 확인: 위험", "guardian says danger"],
    no_answer: ["보호자 무응답", "guardians did not answer"],
    duress: ["강요 PIN 입력 (강제 취소 의심)", "duress PIN entered (forced to cancel)"],
    dispatcher: ["상황요원 판단", "dispatcher's decision"],
  },
  DispatcherDecision: { stand_down: ["철수 (오인 신고)", "stand down (false alarm)"], continue: ["출동 유지", "keep units going"] },
};

// The word for `value` of domain enum `kind` in the current language.
export function label(kind, value, lang = currentLang()) {
  const pair = LABELS[kind]?.[value];
  if (!pair) {
    console.error(`missing translation: ${kind}.${value}`);
    return `⟦${value}⟧`;
  }
  return lang === "ko" ? pair[0] : pair[1];
}

// The one uncertainty figure every console shows: the radius of the circle with the 95 % region's
// area (for a car's road-shaped region too) as stored at the last fix, grown since at the rate
// stored with it (`growth_mps`: a car's 60 km/h bound, or walking pace; older payloads lack it).
// For a car this over-states what the region computed now would say (docs/location.md).
export const WALK_MPS = 1.4;
export function uncertaintyNow(location, now = Date.now()) {
  if (!location) return null;
  const base = location.area_m2 ? Math.sqrt(location.area_m2 / Math.PI) : location.radius_m;
  const age = Math.max(0, (now - Date.parse(location.located_at)) / 1000);
  return { radius_m: base + (location.growth_mps ?? WALK_MPS) * age, age_s: age };
}

// Guardians' relations are stored as entered; the usual English words are translated.
const RELATIONS = { mother: ["어머니", "mother"], father: ["아버지", "father"], grandmother: ["할머니", "grandmother"], grandfather: ["할아버지", "grandfather"], guardian: ["보호자", "guardian"] };
export function relationWord(relation, lang = currentLang()) {
  const pair = RELATIONS[relation];
  if (!pair) return relation;
  return lang === "ko" ? pair[0] : pair[1];
}
