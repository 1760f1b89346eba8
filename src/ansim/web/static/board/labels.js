// Words a dispatcher reads, in Korean and English.
import { t } from "../common/i18n.js";

export const statusLabel = (status) => ({
  received: t("접수", "received"),
  dispatched: t("출동 지령", "dispatched"),
  verifying: t("확인 중", "verifying"),
  confirmed: t("위험 확인", "danger confirmed"),
  false_alarm: t("오인 신고", "false alarm"),
  cancelled: t("취소됨", "cancelled"),
  on_scene: t("현장 도착", "on scene"),
  resolved: t("처리 완료", "resolved"),
  closed: t("종결", "closed"),
}[status] ?? status);

export const channelLabel = (channel) => ({
  one_touch: t("원터치 SOS", "one-touch SOS"),
  app: t("112 앱", "112 app"),
  terminal: t("U-안심 단말", "U-안심 terminal"),
}[channel] ?? channel);

export const methodLabel = (method) => ({
  gnss: "GPS", wifi: "Wi-Fi", cell: t("기지국", "cell"), aml: "AML", manual: t("수동", "manual"), unknown: t("미상", "unknown"),
}[method] ?? method);

export const unitStatusLabel = (status) => ({
  available: t("대기", "available"),
  ordered: t("지령 수신 대기", "ordered"),
  en_route: t("출동 중", "en route"),
  on_scene: t("현장", "on scene"),
  busy: t("다른 업무", "busy"),
  off_duty: t("근무 외", "off duty"),
}[status] ?? status);

export const codeLabel = (code) => t(`코드 ${code}`, `code ${code}`);

export function describeEta(seconds) {
  if (seconds === null || seconds === undefined) return t("도달 불가", "no route");
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return t(`${minutes}분 ${rest}초`, `${minutes} min ${rest} s`);
}

export const timelineLabel = (kind) => ({
  received: t("신고 접수", "SOS received"),
  sos_repeated: t("반복 신고", "SOS repeated"),
  unit_ordered: t("출동 지령", "unit ordered"),
  status_changed: t("상태 변경", "status changed"),
  priority_changed: t("코드 변경", "priority changed"),
  assignment_changed: t("출동 부대 상태", "unit progress"),
}[kind] ?? kind);

export const assignmentLabel = (state) => ({
  ordered: t("지령 (응답 대기)", "ordered (awaiting ack)"),
  acknowledged: t("수신 확인", "acknowledged"),
  en_route: t("출동 중", "en route"),
  on_scene: t("현장 도착", "on scene"),
  cleared: t("종료", "cleared"),
  declined: t("불응/재지령", "declined"),
}[state] ?? state);
