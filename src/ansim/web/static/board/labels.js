// Words a dispatcher reads, in Korean and English.
import { t } from "../common/i18n.js";
import { label } from "../common/labels.js";

export const statusLabel = (status) => label("IncidentStatus", status);
export const channelLabel = (channel) => label("Channel", channel);
export const methodLabel = (method) => label("FixMethod", method);
export const unitStatusLabel = (status) => label("UnitStatus", status);
export const roleLabel = (role) => label("Role", role);

export const codeLabel = (code) => t(`코드 ${code}`, `code ${code}`);

export function describeEta(seconds) {
  if (seconds === null || seconds === undefined) return t("도달 불가", "no route");
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return t(`${minutes}분 ${rest}초`, `${minutes} min ${rest} s`);
}

export const timelineLabel = (kind) => label("TimelineKind", kind);

export const assignmentLabel = (state) => label("AssignmentState", state);
