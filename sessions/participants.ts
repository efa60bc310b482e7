/**
 * Who is who in a session's room. The API mints the patient's token with this identity and the
 * agent listens to this identity only, so both sides must take it from here.
 */
export const PATIENT_IDENTITY_PREFIX = 'patient-';

export function patientIdentity(sessionId: string): string {
  return `${PATIENT_IDENTITY_PREFIX}${sessionId}`;
}
