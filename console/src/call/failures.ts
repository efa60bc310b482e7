/**
 * Everything that can stop a call, as one small set of kinds, each with the plain words a patient
 * reads. Pages branch on `kind`, never on message text. `retry` says whether pressing "Try again"
 * can help (a used link never comes back; a network blip may).
 */
export type CallFailureKind =
  | 'link_gone'
  | 'link_unknown'
  | 'call_over'
  | 'microphone_denied'
  | 'microphone_missing'
  | 'network'
  | 'agent_absent'
  | 'connection_lost';

export class CallFailure extends Error {
  constructor(
    readonly kind: CallFailureKind,
    options?: { cause?: unknown },
  ) {
    super(FAILURE_TEXT[kind].title, options);
    this.name = 'CallFailure';
  }
  get retry(): boolean {
    return FAILURE_TEXT[this.kind].retry;
  }
}

export interface FailureText {
  title: string;
  /** What to do about it, in a sentence or two. */
  help: string;
  retry: boolean;
}

export const FAILURE_TEXT: Readonly<Record<CallFailureKind, FailureText>> = {
  link_gone: {
    title: 'This link has expired or was already used',
    help: 'Each link works once. Please ask your care team to send you a new one.',
    retry: false,
  },
  link_unknown: {
    title: 'This link does not work',
    help: 'Check that you opened the whole link from your message, or ask your care team for a new one.',
    retry: false,
  },
  call_over: {
    title: 'This call has already ended',
    help: 'If you still need to talk to us, please ask your care team for a new link.',
    retry: false,
  },
  microphone_denied: {
    title: "We can't hear your microphone",
    help: 'Your browser is not letting this page use the microphone. Tap the lock or settings icon next to the web address, set Microphone to Allow, then press Try again.',
    retry: true,
  },
  microphone_missing: {
    title: "We can't hear your microphone",
    help: 'We could not find a microphone that works. Check that one is connected and that no other app is using it, then press Try again.',
    retry: true,
  },
  network: {
    title: 'We could not connect the call',
    help: 'Check that you are online (Wi-Fi or mobile data), then press Try again.',
    retry: true,
  },
  agent_absent: {
    title: 'The assistant did not join the call',
    help: 'This can happen when we are busy. Please press Try again in a minute, or call your care team.',
    retry: true,
  },
  connection_lost: {
    title: 'The call was cut off',
    help: 'The connection dropped. Check that you are online, then press Try again.',
    retry: true,
  },
};

/** How a call that did not fail ended. */
export type CallEnding = 'you_hung_up' | 'assistant_finished' | 'clinic_ended';

export const ENDING_TEXT: Readonly<Record<CallEnding, { title: string; help: string }>> = {
  you_hung_up: {
    title: 'You ended the call',
    help: 'Thank you. You can close this page now.',
  },
  assistant_finished: {
    title: 'The call is over',
    help: 'Thank you for your time. You can close this page now.',
  },
  clinic_ended: {
    title: 'Your care team ended the call',
    help: 'If you still need to talk to us, your care team will be in touch, or you can call them.',
  },
};
